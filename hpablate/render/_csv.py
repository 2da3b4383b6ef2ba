"""Tidy CSV for tools: one table a file, every text cell made safe for spreadsheets and terminals."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from hpablate.render._safe_text import csv_cell, strip_controls


def csv_text(t: pd.DataFrame) -> str:
    """``t`` as CSV that ``pandas.read_csv`` loads back: one header row, no index.

    Text cells (and headings) are neutralised: control characters shown as ``\\xNN`` and a
    leading ``=``, ``+``, ``-`` or ``@`` quoted with ``'``; numbers, negative ones too, stay numbers.

    Examples
    --------
    >>> print(csv_text(pd.DataFrame({"param": ["=1+1", "lr"], "delta": [-0.5, 0.25]})), end="")
    param,delta
    '=1+1,-0.5
    lr,0.25
    """
    safe = t.copy()
    for c in t.columns:
        if not pd.api.types.is_numeric_dtype(t[c]):
            safe[c] = pd.Series([_text(v) if isinstance(v, str) else v for v in t[c]], index=t.index, dtype=object)
    safe.columns = [_text(str(c)) for c in t.columns]
    return safe.to_csv(index=False)


def write_csvs(tables: Mapping[str, pd.DataFrame], directory: str | Path) -> list[Path]:
    """Write every non-empty table to ``directory/<name>.csv`` (made if missing); returns the paths."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, t in tables.items():
        if len(t):
            path = out / (re.sub(r"[^A-Za-z0-9_.-]", "_", name) + ".csv")
            path.write_text(csv_text(t), encoding="utf-8")
            paths.append(path)
    return paths


def _text(v: str) -> object:
    return csv_cell(strip_controls(v))
