"""The recorder's share of a run's time on every shipped config (issue 13: target <= 5%).

Each config's runs of its first seed, as shipped (budget, targets, trace schedule; a tune
config's runs are its optimizers' defaults, as its entry checks run them), go through
``execute`` one by one. Every method of the recorder (the trace's rows, the f, ‖∇f‖ and
distance of each, the monitor's evaluations, the final trace) is wrapped in a timer; its time
over the run's (``execute``'s wall time, problem set-up included) is the share. The timer pair
around each call is charged to the recorder, so the share is an upper bound. What stays untimed
is the oracle's one integer comparison per evaluation (does the recorder wait for it?).

Run it with ``pytest tests/benchmarks/test_bench_recorder.py --benchmark-enable -s`` (a few
minutes): it prints config, runs, run time, recorder time and share, and the run with the
highest share. In the test suite (benchmarks disabled) it runs two of the quickstart's runs on 20
evaluations, to show the table builds.
"""

import dataclasses
import functools
import os
from pathlib import Path
from time import perf_counter

import pytest

from optbench.bench.run import runner
from optbench.bench.sweep.config import load_sweep, read_config
from optbench.bench.sweep.spec import Budget
from optbench.bench.tune.config import is_tune_config, load_tune

CONFIGS = sorted((Path(__file__).parents[2] / "configs").glob("*.yaml"))
TIMED = ("record", "resolve", "before", "after", "trace")


def first_seed_specs(cfg: Path):
    raw = read_config(cfg)[1]
    specs = (load_tune(cfg).sweep if is_tune_config(raw) else load_sweep(cfg)).specs
    seed = min(s.seed for s in specs)
    return [s for s in specs if s.seed == seed]


@pytest.fixture
def timed_recorder(monkeypatch):
    """Wraps the recorder's methods (and its ``last`` property) in a timer; yields the total."""
    total, depth = [0.0], [0]

    def timer(method):
        @functools.wraps(method)
        def timed(*args, **kwargs):
            if depth[0]:  # inside another timed method (record resolving a row): counted there
                return method(*args, **kwargs)
            depth[0] += 1
            start = perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                total[0] += perf_counter() - start
                depth[0] -= 1
        return timed

    cls = runner.Recorder
    for name in TIMED:
        if hasattr(cls, name):
            monkeypatch.setattr(cls, name, timer(getattr(cls, name)))
    if isinstance(getattr(cls, "last", None), property):
        monkeypatch.setattr(cls, "last", property(timer(cls.last.fget)))
    return total


def share_of(specs, total):
    """(run seconds, recorder seconds, worst (share, label)) over ``specs`` run one by one."""
    run_s = rec_s = 0.0
    worst = (0.0, "")
    for spec in specs:
        total[0] = 0.0
        start = perf_counter()
        record = runner.execute(spec)
        elapsed = perf_counter() - start
        assert record.status.value != "error", (spec.optimizer_label, record.message)
        run_s += elapsed
        rec_s += total[0]
        worst = max(worst, (total[0] / elapsed, f"{spec.problem_label} {spec.optimizer_label}"))
    return run_s, rec_s, worst


def share_table(configs, cut: bool, total) -> list[str]:
    rows = []
    for cfg in configs:
        specs = first_seed_specs(cfg)
        if cut:  # the test suite: the table builds, on two short runs
            specs = [dataclasses.replace(s, budget=Budget(evaluations=20)) for s in specs[:2]]
        run_s, rec_s, (worst, label) = share_of(specs, total)
        assert 0 < rec_s < run_s
        rows.append(f"{cfg.stem:15s} {len(specs):4d} {run_s:8.2f} {rec_s:10.3f} "
                    f"{100 * rec_s / run_s:6.1f}%  {100 * worst:6.1f}%  {label[:58]}")
    return rows


def test_recorder_share(benchmark, timed_recorder, capsys):
    cut = benchmark.disabled
    configs = [c for c in CONFIGS if c.stem == "quickstart"] if cut else CONFIGS
    rows = benchmark.pedantic(share_table, args=(configs, cut, timed_recorder), rounds=1,
                              iterations=1)
    assert len(rows) == len(configs)
    if not cut:
        with capsys.disabled():
            print(f"\nrecorder share (load {os.getloadavg()[0]:.1f} at the end)\n"
                  "config          runs    run s recorder s  share  highest run")
            print("\n".join(rows))
