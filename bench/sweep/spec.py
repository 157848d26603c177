"""RunSpec: everything that determines one run's numbers, frozen, hashable, with a stable id."""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from optbench.bench.formatting import config_value


def canonical(obj: Any) -> str:
    """JSON with sorted keys and no spaces: equal specs give equal text, hence equal ids."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False)


def label(name: str, params: dict[str, Any]) -> str:
    """A short readable name of a configuration: ``adam(lr=0.01)``; ``lbfgsb`` when default."""
    if not params:
        return name
    parts = []
    for key, value in sorted(params.items()):
        if isinstance(value, dict) and len(value) == 1:
            (kind, args), = value.items()
            inner = ",".join(f"{k}={config_value(v)}" for k, v in sorted((args or {}).items()))
            value = f"{kind}[{inner}]"
        parts.append(f"{key}={config_value(value)}")
    return f"{name}({', '.join(parts)})"


@dataclass(frozen=True)
class Budget:
    """Stop when any of these is used up: oracle evaluations, iterations, wall seconds."""

    evaluations: int | None = None
    iterations: int | None = None
    seconds: float | None = None


@dataclass(frozen=True)
class Targets:
    """A run reaches its target when every target given holds at one evaluated point.

    ``value`` is on f − f* when the problem knows f*, else on f; ``distance`` is ‖x − x*‖;
    ``grad_norm`` is ‖∇f(x)‖ (checked where the optimizer asked for a gradient).
    """

    value: float | None = None
    distance: float | None = None
    grad_norm: float | None = None

    def any(self) -> bool:
        return any(v is not None for v in (self.value, self.distance, self.grad_norm))


@dataclass(frozen=True)
class RunSpec:
    problem: str
    problem_params: str  # canonical JSON of the constructor parameters
    optimizer: str
    optimizer_params: str
    seed: int
    budget: Budget = field(default_factory=Budget)
    targets: Targets = field(default_factory=Targets)
    stop_at_target: bool = True
    timeout: float | None = None  # hard wall-clock limit, enforced from outside the run
    base_dir: str = ""  # where `file.py:Class` names in the config are relative to
    sweep: str = field(default="", compare=False)
    # an in-memory problem (optbench.sweep with a function or a Problem object), pickled by
    # value with cloudpickle so that worker processes need not import the user's script
    payload: bytes | None = field(default=None, compare=False, repr=False)
    # the problem's name in tables and figures when its class gives one (Problem.title);
    # empty: label(problem, params). Display only: not part of the id
    title: str = field(default="", compare=False)

    @functools.cached_property  # once per spec (frozen: the fields cannot change)
    def stored(self) -> dict[str, Any]:
        """The spec as a run's JSON stores it: its fields, less an in-memory problem's pickled
        code (data in a results folder is never turned back into code), which ``in_memory``
        says there was: such a problem's name is not the registry's. Not to be changed."""
        data = asdict(self)
        data["in_memory"] = data.pop("payload") is not None
        return data

    @functools.cached_property  # hashed once per spec (frozen: the fields cannot change)
    def id(self) -> str:
        """A hash of what the run's numbers depend on, and of nothing machine-specific.

        ``base_dir`` only locates ``file.py:Class`` entries (and parameters naming
        ``file.py:name``), so it is left out; such an entry contributes its file's content
        instead: a config copied or moved with its plugin keeps
        its ids, and an edited plugin gets new ones (its old numbers no longer hold).
        """
        data = dict(self.stored)
        for key in ("sweep", "timeout", "base_dir", "title", "in_memory"):  # timeout: a limit;
            data.pop(key)  # an in-memory problem's code is hashed below
        named = [v for v in self.problem_kwargs.values() if isinstance(v, str)]  # jax's loss
        code = {n: _file_digest(self.base_dir, n) for n in (self.problem, self.optimizer, *named)
                if _is_file_entry(n)}
        if self.payload is not None:  # the problem's code and data, as pickled
            code[self.problem] = hashlib.sha256(self.payload).hexdigest()
        if code:
            data["code"] = code
        return hashlib.sha256(canonical(data).encode()).hexdigest()[:16]

    @property
    def problem_kwargs(self) -> dict[str, Any]:
        return json.loads(self.problem_params)

    @property
    def optimizer_kwargs(self) -> dict[str, Any]:
        return json.loads(self.optimizer_params)

    @functools.cached_property  # labels: once per spec (a run's record and its row use them)
    def problem_label(self) -> str:
        return self.title or label(self.problem, self.problem_kwargs)

    @functools.cached_property
    def optimizer_label(self) -> str:
        return label(self.optimizer, self.optimizer_kwargs)


def _is_file_entry(name: str) -> bool:
    return name.rpartition(":")[0].endswith(".py")


def _file_digest(base_dir: str, name: str) -> str:
    path = Path(base_dir) / name.rpartition(":")[0]
    try:
        return path_digest(path)
    except OSError:  # not readable here: fall back to where it was named from
        return f"missing:{path.resolve()}"


def path_digest(path: Path) -> str:
    """The sha256 of the file at ``path`` as it is now (raises OSError when unreadable)."""
    stat = path.stat()
    return _digest(str(path.resolve()), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=64)
def _digest(path: str, mtime_ns: int, size: int) -> str:
    """The file's sha256; keyed on mtime and size so an edit is seen, a re-read is not paid."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
