"""Nelder-Mead, a step-by-step port of scipy's Nelder-Mead loop (scipy.optimize._optimize).

Algorithm (one step; the simplex x_0 … x_n is kept sorted so that f_0 <= … <= f_n)::

    if max|x_i − x_0| <= xatol and max|f_0 − f_i| <= fatol: converged
    x̄ = mean(x_0 … x_{n-1});  x_r = x̄ + ρ(x̄ − x_n)                          reflect
    if f_r < f_0:   x_e = x̄ + ρχ(x̄ − x_n);   keep the better of x_e, x_r    expand
    elif f_r < f_{n-1}:                        keep x_r
    elif f_r < f_n: x_c = x̄ + ψρ(x̄ − x_n);   keep x_c if f_c <= f_r          outside contraction
    else:           x_cc = x̄ − ψ(x̄ − x_n);    keep x_cc if f_cc < f_n         inside contraction
    if nothing was kept after a contraction: x_i ← x_0 + σ(x_i − x_0), i >= 1  shrink
    sort the simplex by f: without a shrink, move the one new vertex to its rank

with ρ = 1, χ = 2, ψ = 1/2, σ = 1/2, or with ``adaptive`` (Gao & Han) ρ = 1, χ = 1 + 2/n,
ψ = 3/4 − 1/(2n), σ = 1 − 1/n. With bounds every trial point is clipped into them.

``start()`` builds and evaluates the initial simplex (x0 and x0 with each coordinate scaled by
1.05, or set to 0.00025 where it is 0; or ``initial_simplex``), ``step()`` is one pass of the
loop. Driven until ``converged`` it reproduces ``scipy.optimize.minimize(method="Nelder-Mead")``
exactly: same simplex, iterates, nfev, and ``nit`` (which, as in scipy, starts at 1).
Iteration and evaluation limits are the runner's budget, not options here, so the only stop of
its own is the xatol/fatol test and ``success`` stays True: scipy's ``success = False`` exits
(maxfev, maxiter) end a run here as ``budget``.

Cost of a step besides its 1–2 evaluations (n + 2 with a shrink): scipy re-sorts the whole
simplex, an O(n²) copy. Here the vertices stay in rank order as a window of n+1 rows inside a
buffer of 2(n+1) rows, and a new vertex of rank k is put in place by moving min(k, n − k) rows
(when k is small the window slides up one row and the worst row drops off its end): 21 rows a
step on average over 1,500 steps on the 580-D autoencoder. Ties, a NaN and shrinks call
``np.argsort`` as scipy does, since its order of ties (unstable) is what scipy's simplex holds.
The centroid stays an O(n²) sum, most of a step's own time: ``np.add.reduce(sim[:-1], 0)`` adds
the rows one by one in rank order (from +0.0), so the partial sums change from the new vertex's
rank k on, and k is small (median 3 of 580 on that run): stored prefix sums would still add 96%
of the rows again, and the last sum updated, Σ + (x_new − x_out), differs from scipy's bits at
every one of its 1,499 steps (``tests/benchmarks/test_bench_nelder_mead.py`` measures both). On
the window it is scipy's own expression, one pass over the rows with no copy.

Arguments, named as scipy names them: ``adaptive`` (False), ``xatol`` (1e-4), ``fatol`` (1e-4),
``initial_simplex`` (n+1 points of n coordinates; default None).

Reference: J. A. Nelder and R. Mead, "A simplex method for function minimization", The
Computer Journal 7(4), 1965; F. Gao and L. Han, "Implementing the Nelder-Mead simplex algorithm
with adaptive parameters", Comput. Optim. Appl. 51, 2012.
"""

from __future__ import annotations

import numpy as np

from .base import Optimizer, ParameterError, box

NONZDELT, ZDELT = 0.05, 0.00025


class NelderMead(Optimizer):
    name = "nelder-mead"
    list_params = {"initial_simplex": 2}  # n+1 points of n coordinates
    param_docs = {
        "adaptive": "use dimension-dependent coefficients (Gao & Han)",
        "xatol": "converged when the simplex spans <= xatol in every coordinate (>= 0)",
        "fatol": "... and its values differ by <= fatol (>= 0)",
        "initial_simplex":
            "n+1 points of n coordinates; default: x0, and x0 scaled by 1.05 per axis",
    }

    def __init__(
        self,
        adaptive: bool = False,
        xatol: float = 1e-4,
        fatol: float = 1e-4,
        initial_simplex: list[list[float]] | None = None,
    ):
        self.adaptive = self._flag("adaptive", adaptive)
        self.xatol = self._check("xatol", xatol, low=0)
        self.fatol = self._check("fatol", fatol, low=0)
        self.initial_simplex = None
        if initial_simplex is not None:
            self.initial_simplex = self._simplex(initial_simplex)

    def _simplex(self, points) -> np.ndarray:
        """``initial_simplex`` as an (n+1) x n float array, else a ParameterError naming it."""
        try:
            sim = np.asarray(points, dtype=float)
        except (TypeError, ValueError):  # a string, None or a ragged list among the numbers
            got = repr(points)
        else:
            if sim.ndim == 2 and sim.shape[0] == sim.shape[1] + 1 and np.isfinite(sim).all():
                return sim
            got = f"shape {sim.shape}" if np.isfinite(sim).all() else repr(points)
        raise ParameterError(
            f"{self.name}: parameter 'initial_simplex' must be an (n+1) x n list of finite "
            f"numbers (n+1 points of n coordinates), got {got}",
            "initial_simplex",
        )

    def _start(self, x0: np.ndarray) -> None:
        n = x0.size
        if self.adaptive:
            self.rho, self.chi, self.psi, self.sigma = 1, 1 + 2 / n, 0.75 - 1 / (2 * n), 1 - 1 / n
        else:
            self.rho, self.chi, self.psi, self.sigma = 1, 2, 0.5, 0.5
        self.bounds = box(self.oracle, n, self.name)
        if self.bounds is not None:
            x0 = np.clip(x0, *self.bounds)
        sim = self._initial_simplex(x0)
        if self.bounds is not None:  # reflect points beyond the upper bound back inside, as scipy
            upper = self.bounds[1]
            sim = np.clip(np.where(sim > upper, 2 * upper - sim, sim), *self.bounds)
        self._rows = np.empty((2 * (n + 1), n))  # the simplex is a window of n+1 of these rows
        self._flat = self._rows.reshape(-1)  # the same rows as one vector, to move them with
        self._xbar = np.empty(n)
        self._top = n + 1
        self.sim = self._rows[self._top:]
        self.sim[:] = sim
        self.fsim = np.full(n + 1, np.inf)
        for k in range(n + 1):
            self.fsim[k] = self.oracle.value(self.sim[k])
        self._sort()
        self._sort()  # scipy sorts twice before its loop; with ties the second may reorder
        self.nit = 1

    def _initial_simplex(self, x0: np.ndarray) -> np.ndarray:
        if self.initial_simplex is None:
            sim = np.tile(x0, (x0.size + 1, 1))
            diag = np.arange(x0.size)
            sim[diag + 1, diag] = np.where(x0 != 0, (1 + NONZDELT) * x0, ZDELT)
            return sim
        if self.initial_simplex.shape[1] != x0.size:
            raise ValueError(
                f"{self.name}: initial_simplex has points of {self.initial_simplex.shape[1]} "
                f"coordinates but the problem has {x0.size}"
            )
        return self.initial_simplex.copy()

    def step(self) -> np.ndarray:
        sim, fsim = self.sim, self.fsim
        # scipy tests max|x_i − x_0| <= xatol and max|f_0 − f_i| <= fatol. f is sorted (NaN
        # last), so its max is |f_0 − f_n|: asked first, it decides the same and skips an n² pass
        if abs(fsim[0] - fsim[-1]) <= self.fatol and self._spans_within(self.xatol):
            self.converged = True
            self.message = "Optimization terminated successfully."
            return sim[0].copy()
        rho, chi, psi = self.rho, self.chi, self.psi
        xbar = np.add.reduce(sim[:-1], 0, out=self._xbar)  # scipy's sum, bit for bit (see above)
        xbar /= sim.shape[0] - 1
        xr, fxr = self._try((1 + rho) * xbar - rho * sim[-1])
        if fxr < fsim[0]:
            xe, fxe = self._try((1 + rho * chi) * xbar - rho * chi * sim[-1])
            self._replace_worst(*((xe, fxe) if fxe < fxr else (xr, fxr)))
        elif fxr < fsim[-2]:
            self._replace_worst(xr, fxr)
        elif fxr < fsim[-1]:
            xc, fxc = self._try((1 + psi * rho) * xbar - psi * rho * sim[-1])
            self._replace_worst(xc, fxc) if fxc <= fxr else self._shrink()
        else:
            xcc, fxcc = self._try((1 - psi) * xbar + psi * sim[-1])
            self._replace_worst(xcc, fxcc) if fxcc < fsim[-1] else self._shrink()
        self.nit += 1
        return self.sim[0].copy()  # self.sim, not sim: the window may have slid

    def _spans_within(self, xatol: float) -> bool:
        """max |x_i − x_0| <= xatol, vertex by vertex, stopping at the first one beyond it."""
        sim = self.sim
        return all(np.max(np.abs(x - sim[0])) <= xatol for x in sim[1:])

    def _try(self, x: np.ndarray) -> tuple[np.ndarray, float]:
        if self.bounds is not None:
            x = np.clip(x, *self.bounds)
        return x, self.oracle.value(x)

    def _replace_worst(self, x: np.ndarray, f: float) -> None:
        """Drop the worst vertex and insert (x, f) at its rank k: O(n·min(k, n−k)), not O(n²).

        Without ties the rank is where scipy's argsort puts it. The rows of ranks 0 … k−1 move
        one row up in ``_rows`` (the window slides up), or those of ranks k … n−1 one row down.
        """
        fsim, n = self.fsim, self.fsim.size - 1
        k = int(fsim[:-1].searchsorted(f))
        if not (self._distinct and (k == 0 or fsim[k - 1] < f) and (k == n or f < fsim[k])):
            self.sim[-1], fsim[-1] = x, f
            self._sort()  # a tie (or NaN): scipy's argsort is unstable, so ask it for the order
            return
        fsim[k + 1:] = fsim[k:-1]
        fsim[k] = f
        if k < n - k:
            top = self._slide_up()
            self._move_rows(top + 1, top, k)
        else:
            self._move_rows(self._top + k, self._top + k + 1, n - k)
        self.sim[k] = x

    def _move_rows(self, start: int, to: int, count: int) -> None:
        """Rows ``start`` … ``start + count − 1`` of ``_rows`` to ``to`` …, overlapping or not.

        Through the flat view it is one memmove; numpy copies an overlapping 2-D block through a
        temporary, twice the traffic.
        """
        n = self._rows.shape[1]
        self._flat[to * n: (to + count) * n] = self._flat[start * n: (start + count) * n]

    def _slide_up(self) -> int:
        """Move the window one row up in ``_rows``, its worst row falling out; return its top."""
        rows, n1 = self._rows, self.fsim.size
        if self._top == 0:  # no room above: move the window to the bottom, once per n+1 slides
            rows[n1:] = rows[:n1]
            self._top = n1
        self._top -= 1
        self.sim = rows[self._top: self._top + n1]
        return self._top

    def _shrink(self) -> None:
        sim = self.sim
        for j in range(1, sim.shape[0]):
            sim[j] = sim[0] + self.sigma * (sim[j] - sim[0])
            if self.bounds is not None:
                sim[j] = np.clip(sim[j], *self.bounds)
            self.fsim[j] = self.oracle.value(sim[j])
        self._sort()

    def _sort(self) -> None:
        """Order the vertices as scipy's ``np.argsort(fsim)``, moving only the rows it moves."""
        ind = np.argsort(self.fsim)
        moved = np.flatnonzero(ind != np.arange(ind.size))
        if moved.size:
            span = slice(moved[0], moved[-1] + 1)
            self.sim[span], self.fsim[span] = self.sim[ind[span]], self.fsim[ind[span]]
        self._distinct = bool(np.all(self.fsim[:-1] < self.fsim[1:]))
