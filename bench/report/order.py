"""Natural order of labels, the one order of the report and its tables.

Numbers inside labels compare as numbers: ``f2`` before ``f10``, ``adam(lr=0.01)`` before
``adam(lr=0.1)`` before ``adam(lr=1)``, ``lr=1e-3`` before ``lr=0.01``. A sign counts only where a
value starts (after ``=``, ``[``, ``(``, ``,``, ``:`` or a space), so ``nelder-mead`` stays a word.
A leaf module: no pandas, no matplotlib.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

NUMBER = re.compile(r"(?:(?:^|(?<=[=\[(,:\s]))[-+])?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")


def natural_key(text: object) -> tuple:
    """A sort key: text pieces compare case-folded, number pieces by value; the text itself
    breaks what is left of a tie (``1`` and ``1.0``), so the order never depends on input order."""
    text = str(text)
    parts: list[tuple[int, object]] = []
    at = 0
    for m in NUMBER.finditer(text):
        if m.start() > at:
            parts.append((0, text[at:m.start()].casefold()))
        parts.append((1, float(m.group())))
        at = m.end()
    if at < len(text):
        parts.append((0, text[at:].casefold()))
    return tuple(parts), text


def natural_sorted(values: Iterable) -> list:
    return sorted(values, key=natural_key)


def natural_ranks(values: Iterable) -> dict:
    """value -> its position in natural order (for sorting table columns)."""
    return {v: i for i, v in enumerate(natural_sorted(set(values)))}
