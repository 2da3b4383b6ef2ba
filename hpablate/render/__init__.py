"""Rendering shared by the analysis and comparison reports: tables, JSON-safe values, the HTML page."""

from hpablate.render._page import figure_div, html_page
from hpablate.render._tables import (
    fmt_cell,
    fmt_pivot,
    fmt_table,
    fmt_value,
    html_table,
    md_table,
    objective_label,
    pivot_frame,
    to_builtin,
)

__all__ = ["figure_div", "fmt_cell", "fmt_table", "fmt_pivot", "fmt_value", "html_page", "html_table", "md_table",
           "objective_label", "pivot_frame", "to_builtin"]
