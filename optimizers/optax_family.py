"""``optax:<name>``: any optimizer of optax by its function name, in float64, one update per step.

One step, with t = 1, 2, ...::

    g = oracle.grad(x)                                  one gradient (value too for polyak_sgd)
    updates, state = tx.update(g, state, x, value=f)    tx = optax.<name>(learning_rate, **kwargs)
    x = optax.apply_updates(x, updates)

The update and its application are one ``jax.jit``-compiled function (compiled once per name,
arguments and dimension in a process), run with ``jax.enable_x64(True)`` so that x, the state
and the arithmetic are float64 without changing the process's JAX setting. The iterates are
those of optax driven directly in float64.

Arguments are the optax function's own, with its defaults (``optbench list optax:adamw``).
``learning_rate`` is a number, one of our schedules (``{cosine: {lr: 0.1, steps: 1000}}``, see
``optimizers/schedules.py``; the rate of step t is passed to the compiled update each step), or
an optax schedule by name: ``{"optax:cosine_decay_schedule": {init_value: 0.1,
decay_steps: 1000}}`` (any function of ``optax.schedules``; optax counts its steps from 0).
optax's optimizers have no stopping test: the run ends by its budget. On a problem without a
gradient the step uses the problem's central differences (2·dim evaluations each), and the
message the run ends with says so. ``optax.lbfgs`` is not a
member: its update needs the loss as a JAX function.

Example::

    opt = optimizers.make("optax:sgd", learning_rate=0.01, momentum=0.9, nesterov=True)

Reference: DeepMind et al., "The DeepMind JAX Ecosystem" (optax), 2020; each member's own
reference is in ``optbench list optax:<name>``.
"""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from optbench.registry import Family, Param, ParameterError, with_signature

from .base import BudgetExhausted, Optimizer, differences_note, noted
from .schedules import Schedule, schedule

UNSUPPORTED = {"lbfgs": "its update needs the loss as a JAX function (value_fn)"}
NEEDS_VALUE = frozenset({"polyak_sgd"})  # update(..., value=f)
SCHEDULES = "optax:"  # prefix of an optax schedule's name in a learning_rate mapping


class OptaxOptimizer(Optimizer):
    """Base of the ``optax:<name>`` classes (one per function, made by the family)."""

    member: ClassVar[str] = ""
    options_known: ClassVar[dict[str, Any]] = {}

    def __init__(self, **kwargs: Any):
        for key in kwargs:
            if key not in self.options_known:
                raise ParameterError(f"{self.name}: unknown parameter {key!r}; valid: "
                                     f"{', '.join(self.options_known)}", key)
        missing = [k for k, v in self.options_known.items()
                   if v is inspect.Parameter.empty and k not in kwargs]
        if missing:
            raise ParameterError(f"{self.name}: parameter {missing[0]!r} is required", missing[0])
        self.kwargs = dict(kwargs)
        self.rate: Schedule | None = None  # ours, evaluated here and passed to each update
        lr = kwargs.get("learning_rate")
        if "learning_rate" in kwargs and not _is_optax_schedule(lr):
            self.rate = schedule(self.name, "learning_rate", lr)
        elif lr is not None:
            _optax_schedule(self.name, lr)  # validated now
        try:
            self._transformation(self.rate(1) if self.rate else None)
        except (TypeError, ValueError) as e:
            raise ParameterError(f"{self.name}: optax.{self.member} refused the arguments: "
                                 f"{e}") from None

    def _transformation(self, lr):
        return _transformation(self.member, self.kwargs, self.rate is not None, lr, self.name)

    def _start(self, x0: np.ndarray) -> None:
        import jax
        import jax.numpy as jnp

        self.t = 0
        self.x = x0
        self.note = differences_note(self.oracle, self.name)
        self._update = _compiled(self)
        self._needs_value = self.member in NEEDS_VALUE
        with jax.enable_x64(True):
            self.params = jnp.asarray(x0)
            lr = self.rate(1) if self.rate else None
            self.state = self._transformation(lr).init(self.params)

    def step(self) -> np.ndarray:
        import jax

        self.t += 1
        try:
            if self._needs_value:
                f, g = self.oracle.value_and_grad(self.x)
            else:
                f, g = 0.0, self.oracle.grad(self.x)
        except BudgetExhausted as e:  # the run ends here: say it ran on differences, if it did
            raise noted(e, self.note) from None
        lr = self.rate(self.t) if self.rate else 0.0
        with jax.enable_x64(True):
            self.params, self.state = self._update(self.params, self.state,
                                                   np.asarray(g, dtype=float), f, lr)
            self.x = np.array(self.params)
        self.nit += 1
        return self.x


def _transformation(member: str, kwargs: dict[str, Any], ours: bool, lr, owner: str):
    """``optax.<member>(**kwargs)``; ``lr`` is the rate when the schedule is ours (a number or
    a traced scalar), else an optax schedule by name is built."""
    import optax

    kwargs = dict(kwargs)
    if ours:
        kwargs["learning_rate"] = lr
    elif "learning_rate" in kwargs:
        kwargs["learning_rate"] = _optax_schedule(owner, kwargs["learning_rate"])
    return optax.with_extra_args_support(getattr(optax, member)(**kwargs))


_COMPILED: dict[str, Any] = {}  # the last 64 compiled updates, by member and arguments


def _compiled(opt: OptaxOptimizer):
    """The jitted update of ``opt``'s transformation, shared by optimizers built alike (jit
    compiles again only for a new dimension)."""
    args = (opt.member, opt.kwargs, opt.rate is not None, opt.name)
    try:
        key = json.dumps(args, sort_keys=True)
    except TypeError:  # arguments that are not plain data (a mask function): not shared
        return _jit_update(*args)
    if key not in _COMPILED:
        if len(_COMPILED) >= 64:
            _COMPILED.pop(next(iter(_COMPILED)))
        _COMPILED[key] = _jit_update(*args)
    return _COMPILED[key]


def _jit_update(member: str, kwargs: dict[str, Any], ours: bool, owner: str):
    import jax
    import optax

    def update(params, state, grads, value, lr):
        tx = _transformation(member, kwargs, ours, lr, owner)
        updates, state = tx.update(grads, state, params, value=value)
        return optax.apply_updates(params, updates), state

    return jax.jit(update)


def _is_optax_schedule(spec: Any) -> bool:
    return isinstance(spec, Mapping) and len(spec) == 1 and \
        str(next(iter(spec))).startswith(SCHEDULES)


def _optax_schedule(owner: str, spec: Mapping[str, Any]):
    """``{"optax:<schedule>": {kwargs}}`` as optax's schedule function."""
    import optax

    name, kwargs = next(iter(spec.items()))
    fn = getattr(optax.schedules, name.removeprefix(SCHEDULES), None)
    where = f"learning_rate.{name}"
    if fn is None or not callable(fn):
        valid = [n for n in dir(optax.schedules) if not n.startswith("_")
                 and inspect.isfunction(getattr(optax.schedules, n))]
        raise ParameterError(f"{owner}: parameter {where!r}: optax has no schedule "
                             f"{name.removeprefix(SCHEDULES)!r}; valid: {', '.join(valid)}", where)
    try:
        return fn(**(kwargs or {}))
    except TypeError as e:
        raise ParameterError(f"{owner}: parameter {where!r}: {e}", where) from None


class OptaxFamily(Family):
    prefix = "optax"
    summary = "optax's optimizers by function name, float64, one update per step"
    noun = "optimizer"
    known = ("adam", "adamw", "adagrad", "lion", "lamb", "rmsprop", "sgd", "nadam", "radam",
             "yogi", "adabelief", "adafactor", "novograd", "fromage", "lars", "sm3")
    libraries = ("jax", "optax")
    extra = "jax"

    def _members(self) -> list[str]:
        import optax

        return [n for n in dir(optax) if n not in UNSUPPORTED
                and inspect.isfunction(getattr(optax, n))
                and getattr(optax, n).__module__ == "optax._src.alias"]

    def _build(self, member: str) -> type:
        import optax

        fn = getattr(optax, member)
        doc = inspect.getdoc(fn) or ""
        docs = _arg_docs(doc)
        params = [Param(p.name, p.default, docs.get(p.name, ""))
                  for p in inspect.signature(fn).parameters.values()
                  if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
        if "learning_rate" in docs:
            params = [Param(p.name, p.default, "a number > 0, one of our schedules, or "
                                               "{optax:<schedule>: {...}}")
                      if p.name == "learning_rate" else p for p in params]
        reference = _references(doc)
        namespace = {
            "name": f"optax:{member}", "member": member, "reference": reference,
            "options_known": {p.name: p.default for p in params},
            "__doc__": f"{doc.splitlines()[0] if doc else member} optax.{member}, float64, "
                       f"one update per step.\n\nReference: {reference}.",
        }
        return with_signature(OptaxOptimizer, f"Optax{member.title().replace('_', '')}",
                              params, namespace, __name__)


def _arg_docs(doc: str) -> dict[str, str]:
    """First sentence of each argument in the docstring's ``Args:`` section."""
    docs: dict[str, str] = {}
    section = doc.partition("Args:")[2].partition("\n\n")[0]
    for match in re.finditer(r"^\s{2}(\w+):\s*(.*?)(?=^\s{2}\w+:|\Z)", section, re.M | re.S):
        text = " ".join(match.group(2).split())
        docs[match.group(1)] = re.split(r"(?<=\.)\s", text, maxsplit=1)[0][:160]
    return docs


def _references(doc: str) -> str:
    """The docstring's References, as plain text, or optax itself."""
    refs = doc.partition("References:")[2].partition("\n\n.. ")[0]
    entries = [" ".join(entry.split()) for entry in refs.split("\n\n")]  # one per paragraph
    text = "; ".join(re.sub(r"`([^`<]*?)\s*<[^>]*>`_", r"\1", e) for e in entries if e)
    return text.strip() or "optax, https://GitHub.com/google-deepmind/optax"


family = OptaxFamily()
