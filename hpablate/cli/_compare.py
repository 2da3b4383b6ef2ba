"""``hpablate compare``: ablation designs vs search + fANOVA on a study file, as a table.

``hpablate compare studies/FILE.py --budgets 50,100,200 --methods oat,morris,random,tpe
[--repeats N] [--storage URL] [-f table|csv|json|markdown] [--html report.html]``

For every method and budget it runs (or, with ``--storage``, resumes) a study on the file's
``space`` and ``objective``, ranks the parameters by the method's importance (OAT: largest
|effect| from the baseline; Morris: mu*; grid: variance along each axis; Random/TPE/GP/QMC:
fANOVA) and prints each ranking's agreement with a reference: the file's ``truth`` if it
defines one, else the pooled ranking of every method's largest-budget runs.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from hpablate.cli._run import load_study_file
from hpablate.cli._output import add_format_option, format_output
from hpablate.errors import StudyFileError, UsageError


def add_parser(subparsers: Any) -> None:
    """Register the ``compare`` sub-command."""
    p = subparsers.add_parser(
        "compare",
        help="compare ablation designs with Random/TPE/GP + fANOVA: ranking agreement vs trials",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("study_file", help="Python file exposing `space` and `objective` (optional: direction, "
                                      "grid_groups, truth)")
    p.add_argument("--budgets", default="50,100,200,400", help="comma-separated trial budgets (default 50,100,200,400)")
    p.add_argument("--methods", default="oat,morris,grid,random,tpe,gp",
                   help="comma-separated methods among oat, grid, morris, sobol, shapley, path, random, tpe, gp, qmc "
                        "(default oat,morris,grid,random,tpe,gp)")
    p.add_argument("--repeats", type=int, default=3, help="repetitions with different seeds (default 3)")
    p.add_argument("--storage", default=None,
                   help="storage URL or journal file, so runs resume (default: $OPTUNA_STORAGE, else in memory)")
    p.add_argument("--study-prefix", default=None, help="prefix of the study names (default: compare-<file stem>)")
    p.add_argument("--seed", type=int, default=0, help="base seed (default 0)")
    p.add_argument("--top-k", type=int, default=None,
                   help="number of truly important parameters (default: cut at the largest ratio of the reference)")
    p.add_argument("--threshold", type=float, default=0.8,
                   help="share of repetitions that must rank the top-k right (default 0.8)")
    p.add_argument("--quick", action="store_true", help="study files' quick mode (small data/epochs)")
    add_format_option(p)
    p.add_argument("--html", default=None, metavar="PATH", help="also write a self-contained HTML report")
    p.add_argument("-v", "--verbose", action="store_true", help="one line per run on stderr")
    p.set_defaults(func=command)


def _ints(text: str, what: str) -> list[int]:
    try:
        values = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise UsageError(f"--{what} must be comma-separated integers, got {text!r}") from None
    if not values:
        raise UsageError(f"--{what} is empty")
    return values


def load(path: str) -> tuple[Any, Any, str, Any, Any]:
    """``(space, objective, direction, grid_groups, truth)`` of a study file.

    Uses ``hpablate run``'s loader (same checks and error messages).
    """
    sf = load_study_file(path)
    if len(sf.directions) > 1:
        raise StudyFileError(f"{path!r} is multi-objective; compare ranks one objective")
    module = sf.module
    return sf.space, sf.objective, sf.directions[0], getattr(module, "grid_groups", None), getattr(module, "truth", None)


def command(args: argparse.Namespace) -> int:
    """Run ``hpablate compare``; returns the exit code (bad input raises HpablateError → exit 2)."""
    import warnings

    from hpablate.comparison import compare

    if args.repeats < 1:
        raise UsageError(f"--repeats must be >= 1, got {args.repeats}")
    budgets = _ints(args.budgets, "budgets")
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    if args.quick:
        from hpablate.train import QUICK_ENV

        os.environ[QUICK_ENV] = "1"
    space, objective, direction, groups, truth = load(args.study_file)
    storage = args.storage or os.environ.get("OPTUNA_STORAGE") or None
    prefix = args.study_prefix or f"compare-{Path(args.study_file).stem}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = compare(objective, space, budgets, methods, repeats=args.repeats, storage=storage,
                         study_prefix=prefix, direction=direction, truth=truth, top_k=args.top_k, seed=args.seed,
                         grid_groups=groups, threshold=args.threshold, verbose=args.verbose)
    sys.stdout.write(format_output(report, args.format))
    if args.html:
        report.to_html(args.html)
        print(f"wrote {args.html}", file=sys.stderr)
    return 0
