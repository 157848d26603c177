"""``optbench.run``: one run of one optimizer on one problem, through the runner the CLI uses."""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from optbench.bench.errors import ConfigError
from optbench.bench.results.records import RunRecord
from optbench.bench.sweep.spec import RunSpec, Targets, canonical
from optbench.problems.base import Problem

__all__ = ["RunResult", "run"]

DEFAULT_BUDGET = {"evaluations": 10_000}


@dataclass
class RunResult:
    """How one run ended: ``status`` (``target``, ``converged``, ``budget``, or a failure:
    ``failed``, ``diverged``, ``nan``, ``error``, ``timeout``), its ``message``, the last
    iterate ``x`` and its value ``f``, the best value evaluated ``f_best``, the counts, and the
    ``trace`` (one row per recorded iteration, with the iterate ``x`` of each row)."""

    problem: str
    optimizer: str
    status: str
    message: str
    x: np.ndarray | None
    f: float
    f_best: float
    evaluations: int
    iterations: int
    time_s: float
    target_hit: bool
    record: RunRecord = field(repr=False)

    @property
    def failed(self) -> bool:
        """Whether the run failed (a failure of the method or of the user's code)."""
        return self.record.status.failed

    @property
    def trace(self):
        """The recorded iterations as a DataFrame: iteration, evaluations, n_fev, n_gev,
        time_s, f, f_best, grad_norm, dist, and ``x`` (the iterate, an array per row)."""
        import pandas as pd

        df = pd.DataFrame({k: v for k, v in self.record.trace.items()
                           if not k.startswith("x_")})
        if self.record.iterates is not None and len(self.record.iterates) == len(df):
            df["x"] = self.record.iterates
        return df

    def plot(self, ax=None):
        """f − f* (or f) against evaluations, best so far, on a log axis when all positive;
        returns the matplotlib figure."""
        from optbench.bench.report.figures import new_figure, style

        trace = self.trace
        f_opt = self.record.f_opt
        y = trace["f_best"] - (f_opt or 0.0)
        with style():
            if ax is None:
                fig, (ax,) = new_figure(6.0, 3.6)
            else:
                fig = ax.figure
            ax.step(trace["evaluations"], y, where="post")
            if (y > 0).all():
                ax.set_yscale("log")
            ax.set_xlabel("evaluations")
            ax.set_ylabel("best f − f*" if f_opt is not None else "best f")
            ax.set_title(f"{self.optimizer} on {self.problem}: {self.status}")
        return fig


def run(problem: Problem | Callable | str | Mapping[str, Any], optimizer: str, *,
        x0: Any = None, seed: int = 0, budget: Mapping[str, Any] | None = None,
        targets: Mapping[str, Any] | None = None, stop_at_target: bool = True,
        **hyperparameters: Any) -> RunResult:
    """Run ``optimizer`` on ``problem`` once, as one run of a sweep would, and return its result.

    ``problem`` is a problem object, a plain function (see ``optbench.problem``; give ``x0``),
    a registered name (``"ackley"``) or ``{"ackley": {"dim": 5}}``; ``optimizer`` a registered
    name, its hyperparameters as keywords (``lr=0.1``). ``budget`` and ``targets`` take the
    keys of the YAML sections (default budget: 10,000 evaluations); ``seed`` draws the start
    when ``x0`` is not given. Runs in this process, with no hard time limit.

    Example::

        result = optbench.run(cost, "lbfgsb", x0=theta0, budget={"evaluations": 500})
        result.status, result.f, result.trace
    """
    from optbench.bench.plugins import make_optimizer
    from optbench.bench.run.runner import execute

    if not isinstance(optimizer, str):
        raise ConfigError(f"run: optimizer must be a registered name (see `optbench list`), "
                          f"got {type(optimizer).__name__}")
    make_optimizer(optimizer, hyperparameters)  # a bad name or value raises here, typed
    prob, name, params = _problem(problem, seed, x0)
    spec = RunSpec(problem=name, problem_params=canonical(params), optimizer=optimizer,
                   optimizer_params=_canonical(hyperparameters), seed=seed,
                   budget=_section("budget", budget or DEFAULT_BUDGET, prob.dim),
                   targets=_section("targets", targets or {}),
                   stop_at_target=stop_at_target, timeout=None,
                   title=(type(prob).title(params) or "") if isinstance(problem, str | Mapping)
                   and isinstance(prob, Problem) else "")
    record = execute(spec, problem=prob, keep_x=True)
    return RunResult(
        problem=spec.problem_label, optimizer=spec.optimizer_label,
        status=record.status.value, message=record.message, x=record.x_final,
        f=record.f_final, f_best=record.f_best, evaluations=record.n_eval,
        iterations=record.n_iter, time_s=record.wall_time_s, target_hit=record.target_hit,
        record=record,
    )


def _problem(problem: Any, seed: int, x0: Any) -> tuple[Problem, str, dict[str, Any]]:
    """The problem object, its name and its parameters (for labels)."""
    from optbench.bench.plugins import make_problem
    from optbench.problems.function import as_problem

    if isinstance(problem, str | Mapping):
        name, params = (problem, {}) if isinstance(problem, str) else _single(problem)
        prob = make_problem(name, dict(params), ".", seed)
    else:
        if x0 is not None and callable(problem) and not isinstance(problem, Problem):
            prob, x0 = as_problem(problem, x0=x0), None
        else:
            prob = as_problem(problem)
        name, params = prob.name or type(prob).__name__, {}
    if x0 is not None:  # the given start, on a copy: the caller's object is left as it was
        start = np.array(x0, dtype=float).ravel()
        prob = copy.copy(prob)
        prob.initial_point = lambda rng: start.copy()
    return prob, name, params


def _single(entry: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]]:
    if len(entry) != 1:
        raise ConfigError(f"run: a problem mapping names one problem, like {{'ackley': "
                          f"{{'dim': 2}}}}, got keys {list(entry)}")
    (name, params), = entry.items()
    return name, params or {}


def _canonical(hyperparameters: dict[str, Any]) -> str:
    try:
        return canonical(hyperparameters)
    except (TypeError, ValueError):
        raise ConfigError("run: hyperparameters must be numbers, strings, booleans, lists or "
                          "mappings (as in YAML)") from None


def _section(key: str, value: Mapping[str, Any], dim: int = 0) -> Any:
    """``budget``/``targets`` validated as the YAML's sections are; a budget per dimension
    (``1000 * dim``) resolved for the problem's ``dim``."""
    from pydantic import ValidationError

    from optbench.bench.sweep.messages import pydantic_line
    from optbench.bench.sweep.models import BudgetModel, TargetsModel

    model = BudgetModel if key == "budget" else TargetsModel
    try:
        checked = model.model_validate(dict(value))
    except ValidationError as e:
        raise ConfigError(f"run: {pydantic_line(e, model, (key,))}") from None
    return checked.resolve(dim) if key == "budget" else Targets(**checked.model_dump())
