"""What every report figure shares: the palette, the look, statistics over seeds and saving.

Colours are Okabe & Ito's colour-blind-safe set ("Color Universal Design", 2008). Each optimizer
keeps one colour in every figure of a report; the built-ins keep theirs across reports too.
Figures are drawn on matplotlib's Agg canvas without pyplot: reports never open a window.
"""

from __future__ import annotations

import re
import textwrap
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from optbench.bench.formatting import compact

OKABE_ITO = (
    "#0072B2",  # blue
    "#D55E00",  # vermillion
    "#009E73",  # bluish green
    "#CC79A7",  # reddish purple
    "#E69F00",  # orange
    "#56B4E9",  # sky blue
    "#000000",  # black
    "#F0E442",  # yellow: last, it is hard to see on white
)
BUILT_IN_ORDER = ("adam", "nag", "lbfgsb", "nelder-mead", "adagrad")
FAINT_ALPHA = 0.35
DPI = 110
LOG_FLOOR = 1e-16  # f − f* at or below this is drawn at this height on a log axis


@dataclass(frozen=True)
class FigureFile:
    """A written figure and what the report says about it."""

    path: Path
    title: str
    caption: str
    problem: str | None  # its problem label; None for figures over all problems


@dataclass
class Drawn:
    """A figure drawn and not yet written: ``save_drawn`` writes it, ``Results.plot`` hands it
    out. ``name`` is its file name without the extension."""

    figure: Any  # matplotlib.figure.Figure
    name: str
    title: str
    caption: str
    problem: str | None  # its problem label; None for figures over all problems


def save_drawn(drawn: Drawn, folder: Path, ext: str) -> FigureFile:
    path = save(drawn.figure, folder / f"{drawn.name}.{ext}")
    return FigureFile(path, drawn.title, drawn.caption, drawn.problem)


@dataclass
class ProblemView:
    """One problem's runs as the figures need them (built by the report, read by the plots).

    Each run is judged against its own optimum: ``f_opts`` and ``x_opts`` hold each run's f*
    and x* (a run-seeded problem has one instance per seed); ``f_opt`` and ``x_opt`` are the
    ones every run shares, None when unknown or when the runs' instances differ.
    """

    label: str
    slug: str
    dim: int
    f_opt: float | None
    runs: Any  # pandas DataFrame: this problem's rows of the runs table
    traces: dict[str, dict[str, np.ndarray]]  # run_id -> trace columns
    best: dict[str, str]  # optimizer name -> label of its best configuration here
    colors: dict[str, str]  # optimizer name -> colour
    targets: list[float]  # value targets (on f − f* when f* is known, else on f)
    smooth: bool | None = True  # False: the problem says it has kinks; None: not known
    x_opt: np.ndarray | None = None  # the known minimizer its runs recorded
    landscape: Any = None  # results.landscapes.Landscape stored for a 2-D problem, or None
    f_opts: dict[str, float] = field(default_factory=dict)  # run_id -> its f* (known ones)
    x_opts: dict[str, np.ndarray] = field(default_factory=dict)  # run_id -> its x*
    identical: set[str] = field(default_factory=set)  # configurations whose seeds ran the same
    gradient: str | None = None  # "analytic", "finite-difference" or None (not recorded)

    @property
    def seeds(self) -> int:
        return int(self.runs["seed"].nunique())

    @property
    def has_f_opt(self) -> bool:
        """Whether its runs know their f* (then values are f − f*, run by run)."""
        return bool(self.f_opts)

    @property
    def per_run_optimum(self) -> bool:
        """Whether its runs' optima differ (one instance per seed): f* or x*."""
        return len(set(self.f_opts.values())) > 1 or \
            len({tuple(x) for x in self.x_opts.values()}) > 1

    def gap(self, run_id: str, f) -> np.ndarray | None:
        """f − f* of run ``run_id``, against its own f* (floored for a log axis); None when its
        f* is not known."""
        f_opt = self.f_opts.get(run_id)
        if f_opt is None:
            return None
        return np.maximum(np.asarray(f, dtype=float) - f_opt, LOG_FLOOR)

    def configurations(self):
        """(optimizer, configuration label, its rows), best of each optimizer last (on top)."""
        groups = list(self.runs.groupby(["optimizer", "optimizer_label"], sort=False))
        groups.sort(key=lambda kv: self.best.get(kv[0][0]) == kv[0][1])
        for (optimizer, label), rows in groups:
            yield optimizer, label, rows

    def is_best(self, optimizer: str, label: str) -> bool:
        return self.best.get(optimizer) == label

    def title(self, what: str) -> str:
        dim = f"dimension {self.dim}" if self.dim > 0 else "dimension not recorded"
        kinks = ", non-smooth" if self.smooth is False else ""
        return f"{wrap(self.label, 70)} ({dim}{kinks})\n{what}"


def optimizer_colors(names: list[str]) -> dict[str, str]:
    """One colour per optimizer name: built-ins fixed, others in sorted order after them."""
    colors = {name: OKABE_ITO[i] for i, name in enumerate(BUILT_IN_ORDER)}
    free = [c for c in OKABE_ITO if c not in colors.values()]
    others = sorted(n for n in set(names) if n not in colors)
    for i, name in enumerate(others):
        colors[name] = free[i % len(free)] if free else OKABE_ITO[i % len(OKABE_ITO)]
    return {name: colors[name] for name in names}


STYLE = {
    "font.size": 9, "axes.titlesize": 10, "axes.labelsize": 9, "legend.fontsize": 8,
    "legend.title_fontsize": 8, "legend.framealpha": 0.9, "axes.grid": True, "grid.alpha": 0.3,
    "axes.spines.top": False, "axes.spines.right": False, "savefig.facecolor": "white",
}


def style():
    """A context in which figures get the report's look."""
    import matplotlib

    return matplotlib.rc_context(STYLE)


def new_figure(width: float = 8.0, height: float = 4.6, ncols: int = 1):
    """A figure on an Agg canvas and its list of axes (call inside ``style()``).

    No pyplot: nothing global to switch or close, no window, figures freed with their last
    reference, so a report of many figures does not accumulate them.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=DPI)  # drawn once at the dpi it is saved at
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, ncols, squeeze=False)
    return fig, list(axes.flat)


def save(fig, path: Path) -> Path:
    """Write ``fig`` with its outside legend included."""
    from optbench.bench.results.files import atomic_write

    path.parent.mkdir(parents=True, exist_ok=True)
    from optbench.bench.report.ticks import cheap_ticks

    for ax in fig.axes:
        cheap_ticks(ax)
    pixels = _drawn_once(fig) if path.suffix == ".png" else None
    if pixels is not None:
        from matplotlib.image import imsave

        atomic_write(path, lambda f: imsave(f, pixels, format="png", dpi=DPI))
    else:
        atomic_write(path, lambda f: fig.savefig(f, format=path.suffix[1:], dpi=DPI,
                                                 bbox_inches="tight",
                                                 metadata=_metadata(path.suffix)))
    fig.clear()  # drop the artists now rather than at garbage collection
    return path


ROOM = (1, 1, 6, 1)  # inches of room left, below, right (outside legends) and above the figure


def _drawn_once(fig) -> np.ndarray | None:
    """The figure's RGBA pixels, cropped as ``bbox_inches="tight"`` crops them, from one draw.

    ``savefig(bbox_inches="tight")`` draws a figure twice, once to measure what sticks out (the
    legend outside the axes) and once to render; here the figure is drawn once on a canvas with
    ``ROOM`` around it, every axes and figure text kept where it was in inches, and the pixels
    cropped to what was drawn plus savefig's padding. None when that does not apply (a layout
    engine, other figure-level artists, or something drawn to the canvas' edge): the caller
    then saves the ordinary way.
    """
    import matplotlib

    if fig.get_layout_engine() is not None or fig.lines or fig.patches or fig.images \
            or fig.legends or fig.artists or fig.subfigs:
        return None
    left, below, right, above = ROOM
    width, height = fig.get_size_inches()
    grown = (width + left + right, height + below + above)

    def moved(x: float, y: float) -> tuple[float, float]:
        return (x * width + left) / grown[0], (y * height + below) / grown[1]

    places = [(ax, ax.get_position(original=True)) for ax in fig.axes]
    texts = [(t, t.get_position()) for t in fig.texts if t.get_transform() == fig.transSubfigure]
    fig.set_dpi(DPI)
    fig.set_size_inches(grown)
    for ax, box in places:
        (x0, y0), (x1, y1) = moved(box.x0, box.y0), moved(box.x1, box.y1)
        ax.set_position((x0, y0, x1 - x0, y1 - y0))
    for text, (x, y) in texts:
        text.set_position(moved(x, y))
    fig.canvas.draw()
    rgba = np.asarray(fig.canvas.buffer_rgba())
    drawn = (rgba != rgba[0, 0]).any(axis=2)
    rows, cols = np.flatnonzero(drawn.any(axis=1)), np.flatnonzero(drawn.any(axis=0))
    if not len(rows) or rows[0] == 0 or cols[0] == 0 or rows[-1] == len(drawn) - 1 \
            or cols[-1] == drawn.shape[1] - 1:  # nothing drawn, or cut off at the edge
        fig.set_size_inches(width, height)
        for ax, box in places:
            ax.set_position(box)
        for text, xy in texts:
            text.set_position(xy)
        return None
    pad = round(matplotlib.rcParams["savefig.pad_inches"] * DPI)
    top, bottom = max(rows[0] - pad, 0), min(rows[-1] + 1 + pad, len(drawn))
    first, last = max(cols[0] - pad, 0), min(cols[-1] + 1 + pad, drawn.shape[1])
    return rgba[top:bottom, first:last].copy()


def _metadata(suffix: str) -> dict[str, Any] | None:
    # dates in the metadata would make every rebuild differ byte for byte
    if suffix == ".svg":
        return {"Date": None}
    if suffix == ".pdf":
        return {"CreationDate": None}
    return None


def legend_outside(ax, handles=None, title: str | None = None) -> None:
    """The legend to the right of the axes, where it cannot hide data."""
    kwargs = {"handles": handles} if handles is not None else {}
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, title=title,
              title_fontsize=8, **kwargs)


def wrap(text: str, width: int = 44) -> str:
    """Long configuration labels broken at commas so legends stay narrow."""
    return "\n".join(textwrap.wrap(text, width, break_long_words=False,
                                   break_on_hyphens=False)) or text


def slug(text: str, taken: set[str]) -> str:
    """A file-name-safe, unique short form of a label."""
    base = re.sub(r"[^A-Za-z0-9.]+", "-", text).strip("-.").lower()[:60] or "problem"
    name, i = base, 2
    while name in taken:
        name, i = f"{base}-{i}", i + 1
    taken.add(name)
    return name


def step_values(x: np.ndarray, y: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """y of the last record at or before each grid point.

    Before its first record a run is still at its start, the first record's value (on a time
    axis a slow run's first record comes late; leaving it out would lift the median when it
    enters). After its last record a run keeps its last value: it stopped there.
    """
    if not len(y):
        return np.full(len(grid), np.nan)
    idx = np.searchsorted(x, grid, side="right") - 1
    return y[np.clip(idx, 0, None)]


def quartiles(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Median, 25% and 75% along axis 0, ignoring NaN; all-NaN columns give NaN quietly.

    The numbers of ``np.nanpercentile(rows, [25, 50, 75], axis=0)`` (its linear method, the
    same interpolation step), for all columns at once: numpy's loops over columns in Python.
    """
    ordered = np.sort(np.asarray(rows, dtype=float), axis=0)  # NaNs sort last
    n = np.count_nonzero(~np.isnan(ordered), axis=0)
    out = []
    with warnings.catch_warnings(), np.errstate(invalid="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        for q in (0.5, 0.25, 0.75):
            at = q * (np.maximum(n, 1) - 1)  # the virtual index, exact for these q
            low = np.floor(at).astype(int)
            high = np.minimum(low + 1, np.maximum(n - 1, 0))
            t = at - low
            a = np.take_along_axis(ordered, low[None], axis=0)[0]
            b = np.take_along_axis(ordered, high[None], axis=0)[0]
            diff = b - a
            value = np.where(t >= 0.5, b - diff * (1 - t), a + diff * t)
            out.append(np.where(n > 0, value, np.nan))
    return out[0], out[1], out[2]


def log_grid(low: float, high: float, n: int = 160, integer: bool = False) -> np.ndarray:
    """n log-spaced points from low to high (both > 0); distinct integers when asked."""
    high = max(high, low)
    grid = np.geomspace(low, high, n) if high > low else np.array([low])
    return np.unique(np.round(grid)) if integer else grid


def finite_max(values, default: float) -> float:
    """The largest finite value, or ``default`` when there is none (a timed-out run's NaN)."""
    a = np.asarray(values, dtype=float).ravel()
    a = a[np.isfinite(a)]
    return float(a.max()) if len(a) else default


PLAIN_DECADES = 2.0  # a log axis spanning at most this many decades gets plain tick labels


def plain_log_ticks(ax, axis: str = "y") -> None:
    """On a log axis spanning a decade or two, ticks read 20, 30, 50, not 2×10¹, 3×10¹."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    scale = ax.get_yscale() if axis == "y" else ax.get_xscale()
    low, high = sorted(ax.get_ylim() if axis == "y" else ax.get_xlim())
    if scale != "log" or low <= 0 or np.log10(high / low) > PLAIN_DECADES:
        return
    target = ax.yaxis if axis == "y" else ax.xaxis
    subs = (1.0, 2.0, 3.0, 5.0) if np.log10(high / low) <= 1.0 else (1.0, 2.0, 5.0)
    target.set_major_locator(LogLocator(base=10, subs=subs))
    target.set_major_formatter(FuncFormatter(lambda v, _: compact(v)))
    target.set_minor_formatter(NullFormatter())
