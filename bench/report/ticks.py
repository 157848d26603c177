"""The same ticks and labels, drawn for less: most of a report figure's drawing time went to
its tick labels (matplotlib 3.11, measured with cProfile on the quickstart's report).

- Log-axis labels such as 10⁻³ and 2×10⁻¹ are written in Unicode instead of being parsed as
  mathtext (a pyparsing grammar run for every new label); which ticks get a label is still
  matplotlib's ``LogFormatterSciNotation``'s choice.
- Log-axis locators give only the ticks in view: matplotlib builds a tick object (two lines, two
  markers, two texts) for every location a locator gives, and ``LogLocator`` gives a decade of
  hidden ones on each side.

Imported by ``figures.save`` only, with matplotlib.
"""

from __future__ import annotations

import re

from matplotlib.ticker import Formatter, Locator, LogFormatterSciNotation

SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")
IN_VIEW = 1e-3  # relative slack: a location this close outside the view is kept


def cheap_ticks(ax) -> None:
    """Give ``ax``'s log axes the Unicode labels and in-view locators (idempotent)."""
    for axis in (ax.xaxis, ax.yaxis):
        for ticker in (axis.major, axis.minor):
            if type(ticker.formatter) is LogFormatterSciNotation:
                ticker.formatter = UnicodeLog(ticker.formatter)
            if axis.get_scale() == "log" and not isinstance(ticker.locator, InView):
                ticker.locator = InView(ticker.locator)
                ticker.locator.set_axis(axis)


def unicode_label(label: str) -> str:
    """A ``LogFormatterSciNotation`` label (``$\\mathdefault{2\\times10^{-1}}$``) in Unicode
    (``2×10⁻¹``); any other text as it is."""
    found = re.fullmatch(r"\$\\mathdefault\{(.*)\}\$", label)
    if not found:
        return label
    text = found.group(1).replace(r"\times", "×")
    text = re.sub(r"\^\{(-?\d+)\}", lambda m: m.group(1).translate(SUPERSCRIPT), text)
    return "−" + text[1:] if text.startswith("-") else text


class UnicodeLog(Formatter):
    """A ``LogFormatterSciNotation``'s labels, in Unicode."""

    def __init__(self, inner: LogFormatterSciNotation):
        self.inner = inner
        if inner.axis is not None:
            self.set_axis(inner.axis)

    def set_axis(self, axis) -> None:
        super().set_axis(axis)
        self.inner.set_axis(axis)

    def set_locs(self, locs) -> None:
        super().set_locs(locs)
        self.inner.set_locs(locs)

    def __call__(self, x, pos=None) -> str:
        return unicode_label(self.inner(x, pos))

    def format_data(self, value) -> str:
        return unicode_label(self.inner.format_data(value))

    def format_data_short(self, value) -> str:
        return self.inner.format_data_short(value)


class InView(Locator):
    """Another locator's locations, less those outside the axis' view."""

    def __init__(self, inner: Locator):
        self.inner = inner

    def set_axis(self, axis) -> None:
        super().set_axis(axis)
        self.inner.set_axis(axis)

    def __call__(self):
        locs = self.inner()
        low, high = sorted(self.axis.get_view_interval())
        if low <= 0:  # not a log view yet: nothing to trim safely
            return locs
        return [v for v in locs if low * (1 - IN_VIEW) <= v <= high * (1 + IN_VIEW)]

    def tick_values(self, vmin, vmax):
        return self.inner.tick_values(vmin, vmax)

    def nonsingular(self, v0, v1):
        return self.inner.nonsingular(v0, v1)

    def view_limits(self, vmin, vmax):
        return self.inner.view_limits(vmin, vmax)
