"""The ``hpablate`` command line: ``hpablate run``, ``hpablate analyze``, ``hpablate compare``.

Each sub-command lives in its own module exposing ``add_parser(subparsers)`` (which registers the
sub-command and sets ``func``) so the commands stay small and independent. Exit codes follow the
``optuna`` CLI: 0 success, 2 for user errors (bad input), 1 for anything else.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from hpablate.errors import HpablateError

_SUBCOMMAND_MODULES = ("hpablate.cli._run", "hpablate.cli._analyze", "hpablate.cli._compare")

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USER_ERROR = 2


class _ArgumentParser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2, like argparse but shorter
        self.exit(EXIT_USER_ERROR, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    """Build the top-level parser with every available sub-command registered."""
    from hpablate import __version__

    parser = _ArgumentParser(
        prog="hpablate", description="Hyperparameter ablation and sensitivity studies on Optuna."
    )
    parser.add_argument("--version", action="version", version=f"hpablate {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_ArgumentParser)
    for module_name in _SUBCOMMAND_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        module.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``hpablate`` console script; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help(sys.stderr)
        return EXIT_USER_ERROR
    try:
        return int(args.func(args) or EXIT_OK)
    except HpablateError as exc:
        print(f"hpablate {args.command}: error: {_masked(str(exc), args)}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print(f"hpablate {args.command}: interrupted; finished trials are saved", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - last resort: one line, not a traceback
        message = _masked(f"{type(exc).__name__}: {exc}".splitlines()[0], args)
        print(f"hpablate {args.command}: unexpected error: {message}", file=sys.stderr)
        return EXIT_FAILURE


def _masked(message: str, args: argparse.Namespace) -> str:
    """``message`` with the password of the storage URL (option or environment) replaced."""
    from hpablate._storage import mask_password

    for spec in (getattr(args, "storage", None), os.environ.get("OPTUNA_STORAGE")):
        if isinstance(spec, str):
            message = mask_password(message, spec)
    return message


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
