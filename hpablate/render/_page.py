"""The self-contained HTML page of a report: plotly.js inline, so it opens without network access."""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

from hpablate.render._safe_text import strip_controls


def html_page(title: str, css: str, body: Sequence[str], footer: str) -> str:
    """A complete HTML document: ``title``, the ``css``, plotly.js inline, the ``body`` parts, a footer.

    Control characters of the (escaped) title and body are shown as ``\\xNN``; plotly.js is kept as is.
    """
    from plotly.offline import get_plotlyjs

    return "\n".join([
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{strip_controls(html.escape(title))}</title><style>{css}</style>",
        f"<script type='text/javascript'>{get_plotlyjs()}</script></head><body>",
        *map(strip_controls, body),
        f"<p style='color:#888;font-size:.8em'>{html.escape(footer)}</p></body></html>",
    ])


def figure_div(fig: Any, div_id: str) -> str:
    """One plotly figure as a ``<div>`` of the page (the page holds plotly.js once)."""
    import plotly.io as pio

    return pio.to_html(fig, include_plotlyjs=False, full_html=False, div_id=div_id,
                       config={"displaylogo": False, "responsive": True})
