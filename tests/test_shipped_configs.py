"""The shipped configs: each runs as shipped (on a cut budget) and gets its report, and the
claims their comments and the README make about who reaches a target hold. A tune config is
validated by the tune loader; its runs here are each optimizer's defaults and the low end of
every range of its search space."""

import dataclasses
import json
from pathlib import Path

import pytest

from optbench.bench.report.build import build_report
from optbench.bench.results.records import Status
from optbench.bench.results.store import Store
from optbench.bench.run.runner import execute
from optbench.bench.sweep.config import load_sweep, read_config
from optbench.bench.sweep.spec import Budget
from optbench.bench.tune.config import is_tune_config, load_tune

CONFIGS = sorted((Path(__file__).parent.parent / "configs").glob("*.yaml"))


def _low_end(distribution):
    """The first value a space offers: the low end of a range, the first choice."""
    return distribution.low if hasattr(distribution, "low") else distribution.choices[0]


def _loaded(cfg: Path):
    """(name, config text, specs) of a sweep, or of a tune config through the tune loader."""
    if not is_tune_config(read_config(cfg)[1]):
        sweep = load_sweep(cfg)
        return sweep.name, sweep.text, sweep.specs
    tune = load_tune(cfg)
    seed = tune.settings.seeds[0]
    specs = []
    for plan in tune.plans:
        low = plan.space.draw(lambda _name, distribution: _low_end(distribution))
        specs += [plan.base[seed], plan.spec(seed, low)]
    return tune.name, tune.text, specs


def test_tune_configs_are_recognised():
    assert [c.stem for c in CONFIGS if is_tune_config(read_config(c)[1])] == ["ackley_tune"]


@pytest.mark.parametrize("cfg", CONFIGS, ids=[c.stem for c in CONFIGS])
def test_every_shipped_config_runs_and_reports(cfg, tmp_path):
    """One spec per optimizer configuration, seed and budget cut to 30 evaluations."""
    name, text, specs = _loaded(cfg)
    firsts = {}
    for spec in specs:
        firsts.setdefault((spec.problem_params, spec.optimizer, spec.optimizer_params), spec)
    store = Store(tmp_path / name)
    store.prepare()
    store.write_text("config.yaml", text)
    for spec in firsts.values():
        record = execute(dataclasses.replace(spec, budget=Budget(evaluations=30)))
        assert not record.status.failed, (spec.optimizer_label, record.message)
        store.save(record)
    store.write_summary()
    page = build_report(store.root, quiet=True)
    assert page is not None and page.is_file()
    assert list((store.root / "figures").glob("convergence-evals-*"))


def _nag_specs(cfg: str, kind: str):
    sweep = load_sweep(Path(__file__).parent.parent / "configs" / cfg)
    return [s for s in sweep.specs
            if s.optimizer == "nag" and kind in str(json.loads(s.optimizer_params)["lr"])]


def _is_threads_schedule(spec) -> bool:
    return json.loads(spec.optimizer_params)["lr"]["piecewise"]["boundaries"] == [5, 10]


@pytest.mark.parametrize("kind", ["piecewise", "cosine"])
def test_shipped_nag_schedules_reach_the_threads_target(kind):
    """README and ackley_nag.yaml: from (25, 20) these reach distance 2e-4 and value 5e-4."""
    (spec,) = [s for s in _nag_specs("ackley_nag.yaml", kind)
               if kind != "piecewise" or not _is_threads_schedule(s)]
    record = execute(spec)
    assert record.status is Status.TARGET, record.message
    assert record.f_best <= 5e-4  # Ackley's f* = 0 at 0


def test_the_threads_own_setting_does_not():
    """The thread's piecewise schedule with γ = 0.2 stalls on a ripple, as the thread reports."""
    (spec,) = [s for s in _nag_specs("ackley_nag.yaml", "piecewise")
               if _is_threads_schedule(s) and json.loads(s.optimizer_params)["momentum"] == 0.2]
    record = execute(spec)
    assert record.status is Status.BUDGET and record.f_final > 5e-4
