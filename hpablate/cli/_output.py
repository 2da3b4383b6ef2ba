"""The one output formatter of the CLI: every ``-f`` format of every sub-command.

A report (anything with ``to_text``, ``to_json``, ``to_csv`` and ``to_markdown``) or a plain table
(a DataFrame, such as the list of a storage's studies) is turned into the text of one format, the
way Optuna's CLI formats every command through one ``_format_output``.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import pandas as pd

FORMATS = ("table", "csv", "json", "markdown")


def add_format_option(parser: argparse.ArgumentParser) -> None:
    """Register ``-f/--format`` with :data:`FORMATS` (default ``table``)."""
    parser.add_argument("-f", "--format", choices=FORMATS, default="table", help="output format (default: table)")


def format_output(obj: Any, fmt: str, *, table: str | None = None) -> str:
    """The text of ``obj`` in format ``fmt`` (one of :data:`FORMATS`), ending in a newline.

    ``table`` names the one table of a report that ``csv`` writes (its ``to_csv(table)``).

    Examples
    --------
    >>> print(format_output(pd.DataFrame({"name": ["a"], "n": [3]}), "markdown"), end="")
    | name | n |
    |---|---|
    | a | 3 |
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")
    if isinstance(obj, pd.DataFrame):
        text = _frame(obj, fmt)
    else:
        csv = (lambda: obj.to_csv(table)) if table is not None else obj.to_csv
        text = {"table": obj.to_text, "csv": csv, "json": obj.to_json, "markdown": obj.to_markdown}[fmt]()
    return text if text.endswith("\n") else text + "\n"


def _frame(t: pd.DataFrame, fmt: str) -> str:
    from hpablate.render import md_table, to_builtin
    from hpablate.render._csv import csv_text
    from hpablate.render._safe_text import strip_controls

    if fmt == "json":
        return json.dumps(to_builtin(t.to_dict(orient="records")))
    if fmt == "csv":
        return csv_text(t)
    if fmt == "markdown":
        return md_table(t)
    return strip_controls(t.to_string(index=False))
