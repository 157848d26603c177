"""Rebuilding the report of a 1,000-run sweep (issues 5 and 13): target under a minute on 2 cores.

The sweep is Ackley 2-D with a 2,000-evaluation budget, as long as the quickstart's runs (each
trace 72 records on the recorder's log-spaced schedule): Adam and NAG over ten learning rates,
fifty seeds each. Untimed runs (the test suite's --benchmark-disable) use two seeds, 40 runs,
so the ordinary suite only checks that the benchmark works. The time printed is the rebuild's
alone (the sweep is run first, untimed).
"""

import textwrap

import pandas as pd
import pytest

from optbench.bench.cli.main import main
from optbench.bench.report.build import build_report

SWEEP = """
name: report-1000
problems:
  - ackley: {dim: 2}
    targets: {value: 1.0e-2}
optimizers:
  - adam: {lr: [0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0]}
  - nag: {lr: [0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0], momentum: 0.9}
seeds: SEEDS
budget: {evaluations: 2000}
"""


@pytest.fixture
def results(tmp_path, benchmark):
    seeds = 2 if benchmark.disabled else 50
    cfg = tmp_path / "sweep.yaml"
    cfg.write_text(textwrap.dedent(SWEEP).replace("SEEDS", str(seeds)))
    out = tmp_path / "out"
    assert main(["run", str(cfg), "--out", str(out), "--workers", "2", "--quiet",
                 "--no-report", "--no-check"]) == 0
    assert len(pd.read_parquet(out / "summary.parquet")) == 20 * seeds
    return out


@pytest.mark.benchmark(group="report")
def test_rebuild_report_of_1000_runs(benchmark, results):
    page = benchmark.pedantic(build_report, args=(results,), kwargs={"quiet": True},
                              rounds=1, iterations=1)
    assert page == results / "report.html"
    # convergence against evaluations and time, ECDF, trajectory, sensitivity (one problem, so
    # no separate all-problems ECDF)
    assert len(list((results / "figures").glob("*.png"))) == 5
    if not benchmark.disabled:
        assert benchmark.stats.stats.max < 60.0
