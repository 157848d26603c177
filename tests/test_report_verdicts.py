"""Verdicts a user can trust, the report's half (issue 12, items 6 and 8; Results.plot).

Each run is judged against its own f* (three instances of a run-seeded problem, checked against
f − f* computed here from the stored traces); the report opens with a verdict; one definition of
"best" for table, curves and ECDF (checked on a hand-made table); finite-difference gradients,
identical seeds and problems left out are said; labels sort naturally (against a hand-written
order); f − best found where f* is unknown; ``Results.plot`` hands out Figures.
"""

import json
import math
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

import optbench
from optbench.bench.report.build import build_report, problem_views
from optbench.bench.report.data import Results, load_results
from optbench.bench.run.sweep import run_sweep
from optbench.bench.sweep.config import load_sweep

PROBLEMS = '''
import numpy as np
from optbench.problems.base import Problem


class Shifted(Problem):
    """0.5 |x - x*|^2 + f*, one instance per run: x* = (1 + i, -1), f* = 100 i + 3."""
    name = "shifted"
    run_seeded = "instance"

    def __init__(self, instance: int = 0):
        self.dim, self.instance = 2, instance
        self.x_opt = np.array([1.0 + instance, -1.0])
        self.f_opt = 100.0 * instance + 3.0

    def initial_point(self, rng):
        return self.x_opt + np.array([4.0, 3.0]) + rng.normal(0.0, 0.5, 2)

    def value_and_grad(self, x):
        d = x - self.x_opt
        return 0.5 * float(d @ d) + self.f_opt, d.copy()

    def value(self, x):
        return self.value_and_grad(x)[0]


class Offset(Problem):
    """1000 + 0.5 |x|^2 with no f* given: every method ends near 1000."""
    name = "offset"

    def __init__(self):
        self.dim = 2

    def initial_point(self, rng):
        return np.array([3.0, -2.0]) + rng.normal(0.0, 0.5, 2)

    def value_and_grad(self, x):
        return 1000.0 + 0.5 * float(x @ x), x.copy()

    def value(self, x):
        return self.value_and_grad(x)[0]


class ValueOnly(Problem):
    """0.5 |x - 1|^2, value only: its gradient is central differences (2 dim evaluations)."""
    name = "value_only"

    def __init__(self):
        self.dim, self.x_opt, self.f_opt = 3, np.ones(3), 0.0

    def initial_point(self, rng):
        return np.array([3.0, -2.0, 0.5]) + rng.normal(0.0, 0.5, 3)

    def value(self, x):
        d = x - 1.0
        return 0.5 * float(d @ d)


class WrongGrad(Offset):
    """A gradient twice too large: the entry check refuses it."""
    name = "wrong_grad"

    def value_and_grad(self, x):
        return 1000.0 + 0.5 * float(x @ x), 2.0 * x


class Raises(Offset):
    """Raises once x_0 drops below 2.5."""
    name = "raises"

    def value_and_grad(self, x):
        if x[0] < 2.5:
            raise RuntimeError("model blew up below 2.5\\nsecond line of the message")
        return super().value_and_grad(x)
'''

SWEEP = """
name: verdicts
problems:
  - problems_here.py:Shifted: {}
    targets: {value: 1.0e-3}
  - problems_here.py:Offset: {}
  - ackley: {dim: 2, x0: [1.5, 1.0]}
    targets: {value: 1.0e-3}
  - problems_here.py:ValueOnly: {}
    targets: {value: 1.0e-4}
  - problems_here.py:WrongGrad: {}
  - problems_here.py:Raises: {}
optimizers:
  - adam: {lr: [0.3, 0.05]}
  - lbfgsb: {}
seeds: 3
budget: {evaluations: 80}
"""

SHIFTED = "problems_here.py:Shifted"


def instance_f_opt(seed: int) -> float:
    return 100.0 * seed + 3.0  # the plugin's f*, written here again


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    folder = tmp_path_factory.mktemp("verdicts")
    (folder / "problems_here.py").write_text(PROBLEMS)
    (folder / "sweep.yaml").write_text(textwrap.dedent(SWEEP))
    out = folder / "out"
    run_sweep(load_sweep(folder / "sweep.yaml"), out, workers=0, progress=False,
              say=lambda *a: None)
    assert build_report(out, quiet=True) == out / "report.html"
    return out


@pytest.fixture(scope="module")
def summary(sweep):
    return pd.read_parquet(sweep / "summary.parquet")


def _trace(out: Path, run_id: str, column: str) -> np.ndarray:
    """A column of a stored trace, read straight from its parquet file."""
    return pq.read_table(out / "runs" / f"{run_id}.parquet").column(column).to_numpy()


def _step(x: np.ndarray, y: np.ndarray, at: np.ndarray) -> np.ndarray:
    """A run's value at each of ``at``: its last record at or before it (its first before)."""
    out = []
    for a in at:
        before = [i for i in range(len(x)) if x[i] <= a]
        out.append(y[before[-1]] if before else y[0])
    return np.array(out)


# -- item 6: each run against its own optimum ----------------------------------------------------
def test_three_instances_give_three_correct_gap_curves(sweep, summary):
    from optbench.bench.report.convergence import curves, reference, run_curves

    rows = summary[summary.problem_label == SHIFTED]
    assert sorted(rows.seed.unique()) == [0, 1, 2]
    for r in rows.itertuples():  # each run recorded its own instance's optimum
        assert r.f_opt == instance_f_opt(r.seed)
        assert json.loads(r.x_opt) == [1.0 + r.seed, -1.0]
    view = next(v for v in problem_views(load_results(sweep)) if v.label == SHIFTED)
    assert view.per_run_optimum and view.f_opt is None and view.x_opt is None
    ref = reference(view)
    drawn = {c[1]: c for c in curves(view, "evaluations", ref)}
    assert set(drawn) == {"adam(lr=0.05)", "adam(lr=0.3)", "lbfgsb"}
    for label, (_, _, grid, median, q25, q75, n) in drawn.items():
        runs = rows[rows.optimizer_label == label]
        by_hand = {}
        for r in runs.itertuples():
            f_best = _trace(sweep, r.run_id, "f_best")
            gap = np.maximum(f_best - instance_f_opt(r.seed), 1e-16)
            by_hand[r.run_id] = (_trace(sweep, r.run_id, "evaluations"), gap)
            # the start: 0.5 |x0 - x*|^2, the same closed form on every instance
            x0 = np.array([4.0, 3.0]) + np.random.default_rng(r.seed).normal(0.0, 0.5, 2)
            assert gap[0] == pytest.approx(0.5 * float(x0 @ x0), rel=1e-9)
        # three curves, each the run's own f − f*
        got = {rid: (x, y) for rid, x, y in run_curves(view, "evaluations", runs, ref)}
        assert set(got) == set(by_hand) and n == 3
        for rid, (x, y) in got.items():
            np.testing.assert_array_equal(x, by_hand[rid][0])
            np.testing.assert_allclose(y, by_hand[rid][1], rtol=1e-12, atol=1e-15)
        # the drawn median and band: over the three runs' step functions at the grid
        values = np.array([np.r_[gap[0], _step(x, gap, grid[1:])]
                           for x, gap in by_hand.values()])
        np.testing.assert_allclose(median, np.median(values, axis=0), rtol=1e-12)
        np.testing.assert_allclose(q25, np.percentile(values, 25, axis=0), rtol=1e-12)
        np.testing.assert_allclose(q75, np.percentile(values, 75, axis=0), rtol=1e-12)
    # lbfgsb solves every instance: its final f − f* is tiny, where the first run's f* would
    # have left instance 1 and 2 at about 100 and 200
    assert drawn["lbfgsb"][3][-1] < 1e-3


def test_table_ecdf_and_page_use_each_runs_own_optimum(sweep, summary):
    rows = summary[summary.problem_label == SHIFTED]
    table = pd.read_csv(sweep / "tables/per_config.csv")
    for label, g in rows.groupby("optimizer_label"):
        want = np.median(g.f_final - g.seed.map(instance_f_opt))
        got = table[(table.problem == SHIFTED) & (table.configuration == label)]
        assert got.final_gap_median.item() == pytest.approx(want, rel=1e-9, abs=1e-12)
    lbfgsb = rows[rows.optimizer_label == "lbfgsb"]
    assert lbfgsb.target_hit.all()  # the runner judged each run against its own f*, too
    from optbench.bench.report.ecdf import ecdf_lines

    results = load_results(sweep)
    view = next(v for v in problem_views(results) if v.label == SHIFTED)
    line = next(li for li in ecdf_lines([view], results.hits) if li.label == "lbfgsb")
    assert line.steps(1.0)[1][-1] == pytest.approx(1.0)  # every precision it could reach
    md = (sweep / "report.md").read_text()
    assert "known minimum f* per run, from 3 to 203 over 3 instances" in md
    assert "Each run is measured against its own f*" in md


# -- item 8a: the verdict ------------------------------------------------------------------------
def _verdict(md: str) -> str:
    return md[md.index("## Verdict"):md.index("\n## ", md.index("## Verdict") + 1)]


def test_the_report_opens_with_a_verdict(sweep, summary):
    md = (sweep / "report.md").read_text()
    assert md.split("\n## ")[1].startswith("Verdict")  # the first section
    verdict = _verdict(md)
    table = pd.read_csv(sweep / "tables/per_config.csv")
    for problem, rows in table.groupby("problem"):
        line = next(li for li in verdict.splitlines() if li.startswith(f"- **{problem}**"))
        if (rows.failed == rows.runs).all():
            assert "every run failed" in line and not rows.best.any()  # no ★ either
            continue
        best = rows[rows.best].configuration.item()
        assert line.startswith(f"- **{problem}**: {best} "), line
    # what failed and why: by status, with the first line of the message, counted
    raises = summary[summary.problem_label == "problems_here.py:Raises"]
    errors = raises[raises.status == "error"]
    assert len(errors) > 0
    assert (f"error in {len(errors)} runs" in verdict
            and "“RuntimeError: model blew up below 2.5”" in verdict
            and "second line of the message" not in verdict)
    # what was left out: the refused problem, with the entry check's reason
    left = json.loads((sweep / "left_out.json").read_text())
    assert [item["problem"] for item in left] == ["problems_here.py:WrongGrad"]
    assert "problems_here.py:WrongGrad" not in set(summary.problem_label)
    line = next(li for li in verdict.splitlines()
                if li.startswith("- **problems_here.py:WrongGrad**"))
    fail = [w.strip() for w in left[0]["why"] if w.strip().startswith("FAIL")]
    assert len(fail) == 1 and "left out" in line and line.endswith(fail[0])
    html = (sweep / "report.html").read_text()
    assert html.index("<h2>Verdict</h2>") < html.index("<h2>Results per problem</h2>")


def test_the_winners_margin_on_a_hand_made_table():
    from optbench.bench.report.verdict import winner

    table = _hand_table()
    assert winner(table, "f10") == ("lbfgsb reached the target in 3/3 runs with a median of 39 "
                                    "evaluations, 4.2× fewer than the next, adam(lr=0.1) (165).")
    # no target: the median final f − f*, each run against its own instance's f*
    assert winner(table, "f2") == ("adam(lr=0.01) ended at a median final f − f* of 0.1 (no "
                                   "target set); the next, adam(lr=0.1), ended at 0.2, 2.0× "
                                   "higher.")


# -- item 8b: one definition of best -------------------------------------------------------------
def _run(problem, label, seed, *, hit, fev, final, f_opt=0.0, status="target", target=1e-3):
    optimizer = label.split("(")[0]
    return {"run_id": f"{problem}-{label}-{seed}", "problem_label": problem, "problem": problem,
            "problem_params": "{}", "optimizer": optimizer, "optimizer_label": label,
            "optimizer_params": "{}", "seed": seed, "status": status, "message": "",
            "target_hit": hit, "fev_to_target": fev if hit else math.nan, "f_final": final,
            "f_best": final, "f_opt": f_opt, "dim": 3, "wall_time_s": 0.01, "n_eval": 200.0,
            "has_target": target is not None, "target_value": target, "stop_at_target": True,
            "smooth": True, "gradient": "analytic", "x_opt": None,
            "optimizer_resolved": None}


def _hand_runs() -> pd.DataFrame:
    """Worked by hand. f10 (target 1e-3): lbfgsb 3/3 in a median 39 evaluations; adam(lr=0.1)
    3/3 in 165; adam(lr=0.01) faster (20, 30) but in 2/3 only; nag(lr=0.1) ties adam(lr=0.1) on
    success and evaluations and loses on final f. Best: lbfgsb; adam's best: adam(lr=0.1) (its
    success beats lr=0.01's speed). f2 (no target, f* = 0, 100, 200 by seed): on f − f*
    adam(lr=0.01) is best (0.1 against 0.2), on the raw final f adam(lr=0.1) would be."""
    rows = []
    for seed, (a, b, c) in enumerate([(30, 150, 20), (39, 165, 30), (50, 180, None)]):
        rows.append(_run("f10", "lbfgsb", seed, hit=True, fev=a, final=1e-5))
        rows.append(_run("f10", "adam(lr=0.1)", seed, hit=True, fev=b, final=5e-4))
        rows.append(_run("f10", "nag(lr=0.1)", seed, hit=True, fev=b, final=9e-4))
        rows.append(_run("f10", "adam(lr=0.01)", seed, hit=c is not None, fev=c,
                         final=1e-4 if c else 0.5, status="target" if c else "budget"))
    for seed, (a, b) in enumerate([(0.2, 0.1), (0.2, 0.5), (0.9, 0.1)]):
        f_opt = 100.0 * seed
        for label, gap in (("adam(lr=0.1)", a), ("adam(lr=0.01)", b)):
            rows.append(_run("f2", label, seed, hit=False, fev=None, final=f_opt + gap,
                             f_opt=f_opt, status="budget", target=None))
    return pd.DataFrame(rows)


def _hand_table():
    from optbench.bench.report.tables import config_table

    return config_table(_hand_runs())


def test_one_best_for_table_curves_and_ecdf(tmp_path):
    from optbench.bench.report.convergence import convergence_figures
    from optbench.bench.report.ecdf import ecdf_figure
    from optbench.bench.report.figures import style
    from optbench.bench.report.tables import best_per_optimizer, display_rows

    table = _hand_table()
    assert table[table.best].set_index("problem").configuration.to_dict() == \
        {"f10": "lbfgsb", "f2": "adam(lr=0.01)"}
    assert best_per_optimizer(table) == {
        ("f10", "adam"): "adam(lr=0.1)", ("f10", "lbfgsb"): "lbfgsb",
        ("f10", "nag"): "nag(lr=0.1)", ("f2", "adam"): "adam(lr=0.01)"}
    rows = display_rows(table, "f2")  # the table shows what it ranks by: final f − f*
    assert {cells[0].strip("★ "): cells[4] for _, cells in rows} == \
        {"adam(lr=0.01)": "0.1", "adam(lr=0.1)": "0.2"}
    # the figures bold the same: adam(lr=0.01) reaches its targets sooner (a larger ECDF
    # area, the old bold rule) but in fewer runs, and the table ranks success first
    runs = _hand_runs()
    hits = {}
    for r in runs.itertuples():
        if r.target_hit:  # the 11 precisions 1e-1 ... 1e-3, all at its evaluation to target
            hits[r.run_id] = [(10.0 ** (-k / 5), int(r.fev_to_target), 0.0)
                              for k in range(5, 16)]
    traces = {r.run_id: {"evaluations": np.array([0.0, 200.0]), "time_s": np.array([0.0, 1.0]),
                         "f": np.array([1.0 + r.seed, r.f_final]),
                         "f_best": np.array([1.0 + r.seed, r.f_final])}
              for r in runs.itertuples()}
    results = Results(root=tmp_path, runs=runs, hits=hits, config_text="", environment=None)
    view = next(v for v in problem_views(results, table, traces, set()) if v.label == "f10")
    with style():
        fig = ecdf_figure(view, hits)[0].figure
        bold = {li.get_label() for li in fig.axes[0].lines if li.get_linewidth() > 2}
        assert bold == {"lbfgsb", "adam(lr=0.1)", "nag(lr=0.1)"}
        fig = convergence_figures(view)[0].figure
        bold = {li.get_label() for li in fig.axes[0].lines
                if li.get_linewidth() > 2 and not li.get_label().startswith("_")}
        assert bold == {"lbfgsb", "adam(lr=0.1)", "nag(lr=0.1)"}


# -- item 8c, 8d: finite differences and identical seeds -----------------------------------------
def test_finite_difference_gradient_is_shown_where_used(sweep, summary):
    md = (sweep / "report.md").read_text()
    said = "finite-difference gradient (2·dim evaluations each, here 2·3 = 6)"
    section = md[md.index("### problems_here.py:ValueOnly"):]
    assert said in section.split("\n\n")[1]  # the problem's line
    assert said in _verdict(md)
    assert said in md[md.index("**Convergence against evaluations.**", md.index(
        "### problems_here.py:ValueOnly")):].split("\n")[0]
    used = set(summary[summary.gradient == "finite-difference"].problem_label)
    assert used == {"problems_here.py:ValueOnly"}
    assert md.count("2·dim evaluations each") == 3  # nowhere else


def test_identical_seeds_get_one_note_and_no_band(sweep, summary):
    from matplotlib.collections import PolyCollection

    ackley = "ackley(dim=2, x0=[1.5,1])"
    for _, g in summary[summary.problem_label == ackley].groupby("optimizer_label"):
        fs = [_trace(sweep, r, "f") for r in g.run_id]  # a fixed start: the same run, thrice
        assert all(np.array_equal(fs[0], f) for f in fs[1:])
    for _, g in summary[summary.problem_label == SHIFTED].groupby("optimizer_label"):
        fs = [_trace(sweep, r, "f") for r in g.run_id]
        assert not np.array_equal(fs[0], fs[1])
    md = (sweep / "report.md").read_text()
    notes = [li for li in md.splitlines() if "ran identically" in li and li.startswith("- ")]
    assert notes == [f"- {ackley}: the 3 seeds of every configuration ran identically (one "
                     "start point on a deterministic problem: the same trace), so each such "
                     "curve is one run and no 25–75% band is drawn; a start drawn from the "
                     "seed (no fixed x0) gives a spread"]
    results = optbench.load(sweep)
    for fig in results.plot("convergence", ackley):
        assert not [c for c in fig.axes[0].collections if isinstance(c, PolyCollection)]
    for fig in results.plot("convergence", SHIFTED):  # seeds that differ keep their bands
        assert [c for c in fig.axes[0].collections if isinstance(c, PolyCollection)]
    table = pd.read_csv(sweep / "tables/per_config.csv").set_index(["problem", "configuration"])
    assert table.loc[(ackley, "lbfgsb"), "identical"]
    assert not table.loc[(SHIFTED, "lbfgsb"), "identical"]


# -- item 8e: natural order ----------------------------------------------------------------------
def test_natural_order_against_a_hand_written_one():
    from optbench.bench.report.order import natural_sorted

    want = ["adam(lr=1e-4)", "adam(lr=0.001)", "adam(lr=0.01)", "adam(lr=0.1)", "adam(lr=1)",
            "adam(lr=10)", "bbob(f=2, i=1)", "bbob(f=2, i=10)", "bbob(f=10, i=1)",
            "bbob(f=15, i=3)", "f1", "f2", "f8", "f10", "f15", "lbfgsb", "nag(lr=-0.5)",
            "nag(lr=0.5)", "nelder-mead", "x0=[-3,2]", "x0=[2,2]", "x0=[2,10]"]
    shuffled = list(np.random.default_rng(0).permutation(want))
    assert natural_sorted(shuffled) == want


def test_the_report_lists_problems_and_configurations_in_natural_order(tmp_path):
    from optbench.bench.report.data import natural_order
    from optbench.bench.report.tables import config_table

    runs = _hand_runs()
    runs = natural_order(runs.iloc[np.random.default_rng(1).permutation(len(runs))])
    assert list(dict.fromkeys(runs.problem_label)) == ["f2", "f10"]
    table = config_table(runs)
    assert table[table.problem == "f10"].configuration.tolist() == \
        ["adam(lr=0.01)", "adam(lr=0.1)", "lbfgsb", "nag(lr=0.1)"]


# -- item 8f: f − best found where f* is unknown -------------------------------------------------
def test_unknown_minimum_curves_show_f_minus_the_best_found(sweep, summary):
    from optbench.bench.report.convergence import curves, reference

    label = "problems_here.py:Offset"
    view = next(v for v in problem_views(load_results(sweep)) if v.label == label)
    ref = reference(view)
    assert ref.kind == "best"  # on f, every final sits within a sliver above 1000
    rows = summary[summary.problem_label == label]
    best = min(_trace(sweep, r, "f_best").min() for r in rows.run_id)
    assert ref.best == best
    for _, lbl, _grid, median, *_ in curves(view, "evaluations", ref):
        runs = rows[rows.optimizer_label == lbl]
        start = np.median([_trace(sweep, r, "f_best")[0] - best for r in runs.run_id])
        assert median[0] == pytest.approx(start, rel=1e-12)
    fig = optbench.load(sweep).plot("convergence", label)[0]
    ax = fig.axes[0]
    assert ax.get_yscale() == "log" and "best f found in the sweep" in ax.get_ylabel()
    md = (sweep / "report.md").read_text()
    assert "the curves show how far each is above the best f any run of this sweep found" in md


def test_unknown_minimum_curves_stay_on_f_where_f_separates(tmp_path):
    from optbench.bench.report.convergence import reference

    runs = _hand_runs()
    runs = runs[runs.problem_label == "f10"].assign(f_opt=math.nan)
    traces = {r.run_id: {"evaluations": np.array([0.0, 200.0]),
                         "f_best": np.array([10.0, {"lbfgsb": 1.0, "adam": 5.0,
                                                    "nag": 9.0}[r.optimizer]])}
              for r in runs.itertuples()}
    results = Results(root=tmp_path, runs=runs, hits={}, config_text="", environment=None)
    (view,) = problem_views(results, None, traces, set())
    assert reference(view).kind == "f"


# -- Results.plot --------------------------------------------------------------------------------
def test_results_plot_returns_figures_with_a_line_per_configuration(sweep, summary):
    from matplotlib.figure import Figure

    results = optbench.load(sweep)
    configs = set(summary.optimizer_label)
    before = {p.name for p in (sweep / "figures").iterdir()}
    figs = results.plot("convergence", SHIFTED)
    assert len(figs) == 2 and all(isinstance(f, Figure) for f in figs)  # evaluations, time
    for fig in figs:
        labels = [li.get_label() for li in fig.axes[0].lines
                  if not li.get_label().startswith("_")]
        assert sorted(labels) == sorted(configs)
    (ecdf,) = results.plot("ecdf", SHIFTED)
    assert sorted(li.get_label() for li in ecdf.axes[0].lines
                  if not li.get_label().startswith("_")) == sorted(configs)
    with_f_opt = summary[summary.f_opt.notna()].problem_label.nunique()
    assert len(results.plot("ecdf")) == with_f_opt + 1  # and the one over all problems
    assert len(results.plot("trajectory")) == 4  # the 2-D problems with runs that moved
    assert {p.name for p in (sweep / "figures").iterdir()} == before  # nothing written
    with pytest.raises(optbench.ResultsError, match="kind must be one of"):
        results.plot("histogram")
    with pytest.raises(optbench.ResultsError, match="no problem 'nope'"):
        results.plot("convergence", "nope")
