"""Tables for every report: cell formatting, Markdown and HTML tables, JSON-safe values."""

from __future__ import annotations

import html
import math
from typing import Any

import numpy as np
import pandas as pd

from hpablate.render._safe_text import markdown_cell


def _plain(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v


def objective_label(index: int, name: str | None = None) -> str:
    """How outputs name an objective: its metric name when the study has one.

    Examples
    --------
    >>> objective_label(0, "val_loss"), objective_label(1)
    ('val_loss', 'objective 1')
    """
    return name if name else f"objective {index}"


def fmt_value(v: Any) -> str:
    """Short human form of a parameter value."""
    v = _plain(v)
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def fmt_cell(v: Any, col: str = "") -> str:
    if isinstance(v, (bool, np.bool_)):
        return "yes" if v else "no"
    if v is None:
        return ""
    if isinstance(v, (float, np.floating)):
        if not np.isfinite(v):
            return ""
        if col.startswith("p_") or col == "p_value":
            return "<0.001" if v < 0.001 else f"{v:.3f}"
        a = abs(v)
        if a != 0 and (a < 1e-3 or a >= 1e5):
            return f"{v:.3e}"
        return f"{v:.4g}"
    return str(v)


def fmt_table(t: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({str(c): [fmt_cell(v, str(c)) for v in t[c]] for c in t.columns})


def md_table(t: pd.DataFrame) -> str:
    """A Markdown table; every cell and heading goes through :func:`markdown_cell` (text is data).

    Examples
    --------
    >>> print(md_table(pd.DataFrame({"name": ["<b>x</b>"], "n": [3]})))
    | name | n |
    |---|---|
    | &lt;b&gt;x&lt;/b&gt; | 3 |
    """
    d = t if all(isinstance(c, str) for c in t.columns) and t.dtypes.eq(object).all() else fmt_table(t)
    cols = [markdown_cell(str(c)) for c in d.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for row in d.itertuples(index=False, name=None):
        lines.append("| " + " | ".join(markdown_cell(v if isinstance(v, str) else fmt_cell(v)) for v in row) + " |")
    return "\n".join(lines)


def html_table(t: pd.DataFrame, formatted: pd.DataFrame | None = None) -> str:
    """An HTML table of a (formatted) DataFrame, escaped."""
    d = formatted if formatted is not None else fmt_table(t)
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in d.columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>"
                   for row in d.itertuples(index=False))
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"



def fmt_pivot(t: pd.DataFrame) -> pd.DataFrame:
    out = t.copy().astype(object)
    for c in out.columns:
        out[c] = [fmt_cell(v) for v in t[c]]
    out.index = [fmt_value(v) for v in t.index]
    out.index.name = t.index.name
    out.columns = [fmt_value(v) for v in t.columns]
    return out


def pivot_frame(t: pd.DataFrame) -> pd.DataFrame:
    """A formatted two-way mean table as a flat frame: the row labels become its first column.

    That column is named ``"<rows> \\ <columns>"`` rather than after the row parameter, because a
    choice of the column parameter may carry that name (``reset_index`` would then fail);
    duplicate labels are kept as they are.

    Examples
    --------
    >>> t = pd.DataFrame([[1.0, 2.0]], index=pd.Index(["relu"], name="act"),
    ...                  columns=pd.Index(["act", "dropout"], name="dropout"))
    >>> pivot_frame(t).columns.tolist()
    ['act \\\\ dropout', 'act', 'dropout']
    """
    f = fmt_pivot(t)
    corner = f"{t.index.name} \\ {t.columns.name}"
    rows = [[label, *vals] for label, vals in zip(f.index, f.to_numpy().tolist())]
    return pd.DataFrame(rows, columns=[corner, *f.columns], dtype=object)


def to_builtin(x: Any) -> Any:
    """Recursively turn numpy scalars/arrays and NaN into JSON-safe Python objects."""
    if isinstance(x, dict):
        return {str(k): to_builtin(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [to_builtin(v) for v in x]
    if isinstance(x, np.ndarray):
        return [to_builtin(v) for v in x.tolist()]
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if x is pd.NA or x is pd.NaT:
        return None
    return x
