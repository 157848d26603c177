"""The runner's parallel speed-up (issues 4, 13); its per-step overhead is in test_bench_adam.py,
its per-run overhead in test_bench_trivial_runs.py.

- A CPU-bound sweep of 40 runs with --workers 2 against --workers 1: target speed-up >= 1.9.
  The two alternate (1, 2, 1, 2...) through ``main()`` in this process; the medians of wall time
  are printed, with the machine's load (a speed-up needs two idle cores).
- A worker's start-up: from starting a pool of one to the first trivial run's record back
  (a fresh interpreter, the imports ``execute`` needs, the pipe), median of 5.

Timed: ``pytest tests/benchmarks/test_bench_runner.py --benchmark-enable -s``.
"""

import os
import statistics
import textwrap
import time

from optbench.bench.cli.main import main
from optbench.bench.run.pool import imap
from optbench.bench.run.runner import execute, hold_one_blas_thread
from optbench.bench.sweep.spec import Budget, RunSpec

SWEEP = """
name: cpu-bound
problems:
  - ackley: {dim: 2}
optimizers:
  - adam: {lr: [0.01, 0.1, 0.3, 1.0]}
seeds: 10
budget: {evaluations: 30000}
"""
ROUNDS = 3


def _sweep(path, out, workers) -> float:
    t0 = time.perf_counter()
    code = main(["run", str(path), "--out", str(out), "--workers", str(workers), "--quiet",
                 "--force", "--no-report", "--no-check"])
    assert code == 0
    assert len(list((out / "runs").glob("*.json"))) == 40
    return time.perf_counter() - t0


def test_sweep_of_40_runs_two_workers_against_one(benchmark, tmp_path, capsys):
    # untimed runs (the test suite's --benchmark-disable) only check that the sweep works
    evaluations = "300" if benchmark.disabled else "30000"
    rounds = 1 if benchmark.disabled else ROUNDS
    path = tmp_path / "sweep.yaml"
    path.write_text(textwrap.dedent(SWEEP).replace("30000", evaluations))
    times: dict[int, list[float]] = {1: [], 2: []}

    def interleaved():
        for _ in range(rounds):
            for workers in (1, 2):
                times[workers].append(_sweep(path, tmp_path / f"w{workers}", workers))

    benchmark.pedantic(interleaved, rounds=1, iterations=1)
    if benchmark.disabled:
        return
    one, two = statistics.median(times[1]), statistics.median(times[2])
    with capsys.disabled():
        print(f"\n40 runs, median of {rounds} interleaved: --workers 1 {one:.2f} s, "
              f"--workers 2 {two:.2f} s, speed-up {one / two:.2f} "
              f"(load {os.getloadavg()[0]:.2f})")


def test_worker_start_up(benchmark, capsys):
    spec = RunSpec("ackley", '{"dim":2}', "adam", "{}", 0, budget=Budget(iterations=1))

    def start_and_run_one() -> float:
        t0 = time.perf_counter()
        (outcome,) = imap(execute, [spec], 1, initializer=hold_one_blas_thread)
        assert outcome.kind == "done" and outcome.value.n_iter == 1
        return time.perf_counter() - t0

    rounds = 1 if benchmark.disabled else 5
    seconds = [start_and_run_one() for _ in range(rounds)]
    benchmark.pedantic(lambda: None, rounds=1, iterations=1)  # timed above, by hand
    if not benchmark.disabled:
        with capsys.disabled():
            print(f"\nworker start-up to the first record back: median "
                  f"{statistics.median(seconds):.3f} s of {rounds} "
                  f"(load {os.getloadavg()[0]:.2f})")
