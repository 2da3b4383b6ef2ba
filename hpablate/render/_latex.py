"""Booktabs LaTeX tables for papers: values rounded to their CI's precision, text escaped.

A report's tables go through :func:`latex_frame` (one cell string per value) and
:func:`booktabs_table`; :func:`latex_fragment` joins them into a fragment that compiles with
``\\usepackage{booktabs}`` in the preamble.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from hpablate.render._safe_text import strip_controls

_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
            "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
            "×": r"$\times$", "±": r"$\pm$", "<": r"\textless{}", ">": r"\textgreater{}"}
_SPECIAL_RE = re.compile("|".join(map(re.escape, _SPECIAL)))
#: The estimate a row's ``ci_low``/``ci_high`` belong to, first match wins.
_ESTIMATES = ("delta", "contribution", "drop", "difference", "effect", "estimate", "importance", "mu_star")
#: Columns a paper table leaves out: the CI bounds and spread are shown beside the estimate, the rest
#: is bookkeeping that the JSON and CSV outputs keep.
_HIDDEN = {"is_baseline", "std", "baseline_n", "baseline_std", "ci_low", "ci_high", "p_bh", "q10", "q90",
           "n_trees", "estimand", "improvement", "benefit", "param_a", "param_b"}
_MARKS = ((0.001, "***"), (0.01, "**"), (0.05, "*"))


def latex_escape(text: str) -> str:
    """``text`` safe in LaTeX: special characters escaped, control characters shown as ``\\xNN``.

    Examples
    --------
    >>> print(latex_escape("lr_max 50% & #1 {a} ~b^2 $x\\\\"))
    lr\\_max 50\\% \\& \\#1 \\{a\\} \\textasciitilde{}b\\textasciicircum{}2 \\$x\\textbackslash{}
    """
    return _SPECIAL_RE.sub(lambda m: _SPECIAL[m.group()], strip_controls(text))


def ci_decimals(half_width: float) -> int:
    """Decimals that show two significant digits of a CI half-width (never fewer than 0).

    Examples
    --------
    >>> ci_decimals(0.0123), ci_decimals(4.2), ci_decimals(37.0), ci_decimals(float("nan"))
    (3, 1, 0, 3)
    """
    if not np.isfinite(half_width) or half_width <= 0:
        return 3
    return max(0, 1 - math.floor(math.log10(half_width)))


def p_text(p: float, marks: bool = False) -> str:
    """A p-value for a table, with significance marks (``*`` < 0.05, ``**`` < 0.01, ``***`` < 0.001).

    Examples
    --------
    >>> p_text(0.0004, marks=True), p_text(0.03, marks=True), p_text(0.2)
    ('$<$0.001***', '0.030*', '0.200')
    """
    if not np.isfinite(p):
        return "--"
    text = "$<$0.001" if p < 0.001 else f"{p:.3f}"
    return text + (next((m for cut, m in _MARKS if p < cut), "") if marks else "")


def latex_frame(t: pd.DataFrame) -> pd.DataFrame:
    """One LaTeX cell string per value of a report table.

    The estimate with a CI becomes ``est $\\pm$ half`` (``est [lo, hi]`` when the CI is not
    symmetric), rounded to two significant digits of the half-width, as are the row's means;
    an importance with a ``std`` shows it as its spread. The Holm p (else the plain p) carries
    significance marks; booleans read yes/no; text is escaped.

    Examples
    --------
    >>> t = pd.DataFrame({"param": ["lr_max"], "mean": [0.80012], "delta": [-0.10117], "ci_low": [-0.1135],
    ...                   "ci_high": [-0.0888], "p_holm": [0.002], "significant": [True]})
    >>> latex_frame(t).iloc[0].tolist()
    ['lr\\\\_max', '0.800', '$-0.101 \\\\pm 0.012$', '0.002**', 'yes']
    """
    est = next((c for c in _ESTIMATES if c in t.columns), None)
    marked = next((c for c in ("p_holm", "p_value", "p") if c in t.columns), None)
    decimals = _row_decimals(t, est)
    out: dict[str, list[str]] = {}
    for c in t.columns:
        if c in _HIDDEN:
            continue
        head = latex_escape(str(c)) + (r" ($\pm$ CI)" if c == est and "ci_low" in t.columns else "")
        head += r" ($\pm$ SD)" if c == est and "ci_low" not in t.columns and "std" in t.columns else ""
        if c == est:
            out[head] = [_estimate(t, i, d) for i, d in zip(range(len(t)), decimals)]
        elif str(c).startswith("p_") or c in ("p", "p_value"):
            out[head] = [p_text(float(v), marks=c == marked) for v in t[c]]
        else:
            same_units = est is not None and "mean" in str(c)
            out[head] = [_cell(v, d if same_units else None) for v, d in zip(t[c], decimals)]
    return pd.DataFrame(out, dtype=object)


def booktabs_table(cells: pd.DataFrame, caption: str, label: str) -> str:
    """A ``table`` environment with a booktabs ``tabular`` of already-escaped ``cells``."""
    align = "".join("l" if _is_text(cells[c]) else "r" for c in cells.columns)
    rows = [" & ".join(map(str, r)) + r" \\" for r in cells.itertuples(index=False, name=None)]
    return "\n".join([
        r"\begin{table}[htbp]", r"\centering", rf"\caption{{{latex_escape(caption)}}}",
        rf"\label{{tab:{re.sub(r'[^A-Za-z0-9:-]', '-', label)}}}", rf"\begin{{tabular}}{{{align}}}", r"\toprule",
        " & ".join(cells.columns) + r" \\", r"\midrule", *rows, r"\bottomrule", r"\end{tabular}", r"\end{table}",
    ])


def latex_fragment(title: str, tables: Sequence[str], standalone: bool = False) -> str:
    """The tables as one fragment (``% needs \\usepackage{booktabs}``), or a whole article."""
    head = [f"% {strip_controls(title)}".replace("\n", " "), r"% needs \usepackage{booktabs} in the preamble", ""]
    body = "\n\n".join(tables)
    if not standalone:
        return "\n".join(head) + body + "\n"
    return "\n".join([r"\documentclass{article}", r"\usepackage{booktabs}", r"\begin{document}", body,
                      r"\end{document}", ""])


def _row_decimals(t: pd.DataFrame, est: str | None) -> list[int | None]:
    if est is None:
        return [None] * len(t)
    if {"ci_low", "ci_high"} <= set(t.columns):
        half = (t["ci_high"].astype(float) - t["ci_low"].astype(float)) / 2
    elif "std" in t.columns:
        half = t["std"].astype(float)
    else:
        return [None] * len(t)
    return [ci_decimals(h) if np.isfinite(h) and h > 0 else None for h in half]


def _estimate(t: pd.DataFrame, i: int, d: int | None) -> str:
    row = t.iloc[i]
    est = next(c for c in _ESTIMATES if c in t.columns)
    v = float(row[est])
    if not np.isfinite(v):
        return "--"
    if d is None:
        return f"${_num(v)}$"
    if "ci_low" in t.columns:
        lo, hi = float(row["ci_low"]), float(row["ci_high"])
        if abs((hi - v) - (v - lo)) > 10.0 ** -(d + 1):
            return f"${v:.{d}f}$ [${lo:.{d}f}$, ${hi:.{d}f}$]"
        return f"${v:.{d}f} \\pm {(hi - lo) / 2:.{d}f}$"
    return f"${v:.{d}f} \\pm {float(row['std']):.{d}f}$"


def _cell(v: Any, decimals: int | None) -> str:
    if isinstance(v, (bool, np.bool_)):
        return "yes" if v else "no"
    if v is None or (isinstance(v, (float, np.floating)) and not np.isfinite(v)):
        return "--"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        return f"{v:.{decimals}f}" if decimals is not None else _num(float(v))
    return latex_escape(str(v))


def _num(v: float) -> str:
    return f"{v:.3g}"


def _is_text(col: pd.Series) -> bool:
    return not all(s == "--" or s[:1] in "$-0123456789" for s in col.astype(str))
