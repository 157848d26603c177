"""``nevergrad:<Optimizer>``: any optimizer of Nevergrad's registry, by its ask/tell interface.

One step asks ``num_workers`` candidates (1 by default: Nevergrad's sequential loop), evaluates
each (one evaluation per candidate) and tells each its value; the iterate it returns is
Nevergrad's recommendation (``optimizer.recommend()``, for most optimizers the best point
told so far). The optimizer is told the run's evaluation budget (``budget``; none when the run
has only an iteration or time budget) and the problem's bounds (``Array.set_bounds``); the start
point is the parametrization's initial value and ``sigma`` its initial mutation scale.

Nevergrad's optimizers have no stopping test of their own: the run ends by its budget (those
that wrap a library on a thread, ``NelderMead``, ``BFGS``, ..., restart it until the budget is
spent). ``close()`` stops the threads that Nevergrad's recaster starts, so none outlives the run.
An exception inside Nevergrad's own ``ask``, ``tell`` or ``recommend`` (not the problem's) is the
method giving up: the step returns the last iterate with ``converged`` set and ``success``
False (the run's status ``failed``), Nevergrad's message and where it was raised kept. NGOpt
with numpy 2.4 and Nevergrad 1.0.12 does so after a few evaluations (Nevergrad issue 1612).

Arguments: ``sigma`` (1.0), ``num_workers`` (1), ``seed`` (null: the run's seed; the
parametrization's ``random_state`` is ``numpy.random.RandomState(seed)``).

Example::

    opt = optimizers.make("nevergrad:TwoPointsDE", sigma=3.0)

Reference: J. Rapin and O. Teytaud, "Nevergrad - A gradient-free optimization platform",
https://GitHub.com/FacebookResearch/Nevergrad, 2018.
"""

from __future__ import annotations

import contextlib
import math
import traceback
import warnings
from typing import Any, ClassVar

import numpy as np

from optbench.registry import Family, Param, with_signature

from .base import Optimizer, box

REFERENCE = ("J. Rapin and O. Teytaud, Nevergrad - A gradient-free optimization platform, "
             "https://GitHub.com/FacebookResearch/Nevergrad, 2018")


class NevergradOptimizer(Optimizer):
    """Base of the ``nevergrad:<Optimizer>`` classes (one per name, made by the family)."""

    member: ClassVar[str] = ""
    run_seeded: ClassVar[str] = "seed"

    def __init__(self, sigma: float = 1.0, num_workers: int = 1, seed: int | None = None):
        self.sigma = self._check("sigma", sigma, low=0, low_open=True)
        self.num_workers = self._check("num_workers", num_workers, low=1, integer=True)
        self.seed = None if seed is None else self._check("seed", seed, low=0, integer=True)

    def _start(self, x0: np.ndarray) -> None:
        import nevergrad as ng

        self.close()
        param = ng.p.Array(init=x0).set_mutation(sigma=self.sigma)
        bounds = box(self.oracle, x0.size, self.name)
        if bounds is not None and np.isfinite(np.concatenate(bounds)).any():
            param.set_bounds(*bounds)
        param.random_state = np.random.RandomState(0 if self.seed is None else self.seed)
        limit = getattr(self.oracle, "limit", math.inf)  # the runner's evaluation budget
        budget = int(limit) if math.isfinite(limit) else None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.ng = ng.optimizers.registry[self.member](
                parametrization=param, budget=budget, num_workers=self.num_workers)
        self.x = x0

    def step(self) -> np.ndarray:
        opt = self.ng
        try:
            with self._library():
                candidates = [opt.ask() for _ in range(self.num_workers)]
            for candidate in candidates:
                value = self.oracle.value(candidate.value)  # the problem's errors are its own
                with self._library():
                    opt.tell(candidate, value)
            with self._library():
                x = np.asarray(opt.recommend().value, dtype=float)
        except _GaveUp:
            return self.x.copy()
        self.x = x
        self.nit += 1
        return self.x

    @contextlib.contextmanager
    def _library(self):
        """An exception inside Nevergrad's own ask, tell or recommend (not the problem's) is
        the method giving up: the run ends ``failed`` with Nevergrad's words and where they
        were raised, and the threads of the optimizers its frames held are stopped."""
        try:
            yield
        except Exception as e:
            frames = list(traceback.walk_tb(e.__traceback__))
            for frame, _ in frames:
                for value in list(frame.f_locals.values()):
                    if _is_nevergrad_optimizer(value):
                        _stop_threads(value)
            where = frames[-1][0].f_code.co_filename if frames else ""
            where = where[where.rfind("nevergrad"):] if "nevergrad" in where else where
            e.__traceback__ = None
            self.converged, self.success = True, False
            self.message = (f"Nevergrad's {self.member} raised {type(e).__name__}: {e} "
                            f"(in {where}, line {frames[-1][1] if frames else '?'})")
            raise _GaveUp from None

    def close(self) -> None:
        """Stop the threads Nevergrad's recaster started for this optimizer (and those it
        holds), as its own ``__del__`` would, and wait for them."""
        opt = self.__dict__.pop("ng", None)
        if opt is not None:
            _stop_threads(opt)


class _GaveUp(Exception):
    """Nevergrad raised inside ``step``: the step returns the last iterate, ``converged``."""


def _is_nevergrad_optimizer(value: Any) -> bool:
    import nevergrad as ng

    return isinstance(value, ng.optimizers.base.Optimizer)


def _stop_threads(opt: Any, depth: int = 0) -> None:
    """Nevergrad keeps a recast method's thread in ``_messaging_thread`` and sub-optimizers
    (NGOpt's choice, portfolios) in attributes; private, so kept to this function."""
    messenger = getattr(opt, "_messaging_thread", None)
    if messenger is not None:
        messenger.stop()
        thread = getattr(messenger, "_thread", None)
        if thread is not None:
            thread.join(timeout=10)
    if depth >= 3:
        return
    for value in vars(opt).values():
        for sub in value if isinstance(value, list | tuple) else [value]:
            if _is_nevergrad_optimizer(sub):
                _stop_threads(sub, depth + 1)


class NevergradFamily(Family):
    prefix = "nevergrad"
    summary = "any optimizer of Nevergrad's registry (ask/tell), told the budget and bounds"
    noun = "optimizer"
    known = ("NGOpt", "CMA", "DE", "TwoPointsDE", "OnePlusOne", "PSO", "NelderMead")
    libraries = ("nevergrad",)
    extra = "nevergrad"

    def _members(self) -> list[str]:
        import nevergrad as ng

        return list(ng.optimizers.registry)

    def _build(self, member: str) -> type:
        params = [Param("sigma", 1.0, "initial mutation scale of the parametrization (> 0)"),
                  Param("num_workers", 1, "candidates asked per step (Nevergrad's num_workers)"),
                  Param("seed", None, "random seed (an integer >= 0); null: the run's seed")]
        namespace = {
            "name": f"nevergrad:{member}", "member": member, "reference": REFERENCE,
            "__doc__": f"Nevergrad's {member} by ask/tell, one candidate per step (with "
                       f"num_workers 1).\n\nReference: {REFERENCE}.",
        }
        cls_name = "Nevergrad" + "".join(ch for ch in member if ch.isalnum())
        return with_signature(NevergradOptimizer, cls_name, params, namespace, __name__)


family = NevergradFamily()
