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


def test_a_png_drawn_once_is_the_tight_savefig(tmp_path):
    """figures.save draws a PNG once and crops it; matplotlib's bbox_inches="tight" draws it
    twice: the pixels are the same, up to a pixel of margin."""
    import io

    import numpy as np
    from matplotlib.image import imread

    from optbench.bench.report.figures import DPI, legend_outside, new_figure, save, style

    def drawn():
        with style():
            fig, (ax,) = new_figure()
            x = np.geomspace(1, 4000, 200)
            ax.plot(x, 20 / x, label="a configuration with a long label, wrapped")
            ax.axhline(5e-4, ls="--", label="target")
            ax.set(xscale="log", yscale="log", title="a title\nover two lines", xlabel="x")
            fig.suptitle("a figure title above the axes", y=1.02)
            legend_outside(ax)
            return fig

    save(drawn(), tmp_path / "once.png")
    once = imread(tmp_path / "once.png")
    fig = drawn()
    for ax in fig.axes:
        cheap_ticks(ax)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight")
    buffer.seek(0)
    twice = imread(buffer)
    assert abs(once.shape[0] - twice.shape[0]) <= 3 and abs(once.shape[1] - twice.shape[1]) <= 3
    # tight places the drawing at a fraction of a pixel, so edges anti-alias differently and
    # text (snapped to whole pixels) moves apart from lines: compare 4×4-pixel blocks at the
    # best whole-pixel shift
    def blocks(image, dy, dx, h, w):
        part = image[dy:dy + h - h % 4, dx:dx + w - w % 4, :3]
        return part.reshape(part.shape[0] // 4, 4, part.shape[1] // 4, 4, 3).mean(axis=(1, 3))

    off = [np.mean(np.abs(blocks(once, dy, dx, h, w) - blocks(twice, ty, tx, h, w)) > 0.1)
           for dy in range(4) for dx in range(4) for ty in range(4) for tx in range(4)
           if (h := min(once.shape[0] - dy, twice.shape[0] - ty)) > 0
           and (w := min(once.shape[1] - dx, twice.shape[1] - tx)) > 0]
    assert min(off) < 0.002  # the same picture
    assert max(off) > 0.01  # while a misplacement by a few pixels is seen


def test_quartiles_are_numpys_nanpercentile():
    import numpy as np

    from optbench.bench.report.figures import quartiles

    rng = np.random.default_rng(3)
    for shape in [(1, 7), (2, 5), (3, 40), (10, 200), (51, 33)]:
        rows = rng.lognormal(size=shape) * 10.0 ** rng.integers(-8, 3, size=shape)
        rows[rng.random(shape) < 0.3] = np.nan
        rows[:, 0] = np.nan  # a column with no value
        rows[0, -1] = np.inf
        with np.errstate(invalid="ignore"), pytest.warns(RuntimeWarning):
            q25, q50, q75 = np.nanpercentile(rows, [25, 50, 75], axis=0)
        got = quartiles(rows)
        for mine, numpys in zip(got, (q50, q25, q75), strict=True):
            np.testing.assert_array_equal(mine, numpys)  # bit for bit, NaN where numpy's is
