"""COCO's measures (bench/report/coco.py) against the stored runs read by hand: ERT per target,
failed runs included, and the ECDF's pairs; the figures of a sweep over d = 2 and d = 5."""

import json
import math
from collections import defaultdict

import pytest

import optbench
from optbench.bench.report.build import build_report
from optbench.bench.report.coco import coco_report, ecdf_points, ert_table, load_runs
from optbench.bench.report.figures import optimizer_colors
from optbench.bench.results.records import RunRecord
from optbench.bench.results.status import Status
from optbench.bench.results.store import Store
from optbench.bench.sweep.config import sweep_from_mapping

CONFIG = {
    "name": "coco-measures",
    "problems": [{"bbob": {"function": [8, 10], "dim": [2, 5]}},
                 {"bbob": {"function": 1, "dim": [2, 5]}, "targets": {"value": 1e-2}}],
    "optimizers": ["nelder-mead", {"nag": {"lr": 1e-2, "momentum": 0.9}}, {"adam": {"lr": 0.1}}],
    "seeds": 3,
    "budget": {"evaluations": "150 * dim"},
    "targets": {"value": 1e-8},
}


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("coco") / "coco-measures"
    optbench.sweep(CONFIG, out=out, workers=0, progress=False)
    # two runs killed from outside at their time limit (the executor's record: no counts)
    store = Store(out)
    extra = [s for s in sweep_from_mapping({**CONFIG, "seeds": [3]}).specs
             if s.optimizer == "adam" and s.problem_kwargs["function"] == 8]
    for spec in extra:
        store.save(RunRecord(spec, Status.TIMEOUT, "killed after the hard limit of 600 s",
                             wall_time_s=600.0))
    store.select(store.selected_ids() | {s.id for s in extra})
    return out


def by_hand(folder) -> dict[tuple[str, str, int], float]:
    """ERT from the JSON files: hit evaluations, else n_eval (a timeout: its budget)."""
    docs = [json.loads(p.read_text()) for p in (folder / "runs").glob("*.json")]
    out = {}
    for k in range(51):
        delta_f = 10.0 ** (2 - k / 5)
        total, successes = defaultdict(int), defaultdict(int)
        for doc in docs:
            s, spec = doc["summary"], doc["spec"]
            value = spec["targets"]["value"]
            if spec["stop_at_target"] and value is not None and delta_f < value * (1 - 1e-9):
                continue  # it stopped at its target above Δf: never allowed to reach it
            key = (s["problem_label"], s["optimizer_label"], k)
            hits = [e for p, e, _ in doc["hits"] if math.isclose(p, delta_f, rel_tol=1e-9)]
            if hits:
                total[key] += hits[0]
                successes[key] += 1
            elif s["status"] == "timeout":
                total[key] += spec["budget"]["evaluations"]
            else:
                total[key] += s["n_eval"]
        for key in total:
            out[key] = total[key] / successes[key] if successes[key] else math.inf
    return out


def test_ert_equals_ert_by_hand_failures_included(folder):
    table = ert_table(load_runs(folder))
    ours = {(r.problem, r.configuration, round((2 - math.log10(r.target)) * 5)): r.ert
            for r in table.itertuples()}
    expected = by_hand(folder)
    assert ours == expected
    statuses = {json.loads(p.read_text())["summary"]["status"]
                for p in (folder / "runs").glob("*.json")}
    assert {"diverged", "timeout", "target"} <= statuses  # failures are in the sums
    assert math.inf in expected.values()  # targets no run reached
    assert any(0 < v < math.inf for v in expected.values())
    f1 = table[(table["function"] == 1) & (table["dim"] == 2)]
    assert f1["target"].min() == pytest.approx(1e-2)  # runs stopped at 1e-2 count only above


def test_ecdf_pairs_are_the_hits(folder):
    """Pairs (run, Δf) at d = 5: 51 per run, less those below the target a run stopped at."""
    runs = [r for r in load_runs(folder) if r.dim == 5]
    x, pairs = ecdf_points(runs)
    hits, expected_pairs = [], 0
    for path in (folder / "runs").glob("*.json"):
        doc = json.loads(path.read_text())
        if json.loads(doc["spec"]["problem_params"])["dim"] != 5:
            continue
        value = doc["spec"]["targets"]["value"]
        expected_pairs += sum(10.0 ** (2 - k / 5) >= value * (1 - 1e-9) for k in range(51))
        hits += [e / 5 for p, e, _ in doc["hits"] if p >= value * (1 - 1e-9)]
    assert list(x) == sorted(hits)
    assert pairs == expected_pairs and len(runs) == 3 * 3 * 3 + 1


def test_the_tables_and_figures(folder):
    figures, notes = coco_report(folder, optimizer_colors(["nelder-mead", "nag", "adam"]))
    assert [f.path.name for f in figures] == ["coco-ecdf-2d.png", "coco-ecdf-5d.png",
                                              "coco-scaling.png"] and notes == []
    assert all(f.path.is_file() for f in figures)
    md = (folder / "tables" / "ert.md").read_text()
    assert "| bbob f8 Rosenbrock original (moderate), 2-D | nelder-mead |" in md


def test_the_report_shows_them_and_skips_them_where_they_do_not_apply(tmp_path):
    small = {"name": "small", "problems": [{"bbob": {"function": 1, "dim": [3, 4]}}],
             "optimizers": ["nelder-mead"], "budget": {"evaluations": 40}}
    optbench.sweep(small, out=tmp_path / "small", workers=0, progress=False)
    page = build_report(tmp_path / "small", quiet=True).with_suffix(".md").read_text()
    assert "figures/coco-scaling.png" in page and "ERT against dimension" in page
    assert "figures/coco-ecdf-4d.png" in page
    plain = {**small, "name": "plain", "problems": [{"ackley": {"dim": 3}}]}
    optbench.sweep(plain, out=tmp_path / "plain", workers=0, progress=False)
    assert coco_report(tmp_path / "plain", {}) == ([], [])
    assert not (tmp_path / "plain" / "tables" / "ert.csv").exists()
