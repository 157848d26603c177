"""``optbench report A B`` and ``optbench.load(A, B)``: one report of two real sweeps, its tables
checked against the two folders' summary.csv read here with pandas; exit codes and one-line
refusals; a damaged run of one folder named and left out.
"""

import json
import shutil
import textwrap

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

import optbench
from optbench.bench.cli.main import main
from optbench.bench.results.lock import FolderLock

# A at d = 2; B at d = 2 and d = 5. adam(lr=0.1) on ackley(dim=2) is in both (same spec, so the
# same run ids too); adam(lr=0.5) and lbfgsb only in A, nag only in B.
A = """
name: sweep-a
problems:
  - ackley: {dim: 2}
    targets: {value: 1.0e-2}
optimizers:
  - adam: {lr: [0.1, 0.5]}
  - lbfgsb: {}
seeds: 3
budget: {evaluations: 100 * dim}
"""
B = """
name: sweep-b
problems:
  - ackley: {dim: [2, 5]}
    targets: {value: 1.0e-2}
optimizers:
  - adam: {lr: 0.1}
  - nag: {lr: 0.05, momentum: 0.9}
seeds: 3
budget: {evaluations: 100 * dim}
"""


def _sweep(folder, name, text):
    cfg = folder / f"{name}.yaml"
    cfg.write_text(textwrap.dedent(text))
    out = folder / name
    assert main(["run", str(cfg), "--out", str(out), "--workers", "0", "--quiet",
                 "--no-report"]) == 0
    return out


@pytest.fixture(scope="module")
def sweeps(tmp_path_factory):
    base = tmp_path_factory.mktemp("several")
    a, b = _sweep(base, "a", A), _sweep(base, "b", B)
    assert main(["report", str(a), str(b)]) == 0  # default: beside a, named a+b
    return a, b, base / "a+b"


def expected_table(a, b):
    """Per (problem, configuration): what the combined table must say, from summary.csv."""
    frames = [pd.read_csv(folder / "summary.csv").assign(sweep=folder.name) for folder in (a, b)]
    runs = pd.concat(frames, ignore_index=True)
    both = runs.groupby(["problem_label", "optimizer_label"])["sweep"].nunique()
    clash = {label for (_, label), n in both.items() if n > 1}
    runs["configuration"] = [f"{s}: {c}" if c in clash else c
                             for s, c in zip(runs["sweep"], runs["optimizer_label"], strict=True)]
    rows = {}
    for (problem, config), g in runs.groupby(["problem_label", "configuration"]):
        hit = g["target_hit"].astype(bool)
        rows[problem, config] = {
            "sweep": g["sweep"].iloc[0], "runs": len(g), "successes": int(hit.sum()),
            "f_final_median": float(np.median(g["f_final"])),
            "evals_to_target_median": float(np.median(g.loc[hit, "fev_to_target"]))
            if hit.any() else np.nan,
            "wall_time_s_median": float(np.median(g["wall_time_s"])),
        }
    return rows, clash


def test_tables_put_both_sweeps_side_by_side(sweeps):
    a, b, out = sweeps
    expected, clash = expected_table(a, b)
    assert clash == {"adam(lr=0.1)"}
    table = pd.read_csv(out / "tables" / "per_config.csv")
    assert set(zip(table["problem"], table["configuration"], strict=True)) == set(expected)
    assert {("ackley(dim=2)", "a: adam(lr=0.1)"), ("ackley(dim=2)", "b: adam(lr=0.1)"),
            ("ackley(dim=2)", "lbfgsb"), ("ackley(dim=5)", "nag(lr=0.05, momentum=0.9)")} \
        <= set(expected)
    for row in table.itertuples():
        want = expected[row.problem, row.configuration]
        assert (row.sweep, row.runs, row.successes) == (want["sweep"], want["runs"],
                                                        want["successes"])
        for column in ("f_final_median", "evals_to_target_median", "wall_time_s_median"):
            assert getattr(row, column) == pytest.approx(want[column], rel=1e-12, nan_ok=True)
    assert table.groupby("problem")["best"].sum().to_dict() == {"ackley(dim=2)": 1,
                                                               "ackley(dim=5)": 1}
    md = (out / "tables" / "per_config.md").read_text()
    assert "| configuration | sweep | runs |" in md and "| b: adam(lr=0.1) | b | 3 |" in md
    page = (out / "report.md").read_text()
    assert page.startswith("# optbench report: a + b\n") and f"from {a}, {b}." in page
    assert json.loads((out / "sources.json").read_text()) == {
        "a": {"folder": str(a), "resolved": str(a.resolve()), "runs": 9},
        "b": {"folder": str(b), "resolved": str(b.resolve()), "runs": 12}}


def test_figures_cover_the_union(sweeps):
    """ERT against dimension needs both folders: d = 2 is in A (and B), d = 5 only in B."""
    _, b, out = sweeps
    figures = {p.name for p in (out / "figures").glob("*.png")}
    assert {"coco-scaling.png", "ecdf-all-problems.png", "convergence-evals-ackley-dim-2.png",
            "convergence-evals-ackley-dim-5.png"} <= figures
    ert = pd.read_csv(out / "tables" / "ert.csv")
    assert set(ert["configuration"]) == {"a: adam(lr=0.1)", "b: adam(lr=0.1)", "adam(lr=0.5)",
                                         "lbfgsb", "nag(lr=0.05, momentum=0.9)"}
    # ERT at Δf = 1, by hand: evaluations summed over the runs (a miss: all it used) / hits
    runs = [json.loads(p.read_text()) for p in (b / "runs").glob("*.json")]
    nag5 = [r for r in runs if r["summary"]["optimizer"] == "nag"
            and r["summary"]["problem_label"] == "ackley(dim=5)"]
    reached = [min((e for p, e, *_ in r["hits"] if p <= 1 + 1e-9), default=None)
               for r in nag5]
    total = sum(e if e is not None else r["summary"]["n_eval"]
                for e, r in zip(reached, nag5, strict=True))
    hits = sum(e is not None for e in reached)
    row = ert[(ert["problem"] == "ackley(dim=5)") & (ert["configuration"] ==
                                                     "nag(lr=0.05, momentum=0.9)")]
    row = row[np.isclose(row["target"], 1.0)].iloc[0]
    assert (row["successes"], row["runs"]) == (hits, 3)
    assert row["ert"] == (pytest.approx(total / hits) if hits else np.inf)


def test_load_of_several_matches_the_folders(sweeps):
    a, b, out = sweeps
    both = optbench.load(a, b)
    assert both.root == out and repr(both) == f"Results({str(a)!r} + {str(b)!r}: 21 runs)"
    summary = both.summary
    assert list(summary.columns[:2]) == ["source", "run_id"] and summary["run_id"].is_unique
    assert summary["source"].value_counts().to_dict() == {"b": 12, "a": 9}
    # adam(lr=0.1) on ackley(dim=2) is one spec in both folders: its ids name their folder
    shared = set(pd.read_csv(a / "summary.csv")["run_id"]) & \
        set(pd.read_csv(b / "summary.csv")["run_id"])
    assert len(shared) == 3
    assert {f"{s}/{rid}" for s in "ab" for rid in shared} <= set(summary["run_id"])
    rid = next(iter(shared))
    traces = both.traces([f"b/{rid}"])
    direct = pq.read_table(b / "runs" / f"{rid}.parquet").to_pandas()
    assert np.array_equal(traces["f"].to_numpy(), direct["f"].to_numpy())
    assert both.table()["configuration"].tolist() == \
        pd.read_csv(out / "tables" / "per_config.csv")["configuration"].tolist()


def _error(capsys, *args) -> str:
    assert main(["report", *map(str, args)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("optbench: error: ")
    return err


def test_refusals_are_one_line_exit_2(sweeps, tmp_path, capsys):
    a, b, _ = sweeps
    missing = tmp_path / "nope"
    assert f"{missing} is not a results folder" in _error(capsys, a, missing)
    assert "given twice" in _error(capsys, a, b, a)
    assert "--out" in _error(capsys, a, b, "--out", b)
    with pytest.raises(optbench.UsageError, match="is not a results folder"):
        optbench.load(a, missing)
    with FolderLock(tmp_path / "held"):  # another writer holds the report's folder
        assert "is being written by" in _error(capsys, a, b, "--out", tmp_path / "held")


def test_a_damaged_run_is_named_and_left_out(sweeps, tmp_path, capsys):
    a, b, _ = sweeps
    copy = tmp_path / "a"
    shutil.copytree(a, copy)
    victim = pd.read_csv(a / "summary.csv").query("optimizer == 'lbfgsb'")["run_id"].iloc[0]
    (copy / "runs" / f"{victim}.json").write_text("{ cut short")
    assert main(["report", str(copy), str(b), "--out", str(tmp_path / "both")]) == 0
    err = capsys.readouterr().err
    stored = len(pd.read_csv(a / "summary.csv"))
    assert f"1 of the {stored} stored runs of {copy} is damaged and left out: " in err
    assert victim in err
    table = pd.read_csv(tmp_path / "both" / "tables" / "per_config.csv")
    assert table.set_index("configuration").loc["lbfgsb", "runs"] == 2
    assert optbench.load(copy, b)._results.damaged.keys() == {f"a/{victim}"}


BOWL = '''
import numpy as np
from optbench.problems.base import Problem


class Bowl(Problem):
    name = "bowl"

    def __init__(self):
        self.dim, self.x_opt, self.f_opt = 2, np.ones(2), 0.0

    def initial_point(self, rng):
        return np.array([3.0, -2.0])

    def value_and_grad(self, x):
        return 0.5 * float((x - 1) @ (x - 1)), x - 1.0

    def value(self, x):
        return self.value_and_grad(x)[0]
'''


def test_it_imports_nothing_a_folder_names(sweeps, tmp_path):
    """A plugin file that now exits when imported: the report of its folder and another is
    built from the stored runs alone."""
    a, _, _ = sweeps
    (tmp_path / "bowl.py").write_text(BOWL)
    plugin = _sweep(tmp_path, "plugin", "name: plugin\nproblems:\n  - bowl.py:Bowl: {}\n"
                                        "optimizers:\n  - lbfgsb: {}\nbudget: {evaluations: 50}\n")
    (tmp_path / "bowl.py").write_text("raise SystemExit('imported by the report')\n")
    assert main(["report", str(a), str(plugin), "--out", str(tmp_path / "both")]) == 0
    table = pd.read_csv(tmp_path / "both" / "tables" / "per_config.csv")
    assert table.set_index("problem").loc["bowl.py:Bowl", "sweep"] == "plugin"
