"""Adagrad: per-coordinate steps scaled by the root of the summed squared gradients.

    g_t = ∇f(x_{t-1})
    G_t = G_{t-1} + g_t²                      (G_0 = initial_accumulator)
    x_t = x_{t-1} − η_t g_t / (√G_t + ε)       (t = 1, 2, ...)

Arguments: ``lr`` η (number or schedule; default 0.01), ``eps`` ε (1e-10),
``initial_accumulator`` G_0 >= 0 (0), ``tol`` (stop when a step is <= tol; 0 = off).

Example::

    opt = optimizers.make("adagrad", lr=0.5)

Reference: J. Duchi, E. Hazan and Y. Singer, "Adaptive Subgradient Methods for Online Learning
and Stochastic Optimization", JMLR 12, 2011, the diagonal update of Section 1.1 (their δ is ε).

Warning: ε is added outside the square root, as in the paper and PyTorch; Keras and optax add
an initial accumulator instead (here ``initial_accumulator``, e.g. 0.1).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .base import FirstOrder
from .schedules import schedule


class AdagradState(NamedTuple):
    t: int
    x: np.ndarray
    sum_sq: np.ndarray


class Adagrad(FirstOrder):
    name = "adagrad"
    param_docs = {
        "lr": "learning rate η > 0: a number or a schedule mapping",
        "eps": "ε > 0 added to √G",
        "initial_accumulator": "G_0 >= 0, the starting sum of squared gradients",
        "tol": "stop when a step moves x by <= tol (0: never)",
    }

    def __init__(
        self,
        lr: float | dict = 0.01,
        eps: float = 1e-10,
        initial_accumulator: float = 0.0,
        tol: float = 0.0,
    ):
        super().__init__(tol)
        self.lr = schedule(self.name, "lr", lr)
        self.eps = self._check("eps", eps, low=0, low_open=True)
        self.initial_accumulator = self._check("initial_accumulator", initial_accumulator, low=0)

    def _start(self, x0: np.ndarray) -> None:
        self.state = AdagradState(0, x0, np.full_like(x0, self.initial_accumulator))

    def step(self) -> np.ndarray:
        t, x, sum_sq = self.state
        t += 1
        g = self.oracle.grad(x)
        sum_sq = sum_sq + g * g
        x_new = x - self.lr(t) * g / (np.sqrt(sum_sq) + self.eps)
        self.state = AdagradState(t, x_new, sum_sq)
        self.nit = t
        return self._moved(x_new, x)
