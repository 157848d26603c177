"""``cma``: CMA-ES from the ``cma`` package, one generation per step, by its ask/tell interface.

One step::

    X = es.ask()                      λ candidates from N(m, σ² C)
    f_k = oracle.value(x_k)           each candidate is one evaluation
    es.tell(X, f)                     update m, σ, C from the ranking
    return es.result.xfavorite        the distribution mean, in the problem's coordinates

Before a generation the step asks ``es.stop()``; when cma's own termination criteria are met
the step returns the same x with ``converged`` set and cma's criteria as the message:
``tolfun``, ``tolfunhist``, ``tolfunrel``, ``tolx``, ``ftarget`` are convergence; ``maxfevals``,
``maxiter``, ``timeout`` are cma's own budget (the run's status ``budget``); any other
(``tolstagnation``, ``tolconditioncov``, ``tolupsigma``, ``noeffectaxis``, ...) is a give-up
(``success = False``). A budget that runs out inside a generation ends the run there: every
candidate evaluated is counted.

Arguments: ``sigma0`` σ₀ (1.0; about a quarter of the range the minimum may be in is cma's
advice), ``seed`` (null: the run's seed), and cma's options (``popsize``, ``tolx``, ``CMA_diagonal``
...; ``cma.CMAOptions()``) with cma's defaults, shown as cma's expressions (in ``N``, the
dimension). The problem's bounds are passed on (cma's ``BoundTransform``). The random numbers
come from ``numpy.random.RandomState(seed).randn`` given as cma's ``randn`` option, so the
process's global generator is left alone (cma seeds that one with its ``seed`` option, and
treats 0 as "from the clock"). cma prints and writes no files.

Example::

    opt = optimizers.make("cma", sigma0=5.0, popsize=12)

Reference: N. Hansen and A. Ostermeier, "Completely Derandomized Self-Adaptation in Evolution
Strategies", Evolutionary Computation 9(2), 2001; N. Hansen, "The CMA Evolution Strategy: A
Tutorial", arXiv:1604.00772, 2016.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from optbench.registry import Family, Param, ParameterError, with_signature

from .base import BudgetExhausted, Optimizer, box

# set by the wrapper (bounds, seed, quiet, no files) or not plain data: not options here
NOT_OPTIONS = frozenset({
    "bounds", "seed", "randn", "verbose", "signals_filename", "is_feasible",
    "termination_callback", "CMA_eigenmethod", "CMA_sampler", "transformation", "typical_x",
    "scaling_of_variables", "vv",
})
QUIET = {"verbose": -9, "verb_log": 0, "verb_disp": 0, "verb_plot": 0, "verb_time": False,
         "signals_filename": ""}
CONVERGED = frozenset({"tolfun", "tolfunhist", "tolfunrel", "tolx", "ftarget"})
BUDGET = frozenset({"maxfevals", "maxiter", "timeout"})
LIST_OPTIONS = {"CMA_stds": 1, "CMA_recombination_weights": 1, "conditioncov_alleviate": 1,
                "tolxstagnation": 1, "integer_variables": 1, "CSA_clip_length_value": 1}


class CMA(Optimizer):
    """Base of the ``cma`` class (its signature, with cma's options, made by ``CMAFamily``)."""

    name = "cma"
    run_seeded: ClassVar[str] = "seed"
    options_known: ClassVar[dict[str, Any]] = {}

    def __init__(self, sigma0: float = 1.0, seed: int | None = None, **options: Any):
        self.sigma0 = self._check("sigma0", sigma0, low=0, low_open=True)
        self.seed = None if seed is None else self._check("seed", seed, low=0, integer=True)
        for key in options:
            if key not in self.options_known:
                raise ParameterError(f"cma: unknown parameter {key!r}; valid: sigma0, seed, "
                                     f"{', '.join(self.options_known)}", key)
        self.options = options

    def _start(self, x0: np.ndarray) -> None:
        import cma

        opts = {**self.options, **QUIET, "seed": np.nan,
                "randn": np.random.RandomState(0 if self.seed is None else self.seed).randn}
        bounds = box(self.oracle, x0.size, self.name)
        if bounds is not None:
            low, high = bounds
            x0 = np.clip(x0, low, high)
            opts["bounds"] = [[v if np.isfinite(v) else None for v in b] for b in bounds]
        self.es = cma.CMAEvolutionStrategy(x0, self.sigma0, opts)
        self.x = x0

    def step(self) -> np.ndarray:
        es = self.es
        stop = es.stop()
        if stop:
            return self._finish(stop)
        candidates = es.ask()
        values = [self.oracle.value(x) for x in candidates]
        es.tell(candidates, values)
        self.nit += 1
        self.x = np.asarray(es.result.xfavorite, dtype=float)
        return self.x

    def _finish(self, stop: dict[str, Any]) -> np.ndarray:
        said = ", ".join(f"{k} = {v}" for k, v in stop.items())
        if set(stop) & BUDGET and not set(stop) & CONVERGED:
            raise BudgetExhausted(f"cma: its own limit reached ({said})")
        self.converged = True
        self.success = bool(set(stop) & CONVERGED)
        self.message = f"cma stopped: {said}"
        return self.x


class CMAFamily(Family):
    prefix = "cma"
    summary = "CMA-ES from the cma package, one generation per step (ask/tell)"
    bare = True
    libraries = ("cma",)
    extra = "cma"

    def _members(self) -> list[str]:
        return [""]

    def _build(self, member: str) -> type:
        import cma

        params = [Param("sigma0", 1.0, "initial step size σ₀ > 0 (cma's advice: about a "
                                       "quarter of the range the minimum may lie in)"),
                  Param("seed", None, "random seed (an integer >= 0); null: the run's seed")]
        for key, text in sorted(cma.CMAOptions().items(), key=lambda kv: kv[0].lower()):
            if key in NOT_OPTIONS or key.startswith("verb_"):
                continue
            default, _, doc = str(text).partition("#")
            params.append(Param(key, default.strip(), " ".join(doc.lstrip("v?").split())))
        namespace = {
            "options_known": {p.name: p.default for p in params[2:]},
            "list_params": {k: v for k, v in LIST_OPTIONS.items()
                            if k in {p.name for p in params}},
            "__doc__": "CMA-ES (the cma package), one generation per step.\n\nReference: "
                       "N. Hansen and A. Ostermeier, Evolutionary Computation 9(2), 2001.",
            "reference": "N. Hansen and A. Ostermeier, Completely Derandomized Self-Adaptation "
                         "in Evolution Strategies, Evolutionary Computation 9(2), 2001",
        }
        return with_signature(CMA, "CMAES", params, namespace, __name__)


family = CMAFamily()
