"""The report (issue 5): files, figures, tables against pandas, the page, and what it leaves out.

Small sweeps are run through the CLI into tmp folders; the numbers the report prints are checked
against numbers computed here, with pandas, straight from summary.parquet and the run files.
"""

import json
import math
import subprocess
import sys
import textwrap
from html.parser import HTMLParser
from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pandas as pd
import pytest

from optbench.bench.cli.main import main
from optbench.bench.report.build import build_report
from optbench.bench.run.oracle import LADDER

PROBLEMS = '''
import time

import numpy as np
from optbench.problems.base import Problem


class Bowl(Problem):
    """0.5 |x - (1, 1)|^2 from a start scattered around (6, -4) by the seed."""
    name = "bowl"

    def __init__(self):
        self.dim = 2
        self.x_opt = np.ones(2)
        self.f_opt = 0.0

    def initial_point(self, rng):
        return np.array([6.0, -4.0]) + rng.normal(0.0, 0.5, 2)

    def value_and_grad(self, x):
        d = x - 1.0
        return 0.5 * float(d @ d), d.copy()

    def value(self, x):
        return self.value_and_grad(x)[0]


class Raises(Bowl):
    """Every run that walks left of x_0 = 4 ends in an error."""
    def value_and_grad(self, x):
        if x[0] < 4.0:
            raise RuntimeError("model blew up left of 4")
        return super().value_and_grad(x)


class Stalls(Bowl):
    """Hangs (until killed at the sweep's timeout) once asked for more than ``after``
    gradients; its values alone (the report's contours) never hang."""
    def __init__(self, after: int = 30):
        super().__init__()
        self.after, self.calls = after, 0

    def value_and_grad(self, x):
        self.calls += 1
        if self.calls > self.after:
            time.sleep(120)
        return super().value_and_grad(x)

    def value(self, x):
        return Bowl.value_and_grad(self, x)[0]
'''

MAIN = """
name: report-test
problems:
  - ackley: {dim: 2, x0: [2.5, 2.0]}
    targets: {value: 1.0e-3}
  - problems_here.py:Bowl: {}
    targets: {value: 1.0e-6}
  - problems_here.py:Raises: {}
optimizers:
  - adam: {lr: [0.1, 1.0]}
  - nag: {lr: [0.05, 3.0], momentum: 0.9}
  - lbfgsb: {}
seeds: 3
budget: {evaluations: 200}
"""

SINGLE_SEED = """
name: single-seed
problems:
  - ackley: {dim: 2, x0: [1.5, 1.0]}
    targets: {value: 1.0e-3}
optimizers:
  - adam: {lr: [0.1, 1.0]}
  - nelder-mead: {}
  - nag: {lr: {exponential: {lr: 0.3, rate: 0.1, steps: 100}}, momentum: 0.2}
  - nag: {lr: {exponential: {lr: 0.1, rate: 0.5, steps: 100}}, momentum: 0.5}
seeds: 1
budget: {evaluations: 150}
"""

NO_MINIMUM = """
name: no-minimum
problems:
  - group_lasso: {lam: 1.0}
optimizers:
  - adam: {lr: [0.01, 0.1]}
  - lbfgsb: {}
seeds: 2
budget: {evaluations: 60}
"""

TIMEOUTS = """
name: timeouts
problems:
  - problems_here.py:Stalls: {after: 30}
    targets: {value: 1.0e-6}
  - problems_here.py:Stalls: {after: 40}
    targets: {value: 1.0e-6}
optimizers:
  - adam: {lr: 0.1}
  - lbfgsb: {}
seeds: 1
budget: {evaluations: 300}
timeout: 3
"""

FAILED = {"failed", "diverged", "nan", "error", "timeout"}


def _sweep(folder: Path, text: str, report: bool = False, workers: int = 0,
           code: int = 0) -> Path:
    """Run ``text``; ``code`` 1 for sweeps with runs that raise or hang (the user's code)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "problems_here.py").write_text(PROBLEMS)
    cfg = folder / "sweep.yaml"
    cfg.write_text(textwrap.dedent(text))
    out = folder / "out"
    args = ["run", str(cfg), "--out", str(out), "--workers", str(workers), "--quiet"]
    assert main(args + ([] if report else ["--no-report"])) == code
    return out


@pytest.fixture(scope="module")
def main_sweep(tmp_path_factory):
    out = _sweep(tmp_path_factory.mktemp("main"), MAIN, code=1)  # Raises raises
    assert build_report(out, quiet=True) == out / "report.html"
    return out


@pytest.fixture(scope="module")
def summary(main_sweep):
    return pd.read_parquet(main_sweep / "summary.parquet")


def _labels(summary, column="problem_label"):
    return list(dict.fromkeys(summary[column]))


# -- files and figures ---------------------------------------------------------------------------
def test_every_expected_file_exists(main_sweep, summary):
    for name in ("report.html", "report.md", "tables/per_config.csv", "tables/per_config.md",
                 "tables/per_config.tex"):
        assert (main_sweep / name).is_file(), name
    figures = main_sweep / "figures"
    problems = len(_labels(summary))  # three problems, all 2-D, all with a known minimum
    for kind in ("convergence-evals", "convergence-time", "ecdf", "trajectory"):
        found = [p for p in figures.glob(f"{kind}-*.png") if "all-problems" not in p.name]
        assert len(found) == problems, (kind, found)
    assert (figures / "ecdf-all-problems.png").is_file()
    # every run on Raises fails: there is no final value to plot against the learning rate
    sensitivity = {p.name for p in figures.glob("sensitivity-*.png")}
    assert len(sensitivity) == problems - 1 and not any("raises" in n for n in sensitivity)
    md = (main_sweep / "report.md").read_text()
    assert "problems_here.py:Raises: every run failed, so no sensitivity plot" in md


def _coloured_pixels(image: np.ndarray) -> int:
    """Saturated pixels left of the legend: grey axes and text do not count, data does."""
    rgb = image[:, : int(image.shape[1] * 0.55), :3]
    return int(((rgb.max(axis=-1) - rgb.min(axis=-1)) > 0.25).sum())


def test_figures_are_not_blank(main_sweep):
    pngs = sorted((main_sweep / "figures").glob("*.png"))
    assert len(pngs) == 16  # with the performance profile: targets on two problems
    assert main_sweep / "figures" / "profile-configurations.png" in pngs
    for png in pngs:
        image = mpimg.imread(png)
        assert image.shape[0] > 300 and image.shape[1] > 500, png.name
        assert image[..., :3].std() > 0.05, f"{png.name} is blank"
        assert _coloured_pixels(image) > 200, f"{png.name} draws no data"


def test_one_colour_per_optimizer_in_every_figure(main_sweep):
    """Adam is Okabe-Ito blue (#0072B2) wherever it is drawn; no figure draws it in orange."""
    blue = np.array([0, 114, 178]) / 255
    for png in (main_sweep / "figures").glob("*.png"):
        rgb = mpimg.imread(png)[..., :3]
        near = np.abs(rgb - blue).max(axis=-1) < 0.04
        assert near.sum() > 20, f"adam's colour missing from {png.name}"


# -- tables against pandas -----------------------------------------------------------------------
def _expected(summary: pd.DataFrame) -> pd.DataFrame:
    """The table computed here, independently, from summary.parquet."""
    with_target = {"ackley(dim=2, x0=[2.5,2])", "problems_here.py:Bowl"}
    rows = []
    for (problem, label), g in summary.groupby(["problem_label", "optimizer_label"]):
        hit = g[g.target_hit]
        evals = hit.fev_to_target.to_numpy(dtype=float)
        finals = g.f_final.to_numpy(dtype=float)
        rows.append({
            "problem": problem, "configuration": label, "runs": len(g),
            "success_rate": g.target_hit.mean() if problem in with_target else math.nan,
            "evals_to_target_median": np.median(evals) if len(evals) else math.nan,
            "evals_to_target_q25": np.percentile(evals, 25) if len(evals) else math.nan,
            "evals_to_target_q75": np.percentile(evals, 75) if len(evals) else math.nan,
            "f_final_median": np.median(finals[~np.isnan(finals)])
            if (~np.isnan(finals)).any() else math.nan,
            "wall_time_s_median": np.median(g.wall_time_s),
            **{f"n_{s}": int((g.status == s).sum()) for s in
               ("target", "converged", "failed", "budget", "diverged", "nan", "error",
                "timeout")},
        })
    return pd.DataFrame(rows).set_index(["problem", "configuration"]).sort_index()


def test_table_numbers_equal_pandas(main_sweep, summary):
    table = pd.read_csv(main_sweep / "tables/per_config.csv")
    got = table.set_index(["problem", "configuration"]).sort_index()
    want = _expected(summary)
    assert list(got.index) == list(want.index)
    for column in want.columns:
        np.testing.assert_allclose(got[column].to_numpy(dtype=float),
                                   want[column].to_numpy(dtype=float), rtol=1e-12,
                                   equal_nan=True, err_msg=column)
    assert (got.runs == 3).all()
    # the sweep holds what the test needs: successes, errors and a divergence
    assert got.n_target.sum() > 0 and got.n_error.sum() > 0 and got.n_diverged.sum() > 0


def test_best_entry_per_problem(main_sweep, summary):
    """Best = highest success, then fewest evaluations to target, fewest failures, lowest f."""
    table = pd.read_csv(main_sweep / "tables/per_config.csv")
    want = _expected(summary).reset_index()
    want["failed"] = want[[f"n_{s}" for s in FAILED]].sum(axis=1)
    def key(r):
        def known(v, missing=math.inf):
            return missing if math.isnan(v) else v

        return (-known(r.success_rate, 0.0), known(r.evals_to_target_median), r.failed,
                known(r.f_final_median), r.wall_time_s_median)

    for problem, g in want.groupby("problem"):
        alive = [r for r in g.itertuples() if r.failed < r.runs]  # every run failed: no ★
        best = [min(alive, key=key).configuration] if alive else []
        marked = table[(table.problem == problem) & table.best].configuration.tolist()
        assert marked == best, problem
    assert table.groupby("problem").best.sum().tolist().count(0) == 1  # Raises: all failed


def test_markdown_and_latex_show_the_same_numbers(main_sweep):
    table = pd.read_csv(main_sweep / "tables/per_config.csv")
    md = (main_sweep / "tables/per_config.md").read_text()
    tex = (main_sweep / "tables/per_config.tex").read_text()
    sections = {part.split("\n", 1)[0]: part for part in md.split("\n### ")[1:]}
    for r in table.itertuples():
        rows = [line for line in sections[r.problem].splitlines() if line.startswith("| ")]
        row = next(line for line in rows if line.split("|")[1].strip(" *★") == r.configuration)
        if not math.isnan(r.success_rate):
            assert f"({r.successes}/{r.runs})" in row
        if not math.isnan(r.evals_to_target_median):
            assert f"{r.evals_to_target_median:g}" in row
        statuses = [f"{s} {n}" for s in ("target", "converged", "failed", "budget", "diverged",
                                         "nan", "error", "timeout") if (n := getattr(r, f"n_{s}"))]
        assert row.split("|")[-2].strip(" *") == ", ".join(statuses)
        assert ("**★" in row) == bool(r.best)
    assert tex.count(r"\begin{tabular}") == table.problem.nunique()
    assert tex.count(r"\textbf{$\star$") == table[table.best].problem.nunique()
    assert tex.count(r"\toprule") == tex.count(r"\bottomrule")


def test_ecdf_targets_are_the_ladder_from_1e_1_to_1e_8():
    from optbench.bench.report.ecdf import TARGET_KEYS, reached

    hits = [(p, k, 0.0) for k, p in enumerate(LADDER)]  # evaluation count = ladder index
    assert len(TARGET_KEYS) == 36
    assert reached(hits) == list(range(15, 51))  # 10^(2 - 0.2k) for k = 15 (1e-1) … 50 (1e-8)


# -- the page ------------------------------------------------------------------------------------
class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.images, self.links, self.tables = [], [], 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.images.append(attrs["src"])
        elif tag == "a":
            self.links.append(attrs["href"])
        elif tag == "table":
            self.tables += 1


def test_html_parses_and_every_image_exists(main_sweep, summary):
    text = (main_sweep / "report.html").read_text()
    parser = _Links()
    parser.feed(text)
    parser.close()
    assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")
    assert parser.images and parser.tables == summary.problem_label.nunique()
    for ref in parser.images + parser.links:
        assert not ref.startswith(("/", "http")), ref  # relative: opens from the file system
        assert (main_sweep / ref).is_file(), ref
    on_disk = {p.relative_to(main_sweep).as_posix() for p in (main_sweep / "figures").iterdir()}
    assert set(parser.images) == on_disk  # every figure is on the page
    md = (main_sweep / "report.md").read_text()
    assert all(f"]({ref})" in md for ref in on_disk)


def test_page_lists_failed_runs_config_and_environment(main_sweep, summary):
    md = (main_sweep / "report.md").read_text()
    html = (main_sweep / "report.html").read_text()
    failed = summary[summary.status.isin(FAILED)]
    assert f"## Failed runs ({len(failed)})" in md
    lines = [line for line in md.splitlines() if line.startswith("- ") and " · run " in line]
    assert len(lines) == len(failed)
    for r in failed.itertuples():
        line = next(line for line in lines if r.run_id in line)
        assert line.startswith(f"- {r.status}: ") and r.message in line
    assert "model blew up left of 4" in html
    assert "name: report-test" in md  # the config as given
    env = json.loads((main_sweep / "environment.json").read_text())
    assert f"Python {env['python']}" in md and f"Python {env['python']}" in html
    assert "## Left out, and why" in md and f"{len(failed)} of {len(summary)} runs failed" in md


# -- what does not apply -------------------------------------------------------------------------
def test_single_seed_report_says_what_it_left_out(tmp_path, capsys):
    out = _sweep(tmp_path, SINGLE_SEED)
    capsys.readouterr()
    assert main(["report", str(out), "--format", "svg"]) == 0
    err = capsys.readouterr().err
    assert "single seed" in err and "no 25–75% band" in err
    assert "single seed" in (out / "report.md").read_text()
    svgs = {p.stem.split("-ackley")[0] for p in (out / "figures").glob("*.svg")}
    # one problem with f*: an ECDF over all problems would only repeat its own
    assert svgs == {"convergence-evals", "convergence-time", "ecdf", "trajectory", "sensitivity"}
    assert "only one problem" in err and "no ECDF over all problems" in err
    # NAG's two schedules are on no sensitivity line, and the report says so
    assert "leaves out 2 of nag's 2 configurations" in err and "lr is a schedule" in err
    assert not list((out / "figures").glob("*.png"))
    # the contour shading is one embedded image, not thousands of vector paths
    trajectory = next((out / "figures").glob("trajectory-*.svg"))
    assert trajectory.stat().st_size < 600_000 and "<image" in trajectory.read_text()
    parser = _Links()
    parser.feed((out / "report.html").read_text())
    assert parser.images and all(src.endswith(".svg") for src in parser.images)
    assert all((out / src).is_file() for src in parser.images)


def test_problem_without_known_minimum(tmp_path, capsys):
    out = _sweep(tmp_path, NO_MINIMUM, report=True)  # `optbench run` builds the report itself
    assert (out / "report.html").is_file() and (out / "report.md").is_file()
    capsys.readouterr()
    build_report(out, brief=True)  # as at the end of `optbench run`: a count, the page has them
    run_err = capsys.readouterr().err
    assert "notes on what it leaves out and why are under 'Left out, and why'" in run_err
    assert "no known minimum f*" not in run_err
    assert main(["report", str(out)]) == 0
    err = capsys.readouterr().err
    assert "no known minimum f*" in err and "no ECDF" in err
    assert "no 2-D problem" in err
    names = {p.stem.split("-group")[0] for p in (out / "figures").iterdir()}
    assert names == {"convergence-evals", "convergence-time", "sensitivity"}
    md = (out / "report.md").read_text()
    assert "no known minimum f*" in md
    # group_lasso's class says smooth = False: the page, the tables and the captions say so
    assert "Non-smooth problem" in md and "L-BFGS-B" in md
    assert "non-smooth" in (out / "tables/per_config.tex").read_text()
    assert "Non-smooth problem" in (out / "tables/per_config.md").read_text()
    captions = [line for line in md.splitlines() if line.startswith("**")]
    assert captions and all("may stall" in line for line in captions)
    for png in (out / "figures").glob("*.png"):
        assert _coloured_pixels(mpimg.imread(png)) > 200, png.name


def test_not_a_results_folder_is_one_line_and_exit_2(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("hello")
    for folder in (tmp_path, tmp_path / "missing"):
        assert main(["report", str(folder)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("optbench: error: ")
        assert "not a results folder" in err
    assert not (tmp_path / "report.html").exists()


def test_report_module_imports_no_pandas_or_matplotlib():
    code = ("import sys, optbench.bench.cli.main, optbench.bench.report.build; "
            "print(sorted(m for m in ('pandas', 'matplotlib') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).parents[1])
    assert out.stdout.strip() == "[]"


# -- timed-out runs ------------------------------------------------------------------------------
def test_report_with_timed_out_runs_keeps_every_ecdf(tmp_path, capsys):
    """Adam hangs on Stalls and is killed at the timeout: its runs record no evaluations, no
    dimension and no trace; L-BFGS-B finishes. The report still draws every figure."""
    out = _sweep(tmp_path, TIMEOUTS, workers=2, code=1)  # runs that hang
    summary = pd.read_parquet(out / "summary.parquet")
    timed_out = summary[summary.status == "timeout"]
    assert set(timed_out.optimizer) == {"adam"} and len(timed_out) == 2
    assert (summary[summary.optimizer == "lbfgsb"].status == "target").all()
    capsys.readouterr()
    assert main(["report", str(out)]) == 0
    err = capsys.readouterr().err
    assert "could not be drawn" not in err, err
    figures = out / "figures"
    assert (figures / "ecdf-all-problems.png").is_file()
    assert len(list(figures.glob("ecdf-problems*.png"))) == 2
    assert len(list(figures.glob("convergence-evals-*.png"))) == 2
    for png in figures.glob("*.png"):
        assert _coloured_pixels(mpimg.imread(png)) > 200, png.name
    table = pd.read_csv(out / "tables/per_config.csv")
    assert (table.dim == 2).all()  # the problem's dimension, though a killed run has none
    assert (table[table.optimizer == "adam"].n_timeout == 1).all()
    md = (out / "report.md").read_text()
    assert md.count("- timeout: ") == 2 and "killed after the hard limit of 3 s" in md


# -- ECDF and convergence data against the stored runs -------------------------------------------
def _stored_runs(folder: Path) -> pd.DataFrame:
    """A row per stored run straight from runs/*.json: its summary, targets and hits."""
    rows = []
    for path in sorted((folder / "runs").glob("*.json")):
        doc = json.loads(path.read_text())
        rows.append({**doc["summary"], "value_target": doc["spec"]["targets"]["value"],
                     "stops": doc["spec"]["stop_at_target"], "hits": doc["hits"]})
    return pd.DataFrame(rows)


def _expected_ecdf(runs: pd.DataFrame, per_dim: bool):
    """(configuration -> (evaluations at which pairs were reached, pairs)), computed here: the
    precisions 10^-1 … 10^-8, five per decade, each run keeping those at or above its value target
    when it stopped there, reached at the evaluation its hits record."""
    ladder = 10.0 ** (-np.arange(5, 41) / 5)
    out = {}
    for label, g in runs.groupby("optimizer_label"):
        evals, pairs = [], 0
        for r in g.itertuples():
            keep = ladder
            if r.stops and r.value_target is not None and not math.isnan(r.value_target):
                keep = ladder[ladder >= r.value_target * (1 - 1e-9)]
            pairs += len(keep)
            dim = 2 if per_dim else 1  # every problem of the sweep is 2-D
            evals += [e / dim for p, e, _ in r.hits if np.isclose(keep, p, rtol=1e-9).any()]
        out[label] = (np.sort(evals), pairs)
    return out


def test_ecdf_fractions_equal_those_from_the_stored_hits(main_sweep):
    from optbench.bench.report.build import problem_views
    from optbench.bench.report.data import load_results
    from optbench.bench.report.ecdf import ecdf_lines

    results = load_results(main_sweep)
    views = problem_views(results)
    stored = _stored_runs(main_sweep)
    checked = 0
    for view in views:
        want = _expected_ecdf(stored[stored.problem_label == view.label], per_dim=False)
        lines = ecdf_lines([view], results.hits)
        assert {line.label for line in lines} == set(want)
        for line in lines:
            evals, pairs = want[line.label]
            assert line.pairs == pairs, (view.label, line.label)
            at = np.unique(np.concatenate([evals, np.geomspace(1, 300, 40)]))
            expected = np.searchsorted(evals, at, side="right") / pairs
            np.testing.assert_allclose(line.fractions(at), expected, err_msg=line.label)
            x, y = line.steps(1.0)  # the curve as drawn: after each step, the share reached
            steps_x, steps_y = x[1:-1], y[1:-1]
            last = np.r_[steps_x[1:] != steps_x[:-1], True][: len(steps_x)]
            np.testing.assert_allclose(steps_y[last], np.searchsorted(
                evals, steps_x[last], side="right") / pairs, err_msg=line.label)
            assert y[0] == 0 and y[-1] == pytest.approx(len(evals) / pairs)
            checked += 1
    assert checked == len(stored.groupby(["problem_label", "optimizer_label"]))
    # with the ladder cut at the target, a configuration whose every run hit it reaches 1
    bowl = stored[stored.problem_label == "problems_here.py:Bowl"]
    full = [label for label, g in bowl.groupby("optimizer_label") if g.target_hit.all()]
    assert full
    view = next(v for v in views if v.label == "problems_here.py:Bowl")
    finals = {line.label: line.steps(1.0)[1][-1] for line in ecdf_lines([view], results.hits)}
    assert all(finals[label] == pytest.approx(1.0) for label in full)
    # over all problems: evaluations divided by the dimension, pairs pooled over problems
    want = _expected_ecdf(stored, per_dim=True)
    for line in ecdf_lines(views, results.hits, per_dim=True):
        evals, pairs = want[line.label]
        assert line.pairs == pairs
        np.testing.assert_allclose(line.fractions(evals), np.searchsorted(
            evals, evals, side="right") / pairs, err_msg=line.label)


def _bowl_start_value(seed: int) -> float:
    x0 = np.array([6.0, -4.0]) + np.random.default_rng(seed).normal(0.0, 0.5, 2)
    return 0.5 * float(((x0 - 1.0) ** 2).sum())


def _ackley(x) -> float:
    x = np.asarray(x, dtype=float)
    return float(-20 * np.exp(-0.2 * np.sqrt(np.mean(x**2)))
                 - np.exp(np.mean(np.cos(2 * np.pi * x))) + 20 + np.e)


def test_convergence_curves_start_at_the_start_value(main_sweep, summary):
    """Every curve's first point is f(x0) − f*, computed here from the problem's definition."""
    from optbench.bench.report.build import problem_views
    from optbench.bench.report.convergence import curves
    from optbench.bench.report.data import load_results

    starts = {"ackley(dim=2, x0=[2.5,2])": [_ackley([2.5, 2.0])] * 3,
              "problems_here.py:Bowl": [_bowl_start_value(s) for s in range(3)],
              "problems_here.py:Raises": [_bowl_start_value(s) for s in range(3)]}
    for view in problem_views(load_results(main_sweep)):
        for column in ("evaluations", "time_s"):
            drawn = curves(view, column)
            assert len(drawn) == summary[summary.problem_label == view.label] \
                .optimizer_label.nunique()
            first_x = {c[2][0] for c in drawn}  # one place for the start, on every curve
            assert len(first_x) == 1 and first_x.pop() == 1.0 if column == "evaluations" \
                else len(first_x) == 1 and all(c[2][0] <= c[2][1] for c in drawn)
            for _, label, x, median, q25, q75, n in drawn:
                assert n == 3 and len(x) == len(median) >= 2, label
                want = np.percentile(starts[view.label], [50, 25, 75])
                np.testing.assert_allclose([median[0], q25[0], q75[0]], want, rtol=1e-9,
                                           err_msg=f"{view.label} {label} {column}")
                # ... and ends at the runs' final best, from the summary rows
                rows = summary[(summary.problem_label == view.label)
                               & (summary.optimizer_label == label)]
                final = np.median(rows.f_best - (0.0 if view.f_opt is None else view.f_opt))
                if final > 1e-9:  # above the log floor
                    assert median[-1] == pytest.approx(final, rel=1e-9), (view.label, label)
                # best so far, as targets judge: a median of non-increasing runs never rises
                seen = median[np.isfinite(median)]
                assert np.all(np.diff(seen) <= 0), f"{view.label} {label} {column}"



def test_a_configuration_at_its_default_is_on_the_sensitivity_line():
    """lbfgsb next to lbfgsb(maxcor=5) is a sweep over maxcor: 10 (scipy's default m) and 5.

    The default comes from the runs' records (the runner resolves it), not from the registry.
    """
    from types import SimpleNamespace

    from optbench.bench.report.sensitivity import swept
    from optbench.bench.run.runner import resolved_hyperparameters
    from optbench.bench.sweep.spec import canonical
    from optbench.optimizers.lbfgsb import LBFGSB

    given = [{}, {}, {"maxcor": 5}, {"maxcor": 5}]
    runs = pd.DataFrame({"optimizer": ["lbfgsb"] * 4, "seed": [0, 1, 0, 1],
                         "optimizer_params": ["{}", "{}", '{"maxcor":5}', '{"maxcor":5}'],
                         "optimizer_resolved": [canonical(resolved_hyperparameters(LBFGSB, g))
                                                for g in given]})
    lines = swept(SimpleNamespace(runs=runs))
    ((optimizer, fixed, points),) = lines["maxcor"]
    assert optimizer == "lbfgsb" and fixed == ""
    assert [x for x, _ in points] == [5.0, 10.0]
    assert [len(g) for _, g in points] == [2, 2]
    assert set(lines) == {"maxcor"}  # ftol, gtol, maxls were never given: no line for them


def test_the_caption_mentions_dashed_targets_only_when_some_are_drawn():
    from types import SimpleNamespace

    from optbench.bench.report.convergence import Reference, _caption

    def caption(targets, f_opt):
        view = SimpleNamespace(targets=targets, f_opt=f_opt, per_run_optimum=False,
                               gradient="analytic", identical=set(), dim=2)
        return _caption(view, "evaluations", Reference("f" if f_opt is None else "f*"))

    assert "dashed" not in caption([], None)  # a grad_norm target alone draws no line
    assert "dashed" not in caption([0.0], 0.0)  # f − f* = 0 has no place on a log axis
    assert "dashed lines are the value targets" in caption([5e-4], 0.0)
