"""The report depends on the results folder alone (issue 11).

Each run records what the report needs of its problem and optimizer (gradient kind, smoothness,
f*, x*, every hyperparameter with its default), and ``optbench run`` stores each 2-D problem's
landscape for the trajectory contours. So a report rebuilt after the plugin file is gone is the
same report, and building one never imports the plugin.
"""

import json
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from optbench.bench.cli.main import main
from optbench.bench.results.records import SUMMARY_COLUMNS
from optbench.bench.run.landscape import grid_values
from optbench.bench.run.runner import execute
from optbench.bench.sweep.spec import Budget, RunSpec, canonical

ROOT = Path(__file__).resolve().parents[1]

# A value-only (finite-difference gradient), non-smooth 2-D problem that says when it is imported.
PLUGIN = '''
from pathlib import Path

import numpy as np
from optbench.problems.base import Problem

Path(__file__).with_name("imported.marker").write_text("imported")


class Valley(Problem):
    """(x0 - 1)^2 + tilt (x1 - 2)^2 + 0.1 |x0 - 1|: kinked along x0 = 1, f* = 0 at (1, 2)."""
    name = "valley"
    smooth = False

    def __init__(self, tilt: float = 3.0):
        self.dim, self.tilt = 2, tilt
        self.x_opt, self.f_opt = np.array([1.0, 2.0]), 0.0

    def initial_point(self, rng):
        return np.array([-2.0, 4.0]) + rng.normal(0.0, 0.3, 2)

    def value(self, x):
        d = np.asarray(x, dtype=float) - self.x_opt
        return float(d[0] ** 2 + self.tilt * d[1] ** 2 + 0.1 * abs(d[0]))
'''

SWEEP = """
name: offline
problems:
  - valley.py:Valley: {tilt: 3.0}
    targets: {value: 1.0e-3}
optimizers:
  - adam: {lr: [0.05, 0.2]}
  - nag: {lr: 0.02, momentum: 0.9}
  - lbfgsb: {}
seeds: 2
budget: {evaluations: 300}
"""

NEW_COLUMNS = ("gradient", "smooth", "x_opt", "optimizer_resolved")


def _sweep(folder: Path) -> Path:
    """Run SWEEP in this process (report included); the plugin's marker is removed after."""
    (folder / "valley.py").write_text(PLUGIN)
    cfg = folder / "sweep.yaml"
    cfg.write_text(textwrap.dedent(SWEEP))
    out = folder / "out"
    assert main(["run", str(cfg), "--out", str(out), "--workers", "0", "--quiet"]) == 0
    assert (folder / "imported.marker").is_file()  # the sweep did import it
    (folder / "imported.marker").unlink()
    return out


def _report(out: Path) -> subprocess.CompletedProcess:
    """``optbench report`` in a fresh process: nothing imported by the sweep is left over."""
    done = subprocess.run([sys.executable, "-m", "optbench", "report", str(out)],
                          capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert done.returncode == 0, done.stderr
    return done


def _snapshot(out: Path) -> dict:
    """What a rebuilt report must reproduce: the tables, the figures and the page."""
    md = re.sub(r"Built \d{4}-\d\d-\d\d \d\d:\d\d", "Built", (out / "report.md").read_text())
    return {"per_config.csv": (out / "tables/per_config.csv").read_bytes(),
            "per_config.md": (out / "tables/per_config.md").read_text(),
            "per_config.tex": (out / "tables/per_config.tex").read_text(),
            "figures": sorted(p.name for p in (out / "figures").iterdir()), "report.md": md}


def test_report_rebuilds_the_same_without_the_plugin_file(tmp_path):
    out = _sweep(tmp_path)
    assert list((out / "landscapes").glob("*.npz"))  # the 2-D problem's map is stored
    before = _snapshot(out)
    assert "trajectory-valley.py-valley-tilt-3.png" in before["figures"]
    assert "sensitivity-valley.py-valley-tilt-3.png" in before["figures"]
    (tmp_path / "valley.py").unlink()
    done = _report(out)
    after = _snapshot(out)
    assert after == before
    assert "could not" not in done.stderr and "without contours" not in done.stderr
    # what used to come from the class: non-smooth, said in the tables and on the page
    table = pd.read_csv(out / "tables/per_config.csv")
    assert (table.smooth == False).all()  # noqa: E712  (False, not missing)
    assert "Non-smooth problem" in after["report.md"]
    # the contours were drawn from the stored landscape, and x* from the record
    trajectory = next(line for line in after["report.md"].splitlines()
                      if line.startswith("**Trajectories.**"))
    assert "Shades and thin contour lines" in trajectory and "★ the known minimizer" in trajectory


def test_building_the_report_never_imports_the_plugin(tmp_path):
    out = _sweep(tmp_path)
    marker = tmp_path / "imported.marker"
    assert (tmp_path / "valley.py").is_file() and not marker.exists()
    _report(out)
    assert not marker.exists()
    assert (out / "report.html").is_file()


def test_records_carry_what_the_report_needs(tmp_path):
    (tmp_path / "valley.py").write_text(PLUGIN)
    spec = RunSpec("valley.py:Valley", canonical({"tilt": 2.0}), "adam", canonical({"lr": 0.1}),
                   0, Budget(evaluations=50), base_dir=str(tmp_path))
    row = execute(spec).summary()
    assert set(NEW_COLUMNS) <= set(row) and set(row) == set(SUMMARY_COLUMNS)
    assert row["gradient"] == "finite-difference" and row["smooth"] is False
    assert json.loads(row["x_opt"]) == [1.0, 2.0] and row["f_opt"] == 0.0
    # the given lr and every default the constructor fills in, as the run used them
    from optbench.optimizers.adam import Adam

    adam = Adam(lr=0.1)
    resolved = json.loads(row["optimizer_resolved"])
    assert resolved["lr"] == 0.1 and set(resolved) >= {"beta1", "beta2", "eps", "amsgrad"}
    assert (resolved["beta1"], resolved["beta2"], resolved["eps"]) == (adam.beta1, adam.beta2,
                                                                       adam.eps)
    # an analytic, smooth built-in without a known minimizer
    row = execute(RunSpec("group_lasso", canonical({}), "lbfgsb", canonical({}), 0,
                          Budget(evaluations=20))).summary()
    assert (row["gradient"], row["smooth"], row["x_opt"]) == ("analytic", False, None)
    assert json.loads(row["optimizer_resolved"])["maxcor"] == 10  # scipy's default m
    # a set-up that fails before the optimizer is built records the problem, not the optimizer
    row = execute(RunSpec("ackley", canonical({"dim": 2}), "adam", canonical({"lr": -1}), 0,
                          Budget(evaluations=20))).summary()
    assert row["status"] == "error" and row["optimizer_resolved"] is None
    assert (row["gradient"], row["smooth"], row["x_opt"]) == ("analytic", True, "[0.0,0.0]")


def test_a_folder_without_the_new_columns_still_reports(tmp_path):
    """A results folder written before these were recorded: smoothness unknown, defaults as
    the params say, trajectories without contours, and the report says so."""
    out = _sweep(tmp_path)
    for path in (out / "runs").glob("*.json"):
        doc = json.loads(path.read_text())
        for name in NEW_COLUMNS:
            doc["summary"].pop(name)
        path.write_text(json.dumps(doc))
    for path in (out / "landscapes").glob("*"):
        path.unlink()
    (tmp_path / "valley.py").unlink()
    done = _report(out)
    assert "no landscape of this problem is stored" in done.stderr
    assert "trajectories drawn without contours" in (out / "report.md").read_text()
    table = pd.read_csv(out / "tables/per_config.csv")
    assert table.smooth.isna().all()
    figures = {p.name.split("-valley")[0] for p in (out / "figures").iterdir()}
    assert figures == {"convergence-evals", "convergence-time", "ecdf", "trajectory",
                       "sensitivity"}


def test_a_landscape_for_another_box_is_drawn_where_it_reaches(tmp_path, capsys):
    """A stored map smaller than the plot (mapped for other runs) shades part of it, and the
    report says so rather than failing."""
    from dataclasses import replace

    from optbench.bench.results.store import Store

    out = _sweep(tmp_path)
    store = Store(out)
    assert len(list(store.landscapes.glob("*.npz"))) == 1
    land = store.load_landscape("valley.py:Valley", canonical({"tilt": 3.0}))
    half = slice(0, len(land.xs) // 2)
    store.save_landscape(replace(land, xs=land.xs[half], ys=land.ys[half],
                                 z=land.z[half, half],
                                 box=((land.xs[0], land.xs[half][-1]),
                                      (land.ys[0], land.ys[half][-1]))))
    capsys.readouterr()
    assert main(["report", str(out)]) == 0
    err = capsys.readouterr().err
    assert "covers only part of the plot" in err and "could not be drawn" not in err
    assert (out / "figures" / "trajectory-valley.py-valley-tilt-3.png").is_file()


def test_a_slow_landscape_leaves_a_partial_map():
    """Probed fast, then slow: the grid stays fine but the rows past the deadline stay blank."""
    class SlowsDown:
        calls = 0

        def value(self, x):
            self.calls += 1
            if self.calls > 20:  # after the probe
                time.sleep(0.005)
            return float(x @ x)

    box = ((-1.0, 1.0), (-1.0, 1.0))
    xs, ys, z, note = grid_values(SlowsDown(), box, n=20, seconds=0.05)
    assert len(xs) == len(ys) == 20 and z.shape == (20, 20)
    done = np.isfinite(z).all(axis=1)
    assert done[0] and not done[-1] and np.isnan(z[~done]).all()
    assert f"contours cover {done.sum()} of 20 grid rows" in note
    np.testing.assert_allclose(z[0], xs**2 + ys[0] ** 2)


@pytest.mark.parametrize("missing", [None, float("nan")])
def test_a_run_that_recorded_no_problem_takes_its_problems_values(missing):
    """A run killed from outside records nothing of its problem; its problem's others do."""
    from optbench.bench.report.data import NUMERIC, _clean

    runs = pd.DataFrame({**{c: [1.0, 1.0] for c in NUMERIC}, "dim": [2, 0], "target_hit": [1, 0],
                         "problem_label": ["p", "p"], "smooth": [False, missing],
                         "gradient": ["analytic", missing], "x_opt": ["[1,2]", missing],
                         "optimizer_resolved": ['{"lr":0.1}', missing]})
    clean = _clean(runs)
    assert list(clean.smooth) == [False, False] and list(clean.gradient) == ["analytic"] * 2
    assert list(clean.x_opt) == ["[1,2]"] * 2
    assert list(clean.optimizer_resolved) == ['{"lr":0.1}', None]  # a run's own, not filled


def test_a_vectorised_map_is_the_point_by_point_map():
    """A problem with ``values`` is mapped a row at a time: the same numbers as point by point,
    and a row it cannot take at once (raises) is asked point by point, holes where f fails."""
    from optbench.problems.ackley import Ackley

    box = ((-3.0, 2.0), (-1.0, 4.0))
    xs, ys, z, note = grid_values(Ackley(dim=2), box, n=30)
    one = Ackley(dim=2)
    expected = np.array([[one.value(np.array([x, y])) for x in xs] for y in ys])
    np.testing.assert_allclose(z, expected, rtol=1e-13, atol=1e-15)
    assert note == ""

    class PartlyDefined:
        def values(self, points):
            raise ValueError("not all at once")

        def value(self, x):
            if x[0] > 0:
                raise ValueError("undefined for x > 0")
            return float(x @ x)

    xs, ys, z, _ = grid_values(PartlyDefined(), box, n=11)
    grid_x, grid_y = np.meshgrid(xs, ys)
    np.testing.assert_array_equal(np.isnan(z), grid_x > 0)
    np.testing.assert_allclose(z[grid_x <= 0], (grid_x**2 + grid_y**2)[grid_x <= 0])


BOTH = """
name: deferred
problems:
  - ackley: {dim: 2}
  - valley.py:Valley: {tilt: 3.0}
optimizers:
  - adam: {lr: 0.1}
seeds: 2
budget: {evaluations: 60}
"""


def _ackley(x: float, y: float) -> float:
    """Ackley in 2-D written out (a = 20, b = 0.2, c = 2π)."""
    return (-20 * np.exp(-0.2 * np.sqrt((x * x + y * y) / 2))
            - np.exp((np.cos(2 * np.pi * x) + np.cos(2 * np.pi * y)) / 2) + 20 + np.e)


def test_no_report_leaves_the_contours_to_the_first_report(tmp_path):
    """``--no-report`` maps no landscape; the first ``optbench report`` maps those of the
    problems optbench ships, never imports a plugin the folder names, and says which plot has
    no contours; a folder another process is writing is reported without mapping."""
    from optbench.bench.results.lock import FolderLock
    from optbench.bench.results.store import Store

    (tmp_path / "valley.py").write_text(PLUGIN)
    cfg = tmp_path / "both.yaml"
    cfg.write_text(textwrap.dedent(BOTH))
    out = tmp_path / "out"
    assert main(["run", str(cfg), "--out", str(out), "--workers", "0", "--quiet",
                 "--no-report"]) == 0
    (tmp_path / "imported.marker").unlink()  # the sweep imported it
    assert not list(out.glob("landscapes/*.npz"))

    with FolderLock(out):  # a writer at work: the report reads, maps nothing, says so
        done = _report(out)
    assert "contours were not mapped" in done.stderr and "is being written by" in done.stderr
    assert not list(out.glob("landscapes/*.npz"))

    done = _report(out)
    assert not (tmp_path / "imported.marker").exists()  # the folder's plugin never imported
    assert "valley.py:Valley(tilt=3)" in done.stderr and "maps only the problems" in done.stderr
    store = Store(out)
    assert store.load_landscape("valley.py:Valley", canonical({"tilt": 3.0})) is None
    land = store.load_landscape("ackley", canonical({"dim": 2}))
    assert land is not None and land.z.shape == (len(land.ys), len(land.xs))
    for i, j in ((0, 0), (7, 150), (199, 3), (120, 120)):
        assert land.z[i, j] == pytest.approx(_ackley(land.xs[j], land.ys[i]), rel=1e-12)
    trajectory = next(line for line in (out / "report.md").read_text().splitlines()
                      if line.startswith("**Trajectories.**"))
    assert "Shades and thin contour lines" in trajectory


def test_a_function_named_like_a_shipped_problem_is_never_mapped_as_it(tmp_path):
    """A problem given in Python whose name is a shipped one's (``name="ackley"``): its runs
    record that it was given in Python, so a report missing its landscape leaves the plot
    without contours rather than drawing the shipped Ackley's."""
    import optbench
    from optbench.bench.results.store import Store

    def bowl(x):
        return float(np.sum((x - 3.0) ** 2))

    mine = optbench.problem(bowl, x0=np.array([0.0, 0.5]), name="ackley")
    out = tmp_path / "out"
    optbench.sweep({"name": "clash", "problems": [mine], "optimizers": [{"nelder-mead": {}}],
                    "seeds": 2, "budget": {"evaluations": 80}}, out=out, workers=0,
                   progress=False)
    doc = json.loads(next((out / "runs").glob("*.json")).read_text())
    assert doc["spec"]["problem"] == "ackley" and doc["spec"]["in_memory"] is True
    (land,) = (out / "landscapes").glob("*.npz")  # mapped from the function by the sweep
    with np.load(land) as data:
        assert data["z"][0, 0] == bowl(np.array([data["xs"][0], data["ys"][0]]))
    land.unlink()
    done = _report(out)
    assert not list((out / "landscapes").glob("*.npz"))
    assert "no landscape of this problem is stored" in done.stderr
    assert Store(out).load_landscape("ackley", canonical({})) is None


def test_a_report_maps_nothing_before_its_arguments_are_checked_and_remaps_for_new_runs(
        tmp_path):
    from optbench.bench.results.store import Store

    (tmp_path / "valley.py").write_text(PLUGIN)
    cfg = tmp_path / "both.yaml"
    cfg.write_text(textwrap.dedent(BOTH))
    out, other = tmp_path / "out", tmp_path / "other"
    for folder in (out, other):
        assert main(["run", str(cfg), "--out", str(folder), "--workers", "0", "--quiet",
                     "--no-report"]) == 0
    # --out naming a results folder is refused before anything is written
    assert main(["report", str(out), "--out", str(other)]) == 2
    assert not list(out.glob("landscapes/*.npz"))
    assert main(["report", str(out)]) == 0
    first = Store(out).load_landscape("ackley", canonical({"dim": 2}))
    # more seeds, still without a report: the next report maps the landscape for them
    cfg.write_text(textwrap.dedent(BOTH).replace("seeds: 2", "seeds: 3"))
    assert main(["run", str(cfg), "--out", str(out), "--workers", "0", "--quiet", "--resume",
                 "--no-report"]) == 0
    assert main(["report", str(out)]) == 0
    again = Store(out).load_landscape("ackley", canonical({"dim": 2}))
    assert again.runs != first.runs
    ids = pd.read_csv(out / "summary.csv").query("problem == 'ackley'")["run_id"]
    from optbench.bench.results.landscapes import runs_digest

    assert again.runs == runs_digest(ids) and len(ids) == 3
