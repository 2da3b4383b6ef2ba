"""``hpablate analyze``: print the analysis of a study, read-only.

``hpablate analyze STORAGE [--study NAME] [--objective N] [-f table|csv|json|markdown]
[--table NAME | --out-dir DIR] [--html report.html] [--latex tables.tex]
[--figures DIR [--figure-format pdf|svg|png]] [--margin δ] [--mde X] [--failures verdict|worst]``.
``--objective all`` analyses every objective: each one's report, then the Pareto front and each
ablation's effect on each objective side by side. ``-f csv`` prints one tidy table (``--table``, default ``effects``); ``--out-dir`` writes every
table as ``DIR/<table>.csv`` instead. STORAGE is a URL (``sqlite:///x.db``, ``postgresql://…``,
``mysql+pymysql://…``, ``redis://…``) or a journal file path, as the ``optuna`` CLI guesses it;
it may be left out when ``--storage`` or the ``OPTUNA_STORAGE`` environment variable gives it.
The storage is never written: no table is created, nothing migrated, no file made.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from hpablate.cli._output import add_format_option, format_output
from hpablate.errors import StudyNotFoundError, UsageError


def add_parser(subparsers: Any) -> None:
    """Register the ``analyze`` sub-command."""
    p = subparsers.add_parser(
        "analyze",
        help="analyse a study (effects, interactions, structural, importances), read-only",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("storage_url", nargs="?", metavar="STORAGE_URL",
                   help="storage URL or journal file path (default: --storage or $OPTUNA_STORAGE)")
    p.add_argument("--storage", dest="storage_opt", default=None, metavar="URL",
                   help="storage URL, as in the optuna CLI (alternative to the positional argument)")
    p.add_argument("--study", "--study-name", dest="study", default=None, metavar="NAME",
                   help="study name (needed when the storage holds several)")
    p.add_argument("--objective", default="0", metavar="N",
                   help="objective index (default 0), or 'all': every objective, the Pareto front and each "
                        "ablation's effect on each objective side by side")
    add_format_option(p)
    p.add_argument("--table", default=None, metavar="NAME",
                   help="with -f csv: the table to print (effects, interactions, importances, structural, …; "
                        "default effects)")
    p.add_argument("--out-dir", default=None, metavar="DIR", help="write every non-empty table as DIR/<table>.csv")
    p.add_argument("--html", default=None, metavar="PATH", help="also write a self-contained HTML report")
    p.add_argument("--latex", default=None, metavar="PATH",
                   help="also write every table as booktabs LaTeX (a fragment; needs \\usepackage{booktabs})")
    p.add_argument("--figures", default=None, metavar="DIR", help="also write every figure as a static file to DIR")
    p.add_argument("--figure-format", choices=("pdf", "svg", "png"), default="pdf", help="format of --figures (default pdf)")
    p.add_argument("--alpha", type=float, default=0.05, help="significance level (Holm-corrected; default 0.05)")
    p.add_argument("--seed", type=int, default=0, help="seed of the fANOVA forest and bootstraps (default 0)")
    p.add_argument("--margin", default=None, metavar="DELTA",
                   help="practical margin of the verdicts (objective units, or relative like 1%%): effects whose "
                        "TOST puts them inside +-DELTA are 'equivalent'")
    p.add_argument("--mde", default=None, metavar="X",
                   help="minimum effect to detect (objective units or 1%%): print the seeds each effect needs "
                        "for 80%% power")
    p.add_argument("--failures", choices=("verdict", "worst"), default="verdict",
                   help="a failed/diverged replicate gives its configuration the verdict 'failed' (default) or "
                        "counts as the worst observed value")
    p.set_defaults(func=command)


def _storage(args: argparse.Namespace) -> str:
    if args.storage_url and args.storage_opt and args.storage_url != args.storage_opt:
        raise UsageError("give the storage once (positional STORAGE_URL or --storage), not both")
    url = args.storage_url or args.storage_opt or os.environ.get("OPTUNA_STORAGE")
    if not url:
        raise UsageError("no storage given: pass STORAGE_URL, --storage or set OPTUNA_STORAGE")
    return url


def command(args: argparse.Namespace) -> int:
    """Run ``hpablate analyze``; returns the exit code (errors raise HpablateError → exit 2)."""
    import warnings

    import optuna

    from hpablate.analysis import analyze_data, list_studies, read_study

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    url = _storage(args)
    if args.study is None:
        studies = list_studies(url)
        if len(studies) > 1:
            listed = studies.assign(directions=[",".join(d) for d in studies["directions"]])
            sys.stdout.write(format_output(listed, args.format))
            raise StudyNotFoundError(
                f"{len(studies)} studies in the storage; name one with --study (listed on stdout)"
            )
    objective = _objective(args.objective)
    data = read_study(url, args.study)
    options = dict(alpha=args.alpha, seed=args.seed, margin=args.margin, mde=args.mde, failures=args.failures)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if objective is None:
            from hpablate.analysis.objectives import analyze_objectives

            report = analyze_objectives(data, **options)
        else:
            report = analyze_data(data, objective, **options)
    for flag, path in (("--html", args.html), ("--latex", args.latex)):
        if path and os.path.isdir(path):
            raise UsageError(f"{flag} {path!r} is a directory")
    if args.figures and os.path.exists(args.figures) and not os.path.isdir(args.figures):
        raise UsageError(f"--figures {args.figures!r} is a file, not a directory")
    if args.table is not None and args.format != "csv":
        raise UsageError("--table goes with -f csv (the other formats hold every table)")
    if args.out_dir and args.table is not None:
        raise UsageError("give --table (one CSV on stdout) or --out-dir (every table), not both")
    if args.out_dir:
        _write_csvs(report, args.out_dir)
    else:
        sys.stdout.write(_formatted(report, args.format, args.table))
    if args.html:
        path = os.path.abspath(args.html)
        report.to_html(path)
        print(f"HTML report written to {path}", file=sys.stderr)
    if args.latex:
        path = os.path.abspath(args.latex)
        report.to_latex(path)
        print(f"LaTeX tables written to {path}", file=sys.stderr)
    if args.figures:
        paths = report.save_figures(args.figures, args.figure_format)
        print(f"{len(paths)} figures written to {os.path.abspath(args.figures)}", file=sys.stderr)
    return 0


def _objective(value: str) -> int | None:
    """``--objective``: an index, or None for ``all``."""
    if value.strip().lower() == "all":
        return None
    try:
        return int(value)
    except ValueError:
        raise UsageError(f"--objective must be an index (0, 1, …) or 'all', got {value!r}") from None


def _formatted(report: Any, fmt: str, table: str | None) -> str:
    """The report in ``fmt``; for CSV, one table, which must have rows (else a UsageError says why)."""
    if fmt != "csv":
        return format_output(report, fmt)
    name = table or "effects"
    if name not in report.tables():
        raise UsageError(f"no table {name!r}; choose from {', '.join(report.tables())}")
    if not len(report.tables()[name]):
        raise UsageError(f"the {name} table is empty{_why_empty(report)}; "
                         f"tables with rows: {', '.join(_filled(report)) or 'none'}")
    return format_output(report, fmt, table=name)


def _write_csvs(report: Any, directory: str) -> None:
    if os.path.exists(directory) and not os.path.isdir(directory):
        raise UsageError(f"--out-dir {directory!r} is a file, not a directory")
    if not _filled(report):
        raise UsageError(f"no table has rows, nothing to write{_why_empty(report)}")
    paths = report.save_csv(directory)
    print(f"{len(paths)} CSV tables written to {os.path.abspath(directory)}", file=sys.stderr)


def _filled(report: Any) -> list[str]:
    return [k for k, t in report.tables().items() if len(t)]


def _why_empty(report: Any) -> str:
    if not hasattr(report, "counts"):  # every objective at once
        return ""
    used = report.counts.get("used", 0)
    note = f"; {report.notes[0]}" if report.notes else ""
    return f" ({used} trial{'s' if used != 1 else ''} used{note})"
