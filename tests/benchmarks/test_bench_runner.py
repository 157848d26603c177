"""The runner's parallel speed-up (issue 4); its per-step overhead is in test_bench_adam.py.

- A CPU-bound sweep of 40 runs with --workers 2 against --workers 1: target speed-up >= 1.8.
"""

import textwrap

import pytest

from optbench.bench.cli.main import main

SWEEP = """
name: cpu-bound
problems:
  - ackley: {dim: 2}
optimizers:
  - adam: {lr: [0.01, 0.1, 0.3, 1.0]}
seeds: 10
budget: {evaluations: 30000}
"""


@pytest.fixture
def sweep_file(tmp_path, benchmark):
    # untimed runs (the test suite's --benchmark-disable) only check that the sweep works
    evaluations = "300" if benchmark.disabled else "30000"
    path = tmp_path / "sweep.yaml"
    path.write_text(textwrap.dedent(SWEEP).replace("30000", evaluations))
    return path


def _sweep(path, out, workers):
    code = main(["run", str(path), "--out", str(out), "--workers", str(workers), "--quiet",
                 "--force", "--no-report", "--no-check"])
    assert code == 0


@pytest.mark.benchmark(group="sweep of 40 runs")
def test_baseline_one_worker(benchmark, sweep_file, tmp_path):
    benchmark.pedantic(_sweep, args=(sweep_file, tmp_path / "w1", 1), rounds=2, iterations=1)


@pytest.mark.benchmark(group="sweep of 40 runs")
def test_two_workers(benchmark, sweep_file, tmp_path):
    benchmark.pedantic(_sweep, args=(sweep_file, tmp_path / "w2", 2), rounds=2, iterations=1)
