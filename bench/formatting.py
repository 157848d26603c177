"""Numbers and configuration values as text: the one place that decides how they read.

- ``number``: a measured number in a table (the report's tables, ``optbench run``'s summary);
- ``compact``: a number in a figure's title, legend, tick or annotation;
- ``config_value``: a value as a configuration writes it (configuration labels, ``optbench list``).

A leaf module (no optbench imports), so every stage of the harness can use it.
"""

from __future__ import annotations

import math
from typing import Any

MISSING = "–"


def number(x: Any) -> str:
    """A number as a person reads it in a table: 3509, 0.0125, 2.5e-04; '–' for missing."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return MISSING if x is None or math.isnan(x) else ("∞" if x > 0 else "−∞")
    x = float(x)
    if x.is_integer() and abs(x) < 1e7:
        return str(int(x))
    return f"{x:.4g}" if 1e-3 <= abs(x) < 1e5 else f"{x:.3g}"


def compact(x: float) -> str:
    """A number in three significant digits for titles, legends and ticks: 5e-04, 0.01, 3."""
    return f"{x:.3g}"


def config_value(value: Any) -> str:
    """A configuration value as YAML would write it: ``true``, ``0.01``, ``[25,20]``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list):
        return "[" + ",".join(config_value(v) for v in value) + "]"
    return str(value)
