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

from bench.cli import main
from bench.oracle import LADDER
from bench.report import build_report

PROBLEMS = '''
import numpy as np
from problems.base import Problem


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

FAILED = {"diverged", "nan", "error", "timeout"}


def _sweep(folder: Path, text: str, report: bool = False) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "problems_here.py").write_text(PROBLEMS)
    cfg = folder / "sweep.yaml"
    cfg.write_text(textwrap.dedent(text))
    out = folder / "out"
    args = ["run", str(cfg), "--out", str(out), "--workers", "0", "--quiet"]
    assert main(args + ([] if report else ["--no-report"])) == 0
    return out


@pytest.fixture(scope="module")
def main_sweep(tmp_path_factory):
    out = _sweep(tmp_path_factory.mktemp("main"), MAIN)
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
    assert len(pngs) == 15
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
               ("target", "converged", "budget", "diverged", "nan", "error", "timeout")},
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
        best = min(g.itertuples(), key=key).configuration
        marked = table[(table.problem == problem) & table.best].configuration.tolist()
        assert marked == [best], problem


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
        statuses = [f"{s} {n}" for s in ("target", "converged", "budget", "diverged", "nan",
                                         "error", "timeout") if (n := getattr(r, f"n_{s}"))]
        assert row.split("|")[-2].strip(" *") == ", ".join(statuses)
        assert ("**★" in row) == bool(r.best)
    assert tex.count(r"\begin{tabular}") == table.problem.nunique()
    assert tex.count(r"\textbf{$\star$") == table.problem.nunique()
    assert tex.count(r"\toprule") == tex.count(r"\bottomrule")


def test_ecdf_targets_are_the_ladder_from_1e_1_to_1e_8():
    from bench.plots_ecdf import TARGET_KEYS, reached

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
    assert svgs == {"convergence-evals", "convergence-time", "ecdf", "ecdf-all-problems",
                    "trajectory", "sensitivity"}
    assert not list((out / "figures").glob("*.png"))
    parser = _Links()
    parser.feed((out / "report.html").read_text())
    assert parser.images and all(src.endswith(".svg") for src in parser.images)
    assert all((out / src).is_file() for src in parser.images)


def test_problem_without_known_minimum(tmp_path, capsys):
    out = _sweep(tmp_path, NO_MINIMUM, report=True)  # `optbench run` builds the report itself
    assert (out / "report.html").is_file() and (out / "report.md").is_file()
    capsys.readouterr()
    assert main(["report", str(out)]) == 0
    err = capsys.readouterr().err
    assert "no known minimum f*" in err and "no ECDF" in err
    assert "no 2-D problem" in err
    names = {p.stem.split("-group")[0] for p in (out / "figures").iterdir()}
    assert names == {"convergence-evals", "convergence-time", "sensitivity"}
    assert "no known minimum f*" in (out / "report.md").read_text()
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
    code = ("import sys, bench.cli, bench.report; "
            "print(sorted(m for m in ('pandas', 'matplotlib') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).parents[1])
    assert out.stdout.strip() == "[]"
