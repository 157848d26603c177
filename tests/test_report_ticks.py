"""The report's cheaper log-axis ticks (bench/report/ticks.py) show what matplotlib's defaults
show: the same ticks in view, the same labels, written in Unicode instead of mathtext."""

import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from optbench.bench.report.ticks import cheap_ticks, unicode_label


@pytest.mark.parametrize(("mathtext", "plain"), [
    (r"$\mathdefault{10^{3}}$", "10³"),
    (r"$\mathdefault{10^{-12}}$", "10⁻¹²"),
    (r"$\mathdefault{2\times10^{-1}}$", "2×10⁻¹"),
    (r"$\mathdefault{-10^{2}}$", "−10²"),
    (r"$\mathdefault{1}$", "1"),
    ("", ""),
    ("0.5", "0.5"),
])
def test_unicode_label(mathtext, plain):
    assert unicode_label(mathtext) == plain


def _ticks(limits, cheap: bool):
    """(location, label) of each tick drawn on a log x and a log y axis, major and minor."""
    fig = Figure(figsize=(6, 4), dpi=80)
    canvas = FigureCanvasAgg(fig)
    ax = fig.subplots()
    ax.set(xscale="log", yscale="log", xlim=limits, ylim=limits)
    if cheap:
        cheap_ticks(ax)
    canvas.draw()
    low, high = limits
    return [[(round(t.get_loc(), 12), t.label1.get_text()) for t in ticks
             if low * (1 - 1e-9) <= t.get_loc() <= high * (1 + 1e-9)]
            for axis in (ax.xaxis, ax.yaxis)
            for ticks in (axis.get_major_ticks(), axis.get_minor_ticks())]


@pytest.mark.parametrize("limits", [(1.0, 4000.0), (3e-7, 25.0), (0.15, 0.9), (2.0, 60.0)])
def test_same_ticks_as_matplotlib(limits):
    default, cheap = _ticks(limits, cheap=False), _ticks(limits, cheap=True)
    assert [[loc for loc, _ in axis] for axis in cheap] == \
        [[loc for loc, _ in axis] for axis in default]
    assert [[label for _, label in axis] for axis in cheap] == \
        [[unicode_label(label) for _, label in axis] for axis in default]
    assert any(label for axis in cheap for _, label in axis)  # labels were drawn at all
