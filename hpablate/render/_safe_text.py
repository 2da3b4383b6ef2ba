"""Text from a database is data: make it safe for terminals, CSV files and markdown.

Parameter names, choices and attributes come from whoever wrote the study, so they may carry
terminal escape sequences, spreadsheet formulas or HTML. Each output escapes them for its medium.
"""

from __future__ import annotations

import html
import re

_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def strip_controls(text: str) -> str:
    """``text`` with control characters (ESC, BEL, …) shown as ``\\xNN`` instead of acted on.

    Newlines are kept: they are the table's own.

    Examples
    --------
    >>> strip_controls("lr\\x1b[2J\\x07")
    'lr\\\\x1b[2J\\\\x07'
    """
    return _CONTROLS.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def csv_cell(value: object) -> object:
    """A CSV cell that no spreadsheet runs as a formula (OWASP: prefix a quote).

    Numbers pass unchanged; text starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
    return gets a leading ``'``.

    Examples
    --------
    >>> csv_cell("=HYPERLINK(\\"x\\")"), csv_cell(-0.5), csv_cell("adam")
    ('\\'=HYPERLINK("x")', -0.5, 'adam')
    """
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def markdown_cell(text: str) -> str:
    """Markdown table cell text: HTML escaped, pipes escaped, controls and newlines neutralised.

    Examples
    --------
    >>> markdown_cell("<script>alert(1)</script>|x")
    '&lt;script&gt;alert(1)&lt;/script&gt;\\\\|x'
    """
    text = strip_controls(text.replace("\r", " ").replace("\n", " "))
    return html.escape(text, quote=False).replace("|", "\\|")
