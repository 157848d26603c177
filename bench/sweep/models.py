"""The sweep YAML's structure as pydantic models: budgets (counts or ``N * dim``), targets,
seeds, the time limits a budget implies, the grid's size limit."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    WrapValidator,
    model_validator,
)
from pydantic.types import PositiveFloat, PositiveInt, StrictBool

from optbench.bench.sweep.spec import Budget


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


def _whole(v: Any) -> Any:
    """``evaluations: 1e5`` is a count: a whole float becomes an int."""
    return int(v) if isinstance(v, float) and v.is_integer() else v


Count = Annotated[PositiveInt, BeforeValidator(_whole)]


_NUMBER = r"(\d+(?:\.\d*)?(?:[eE][+-]?\d+)?)"


PER_DIM = re.compile(rf"^\s*(?:{_NUMBER}\s*\*\s*dim|dim\s*\*\s*{_NUMBER})\s*$")


def _count_or_per_dim(value: Any, as_count):
    """A count, or ``N * dim`` (N per dimension of each problem), kept as ``"N * dim"``."""
    if not isinstance(value, str):
        return as_count(value)
    match = PER_DIM.match(value)
    per_dim = float(match.group(1) or match.group(2)) if match else 0.0
    if not per_dim > 0:
        raise ValueError("must be a count >= 1, or 'N * dim' for N per dimension of each "
                         "problem (like 1000 * dim)")
    return f"{per_dim:g} * dim"


# a count, or the text "N * dim" resolved per problem (BudgetModel.resolve)
Scaled = Annotated[Count, WrapValidator(_count_or_per_dim),
                   PlainSerializer(lambda v: v, return_type=Any)]


def per_dimension(value: int | str | None, dim: int) -> int | None:
    """A budget count for a problem of dimension ``dim``: ``N * dim`` rounded, at least 1."""
    if not isinstance(value, str):
        return value
    return max(1, round(float(value.partition("*")[0]) * dim))


class BudgetModel(_Strict):
    evaluations: Scaled | None = None
    iterations: Scaled | None = None
    seconds: PositiveFloat | None = None

    @model_validator(mode="after")
    def _one_limit(self):
        if self.evaluations is None and self.iterations is None and self.seconds is None:
            raise ValueError("give at least one of evaluations, iterations, seconds")
        return self

    def resolve(self, dim: int) -> Budget:
        """The budget of a problem of dimension ``dim`` (``1000 * dim``: 2000 at d = 2)."""
        return Budget(evaluations=per_dimension(self.evaluations, dim),
                      iterations=per_dimension(self.iterations, dim), seconds=self.seconds)


class TargetsModel(_Strict):
    value: PositiveFloat | None = None
    distance: PositiveFloat | None = None
    grad_norm: PositiveFloat | None = None


Entry = Annotated[dict[str, Any], Field(min_length=1)]


SEEDS = "a count n >= 1 (the seeds 0..n-1) or a non-empty list of integers >= 0"


def _seeds(v: Any) -> Any:
    """One message for both spellings: pydantic's would name a union branch ('constrained-int')
    and complain about the wrong one (``seeds: []`` is 'not a valid integer')."""
    def whole(s: Any, low: int) -> bool:
        return isinstance(s, int) and not isinstance(s, bool) and s >= low

    if whole(v, 1) or (isinstance(v, list) and v and all(whole(s, 0) for s in v)):
        return v
    raise ValueError(f"must be {SEEDS}")


DEFAULT_TIMEOUT = 600.0


MAX_RUNS = 1_000_000  # a sweep's grid above this is refused unless its config raises max_runs


def timeout_margin(seconds: float) -> float:
    """Time a run may take beyond its time budget (setting up the problem, the last step)."""
    return max(5.0, 0.25 * seconds)


def timeout_follows_the_budget(model):
    """Without a timeout of its own, a time budget sets the hard limit: a run that hangs under
    ``seconds: 5`` is killed seconds after, not after the default 600 s (sweeps and studies)."""
    if "timeout" not in model.model_fields_set and model.budget.seconds is not None:
        model.timeout = min(DEFAULT_TIMEOUT, model.budget.seconds + timeout_margin(
            model.budget.seconds))
    return model


class ExperimentModel(_Strict):
    """What a sweep and a tuning study share: what runs, on what budget, within what limit."""

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=80)]
    description: str = ""
    problems: Annotated[list[Entry], Field(min_length=1)]
    optimizers: Annotated[list[Entry], Field(min_length=1)]
    budget: BudgetModel
    targets: TargetsModel = TargetsModel()
    stop_at_target: StrictBool = True
    timeout: PositiveFloat | None = DEFAULT_TIMEOUT

    @model_validator(mode="after")
    def _timeout_follows_the_budget(self):
        return timeout_follows_the_budget(self)


class SweepModel(ExperimentModel):
    seeds: Annotated[int | list[int], BeforeValidator(_seeds)] = 1
    max_runs: Count = MAX_RUNS
