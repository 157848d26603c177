"""``scipy:<method>``: the methods of ``scipy.optimize.minimize`` that need no Hessian from the
user, one of the method's iterations per step.

``minimize`` owns its loop, so it runs on a worker thread (``threaded.PausedLoop``) and pauses in
its callback: ``step()`` lets it run to its next callback and returns that iterate; the call that
finds ``minimize`` returned gives its ``x`` with ``converged`` set, ``message`` in scipy's words
and ``nit`` as scipy counts it. ``minimize`` is called exactly as a user would call it,

    minimize(oracle.value_and_grad, x0, jac=True, method=M, bounds=..., options=...)

(``oracle.value`` and no ``jac`` for Powell, COBYLA and COBYQA), so a run through the step
interface has scipy's own iterates, ``nit`` and evaluations. The callback comes once per
iteration, except COBYQA's, which comes once per evaluation: there a step is one evaluation.

Options are scipy's (``scipy.optimize.show_options("minimize", M)``), with scipy's defaults,
iteration and evaluation limits included (TNC's ``maxfun`` is max(100, 10·n) by default). Not
options: what the runner or the problem provides (``jac``, ``hess``, ``bounds``,
``callback``), scipy's printing (``disp``, ``iprint``, ``verbose``, ``return_all``) and its steps
for differencing the gradient (``eps``, ``finite_diff_rel_step``: scipy is always given one;
Newton-CG's ``eps``, its step for Hessian-vector products, stays).
Newton-CG and trust-constr get no Hessian, so Newton-CG takes Hessian-vector products by
differences of the gradient and trust-constr updates a BFGS approximation, as scipy does.

How scipy's exits map to the run's status: ``success`` → converged; scipy's own iteration or
evaluation limit (``budget``, per method below) → the run's budget, with scipy's message;
any other failure → converged with ``success = False`` (the method gave up; scipy's message
kept). A budget, timeout or target that ends the run early closes the worker: the callback or
the next evaluation raises inside ``minimize``, which unwinds and ends the thread.

On a problem without a gradient, the gradient methods run on the problem's central
differences (charged 2·dim evaluations each) and the message says so.

Warning: the option names and defaults are read from scipy's private ``_minimize_*`` routines
(the ones ``show_options`` documents); the table below is the one of scipy 1.15 to 1.17, and the
parity tests against ``scipy.optimize.minimize`` catch any drift.
"""

from __future__ import annotations

import importlib
import inspect
import re
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from optbench.registry import Family, Param, ParameterError, with_signature

from .base import BudgetExhausted, Optimizer, box, differences_note, noted
from .threaded import PausedLoop


@dataclass(frozen=True)
class Method:
    routine: str  # scipy.optimize.<module>.<function>, the one show_options documents
    gradient: bool  # takes jac (value_and_grad); else values only
    bounds: bool  # takes bounds
    budget: frozenset[int]  # scipy statuses that mean "its own limit was reached"
    reference: str


METHODS = {
    "BFGS": Method("_optimize._minimize_bfgs", True, False, frozenset({1}),
                   "J. Nocedal and S. J. Wright, Numerical Optimization, 2nd ed., Springer "
                   "2006, p. 136"),
    "CG": Method("_optimize._minimize_cg", True, False, frozenset({1}),
                 "Polak-Ribière; J. Nocedal and S. J. Wright, Numerical Optimization, 2nd ed., "
                 "Springer 2006, pp. 120-122"),
    "L-BFGS-B": Method("_lbfgsb_py._minimize_lbfgsb", True, True, frozenset({1}),
                       "R. H. Byrd, P. Lu, J. Nocedal and C. Zhu, A Limited Memory Algorithm "
                       "for Bound Constrained Optimization, SIAM J. Sci. Comput. 16(5), 1995"),
    "TNC": Method("_tnc._minimize_tnc", True, True, frozenset({3}),
                  "S. G. Nash, Newton-Type Minimization via the Lanczos Method, SIAM J. Numer. "
                  "Anal. 21(4), 1984"),
    "SLSQP": Method("_slsqp_py._minimize_slsqp", True, True, frozenset({9}),
                    "D. Kraft, A software package for sequential quadratic programming, "
                    "DFVLR-FB 88-28, 1988"),
    "Powell": Method("_optimize._minimize_powell", False, True, frozenset({1, 2}),
                     "M. J. D. Powell, An efficient method for finding the minimum of a "
                     "function of several variables without calculating derivatives, "
                     "Computer Journal 7(2), 1964"),
    "COBYLA": Method("_cobyla_py._minimize_cobyla", False, True, frozenset({3, 20}),
                     "M. J. D. Powell, A direct search optimization method that models the "
                     "objective and constraint functions by linear interpolation, 1994; "
                     "Z. Zhang, PRIMA, 2023"),
    "COBYQA": Method("_cobyqa_py._minimize_cobyqa", False, True, frozenset({5, 6}),
                     "T. M. Ragonneau, Model-Based Derivative-Free Optimization Methods and "
                     "Software, PhD thesis, Hong Kong Polytechnic University, 2022"),
    "trust-constr": Method("_trustregion_constr._minimize_trustregion_constr", True, True,
                           frozenset({0}),
                           "A. R. Conn, N. I. M. Gould and P. L. Toint, Trust Region Methods, "
                           "SIAM 2000; R. H. Byrd, M. E. Hribar and J. Nocedal, An interior "
                           "point algorithm for large-scale nonlinear programming, SIAM J. "
                           "Optim. 9(4), 1999"),
    "Newton-CG": Method("_optimize._minimize_newtoncg", True, False, frozenset({1}),
                        "J. Nocedal and S. J. Wright, Numerical Optimization, 2nd ed., "
                        "Springer 2006, p. 168"),
}

# given by the runner or the problem, or scipy's printing: not options
NOT_OPTIONS = frozenset({
    "fun", "func", "x0", "args", "jac", "grad", "hess", "hessp", "bounds", "constraints",
    "callback", "disp", "iprint", "verbose", "return_all", "workers", "sparse_jacobian",
})
# scipy's steps for differencing the gradient itself, which it never does here (jac=True always):
# not options, except Newton-CG's eps (its Hessian-vector products by gradient differences)
DIFFERENCING = frozenset({"eps", "finite_diff_rel_step"})
USES_EPS = frozenset({"Newton-CG"})
# options whose one value is a list (levels of nesting), so that a YAML list does not sweep
LIST_OPTIONS = {"direc": 2, "hess_inv0": 2, "scale": 1, "offset": 1, "finite_diff_rel_step": 1}


class ScipyMethod(Optimizer):
    """Base of the ``scipy:<method>`` classes (one per method, made by ``ScipyFamily``)."""

    method: ClassVar[str] = ""
    spec: ClassVar[Method]
    options_known: ClassVar[dict[str, Any]] = {}  # option -> scipy's default

    def __init__(self, **options: Any):
        for key, value in options.items():
            if key not in self.options_known:
                raise ParameterError(f"{self.name}: unknown parameter {key!r}; valid: "
                                     f"{', '.join(self.options_known)}", key)
            self._check_type(key, value, self.options_known[key])
        self.options = options

    def _check_type(self, key: str, value: Any, default: Any) -> None:
        """scipy checks values when it runs; a wrong type is caught here, naming the option."""
        if isinstance(default, bool):
            self._flag(key, value)
        elif isinstance(default, int | float) and (
                isinstance(value, bool) or not isinstance(value, int | float)):
            raise ParameterError(f"{self.name}: parameter {key!r} must be a number, got "
                                 f"{value!r}", key)

    def _start(self, x0: np.ndarray) -> None:
        self.close()
        spec, oracle = self.spec, self.oracle
        self.note = differences_note(oracle, self.method) if spec.gradient else ""
        bounds = box(oracle, x0.size, self.name)
        if bounds is not None and not spec.bounds:
            self.note += f" (bounds not enforced: {self.method} takes none)"
        fun = oracle.value_and_grad if spec.gradient else oracle.value
        self.x = x0
        self.result = None
        self._loop = PausedLoop(
            _minimize(self.method, fun, x0, spec.gradient,
                      bounds if spec.bounds else None, dict(self.options)),
            name=f"optbench {self.name}",
        )

    def step(self) -> np.ndarray:
        if self._loop.finished:  # minimize has returned (or was closed): nothing more to do
            return self.x.copy()
        try:
            kind, payload = self._loop.next()
        except BudgetExhausted as e:  # also the runner's other stops (RunStopped)
            raise noted(e, self.note) from None
        if kind == "iteration":
            self.nit += 1
            self.x = payload
            return payload
        return self._finish(payload)

    def _finish(self, result) -> np.ndarray:
        """scipy returned: its x, nit and message; its exit mapped to converged/budget/failed."""
        self.result = result
        self.x = np.asarray(result.x, dtype=float)
        self.nit = int(result.get("nit", self.nit))
        message = f"{result.message}"
        if not result.success and result.status in self.spec.budget:
            raise BudgetExhausted(f"scipy {self.method}: {message}{self.note}")
        self.converged = True
        self.success = bool(result.success)
        self.message = message + self.note
        return self.x.copy()

    def close(self) -> None:
        loop = self.__dict__.get("_loop")
        if loop is not None:
            loop.close()


def _minimize(method: str, fun, x0: np.ndarray, jac: bool, bounds, options: dict[str, Any]):
    """The body the worker thread runs: ``minimize`` as a user calls it, its objective checked
    for a stop before each evaluation and its callback handing each iterate over."""
    from scipy.optimize import Bounds, minimize

    def loop(pause, check):
        def objective(x):
            check()
            return fun(x)

        def callback(intermediate_result):  # TNC passes x itself
            x = getattr(intermediate_result, "x", intermediate_result)
            pause(np.array(x, dtype=float, copy=True))

        return minimize(objective, x0, method=method, jac=True if jac else None,
                        bounds=Bounds(*bounds) if bounds is not None else None,
                        callback=callback, options=options)

    return loop


class ScipyFamily(Family):
    prefix = "scipy"
    summary = "scipy.optimize.minimize's methods, one iteration per step"
    noun = "method"
    known = tuple(METHODS)
    libraries = ("scipy",)
    extra = None  # scipy is a dependency of optbench

    def _members(self) -> list[str]:
        return list(METHODS)

    def _build(self, member: str) -> type:
        spec = METHODS[member]
        module, _, function = spec.routine.rpartition(".")
        routine = getattr(importlib.import_module(f"scipy.optimize.{module}"), function)
        docs = _option_docs(member)
        params = [
            Param(p.name, _plain(p.default), docs.get(p.name, ""))
            for p in inspect.signature(routine).parameters.values()
            if p.name not in NOT_OPTIONS and p.default is not p.empty
            and (p.name not in DIFFERENCING or (p.name == "eps" and member in USES_EPS))
            and p.kind is p.POSITIONAL_OR_KEYWORD
        ]
        summary = _summary(member)
        doc = (f"{summary} scipy.optimize.minimize(method={member!r}), one iteration per step."
               f"\n\nReference: {spec.reference}.")
        namespace = {
            "name": f"scipy:{member}", "method": member, "spec": spec,
            "options_known": {p.name: p.default for p in params},
            "list_params": {k: v for k, v in LIST_OPTIONS.items()
                            if k in {p.name for p in params}},
            "reference": spec.reference, "__doc__": doc,
        }
        cls_name = "Scipy" + re.sub(r"\W", "", member)
        return with_signature(ScipyMethod, cls_name, params, namespace, __name__)


def _plain(default: Any) -> Any:
    """scipy's default as plain data (``np.float64(1.49e-08)`` → 1.49e-08)."""
    return default.item() if isinstance(default, np.generic) else default


def _summary(method: str) -> str:
    from scipy.optimize import show_options

    first = show_options("minimize", method, disp=False).split("\n\n")[0]
    return " ".join(first.split())


def _option_docs(method: str) -> dict[str, str]:
    """First sentence of each option's description in ``show_options``."""
    from scipy.optimize import show_options

    lines = show_options("minimize", method, disp=False).splitlines()
    docs: dict[str, str] = {}
    head = re.compile(r"^(\s*)([A-Za-z_]\w*(?:,\s*[A-Za-z_]\w*)*)\s*:\s*\S")
    for i, line in enumerate(lines):
        match = head.match(line)
        if not match:
            continue
        indent = len(match.group(1))
        body = []
        for more in lines[i + 1:]:
            if more.strip() and len(more) - len(more.lstrip()) <= indent:
                break
            body.append(more.strip())
        text = " ".join(" ".join(body).split())
        sentence = re.split(r"(?<=\.)\s", text, maxsplit=1)[0] if text else ""
        for name in re.split(r",\s*", match.group(2)):
            docs.setdefault(name, sentence[:160])
    return docs


family = ScipyFamily()
