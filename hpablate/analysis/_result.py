"""The shared contract of the analyses: ``f(inp, *, alpha, ...) -> Result``."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd


@dataclass
class Result:
    """What one analysis found.

    Attributes
    ----------
    tables : dict of DataFrame
        The analysis's tables by id (``effects``, ``structural``, ``importances`` …).
    notes : list of str
        How to read the tables, and what could not be computed and why.
    groups : dict of dict of DataFrame
        Families of small tables by id (``interaction_tables``: mean tables keyed ``"a × b"``).
    """

    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    groups: dict[str, dict[str, pd.DataFrame]] = field(default_factory=dict)
