"""L-BFGS-B, scipy's compiled routine driven one iteration at a time.

Algorithm (Byrd, Lu, Nocedal & Zhu 1995), one iteration::

    compute the generalized Cauchy point on the projected path x − t∇f, within the bounds
    minimize the limited-memory (m pairs) quadratic model over the free variables
    line search along the result (Moré–Thuente, at most maxls evaluations of f and ∇f)
    store s = x_new − x, y = ∇f_new − ∇f if sᵀy is safely positive; drop the oldest pair
    stop when max|proj ∇f| <= gtol, or (f_old − f_new)/max(|f_old|, |f_new|, 1) <= ftol

scipy's routine talks by reverse communication: each call returns asking for f and ∇f at x
("FG"), reporting a finished iteration ("NEW_X"), or stopping. ``step()`` answers FG requests
until the next NEW_X, so one step is one of scipy's iterations, and a run through this class
reproduces ``scipy.optimize.minimize(method="L-BFGS-B")`` to the bit: same iterates, nit and nfev
(the last (x, f, g) is memoised, as scipy's ScalarFunction does). No thread is involved, so
stopping after any step leaves nothing behind.

When the routine stops, ``converged`` is set, and ``success`` as scipy sets it: True for
CONVERGENCE (projected gradient <= gtol, or relative reduction of f <= ftol), False for every
other stop (ABNORMAL: the line search failed; ERROR; WARNING). scipy's own limits (maxiter,
maxfun) are the runner's budget here.

Arguments, named as scipy names them: ``maxcor`` m (10), ``ftol`` (2.22e-9), ``gtol`` (1e-5),
``maxls`` (20). Bounds come from the problem.

Reference: R. H. Byrd, P. Lu, J. Nocedal and C. Zhu, "A Limited Memory Algorithm for Bound
Constrained Optimization", SIAM J. Sci. Comput. 16(5), 1995; C. Zhu, R. H. Byrd, P. Lu and
J. Nocedal, "Algorithm 778: L-BFGS-B", ACM TOMS 23(4), 1997; J. L. Morales and J. Nocedal,
"Remark on Algorithm 778", ACM TOMS 38(1), 2011.

Warning: ``scipy.optimize._lbfgsb.setulb`` is private API. Its signature is the one of scipy
1.15 to 1.17 (the C translation); ``_setulb`` below is the only place that calls it, and the
parity tests against ``scipy.optimize.minimize`` catch any drift.
"""

from __future__ import annotations

import numpy as np

from .base import Optimizer, box

try:
    from scipy.optimize import _lbfgsb
    from scipy.optimize._lbfgsb_py import status_messages, task_messages
except ImportError as e:  # pragma: no cover - depends on the installed scipy
    raise ImportError(f"optimizer 'lbfgsb' needs scipy >= 1.15: {e}") from None

FG, NEW_X, CONVERGENCE, ABNORMAL = 3, 1, 4, 8
_BOUND_KIND = {(False, False): 0, (True, False): 1, (True, True): 2, (False, True): 3}

# scipy >= 1.15 gives no detail with ABNORMAL; the Fortran code it replaced said which failure
LNSRCH = "the line search failed (scipy's ABNORMAL_TERMINATION_IN_LNSRCH)"
HINT = (
    "; this usually means the gradient does not match the value (check it with "
    "'optbench check PROBLEM') or the objective ignores its argument x (a closure over a "
    "captured variable)"
)


class LBFGSB(Optimizer):
    name = "lbfgsb"
    param_docs = {
        "maxcor": "memory m: correction pairs kept, an integer >= 1",
        "ftol": "stop when the relative reduction of f is <= ftol (>= 0)",
        "gtol": "stop when max |projected gradient| <= gtol (>= 0)",
        "maxls": "line-search evaluations per iteration, an integer >= 1",
    }

    def __init__(
        self,
        maxcor: int = 10,
        ftol: float = 2.220446049250313e-09,
        gtol: float = 1e-05,
        maxls: int = 20,
    ):
        self.maxcor = self._check("maxcor", maxcor, low=1, integer=True)
        self.ftol = self._check("ftol", ftol, low=0)
        self.gtol = self._check("gtol", gtol, low=0)
        self.maxls = self._check("maxls", maxls, low=1, integer=True)

    def _start(self, x0: np.ndarray) -> None:
        n, m = x0.size, self.maxcor
        self.lower, self.upper = np.zeros(n), np.zeros(n)
        self.kind = np.zeros(n, np.int32)
        bounds = box(self.oracle, n, self.name)
        if bounds is not None:
            low, high = bounds
            has_low, has_high = np.isfinite(low), np.isfinite(high)
            self.lower[has_low], self.upper[has_high] = low[has_low], high[has_high]
            self.kind[:] = [_BOUND_KIND[b] for b in zip(has_low, has_high, strict=True)]
            x0 = np.clip(x0, low, high)
        self.x = x0.copy()
        self.f, self.g = 0.0, np.zeros(n)
        self.work = np.zeros(2 * m * n + 5 * n + 11 * m * m + 8 * m)
        self.iwork = np.zeros(3 * n, np.int32)
        self.task, self.ln_task = np.zeros(2, np.int32), np.zeros(2, np.int32)
        self.lsave, self.isave = np.zeros(4, np.int32), np.zeros(44, np.int32)
        self.dsave = np.zeros(29)
        self.memo: tuple[np.ndarray, float, np.ndarray] | None = None
        self._evaluate(self.x)  # scipy evaluates at x0 before its first call

    def step(self) -> np.ndarray:
        while True:
            self._setulb()
            task = self.task[0]
            if task == FG:
                self.f, self.g = self._evaluate(self.x)
            elif task == NEW_X:
                self.nit += 1
                return self.x.copy()
            else:  # scipy's success is its warnflag == 0: the CONVERGENCE task alone
                self.converged = True
                self.success = bool(task == CONVERGENCE)
                self.message = self._message(task, self.task[1])
                return self.x.copy()

    def _evaluate(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        """f and ∇f at x, memoised on the last point; the routine gets a copy it may overwrite."""
        if self.memo is None or not np.array_equal(x, self.memo[0]):
            f, g = self.oracle.value_and_grad(x)
            self.memo = (x.copy(), float(f), np.asarray(g, dtype=float))
        return self.memo[1], self.memo[2].copy()

    def _setulb(self) -> None:
        _lbfgsb.setulb(
            self.maxcor, self.x, self.lower, self.upper, self.kind, self.f, self.g,
            self.ftol / np.finfo(float).eps, self.gtol, self.work, self.iwork, self.task,
            self.lsave, self.isave, self.dsave, self.maxls, self.ln_task,
        )

    @staticmethod
    def _message(task: int, detail: int) -> str:
        """scipy's words ("STATUS: DETAIL"), with no dangling ": " when the detail is empty."""
        status = status_messages.get(task, str(task))
        words = task_messages.get(detail, str(detail)) or (LNSRCH if task == ABNORMAL else "")
        message = f"{status}: {words}" if words else status
        return message + HINT if task == ABNORMAL else message
