"""Nesterov's accelerated gradient, in the look-ahead form of the NAG-on-Ackley thread.

    g_t = ∇f(x_{t-1} − γ v_{t-1})
    v_t = γ v_{t-1} + η_t g_t
    x_t = x_{t-1} − v_t                      (v_0 = 0, t = 1, 2, ...)

Arguments: ``lr`` η (a number or a schedule, see ``optimizers.schedules``; default 0.01),
``momentum`` γ in [0, 1) (default 0.9), ``tol`` (stop when ‖x_t − x_{t-1}‖ <= tol; 0 = off).

Example::

    opt = optimizers.make("nag", lr={"piecewise": {"boundaries": [5, 10],
                                                   "values": [1e-4, 1e-2, 0.1]}}, momentum=0.2)

Reference: Y. Nesterov, "A method for solving the convex programming problem with convergence
rate O(1/k^2)", Soviet Math. Doklady 27, 1983; this form as in I. Sutskever, J. Martens,
G. Dahl and G. Hinton, "On the importance of initialization and momentum in deep learning",
ICML 2013, eq. (3)–(4).

Warning: this is the look-ahead form (gradient at x − γv, as the seed writes it). Sutskever's
reformulation that stores the look-ahead point as the iterate, used by PyTorch's
``nesterov=True``, produces different iterates.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .base import FirstOrder
from .schedules import schedule


class NAGState(NamedTuple):
    t: int
    x: np.ndarray
    v: np.ndarray


class NAG(FirstOrder):
    name = "nag"
    param_docs = {
        "lr": "learning rate η > 0: a number or a schedule mapping",
        "momentum": "momentum γ in [0, 1)",
        "tol": "stop when a step moves x by <= tol (0: never)",
    }

    def __init__(self, lr: float | dict = 0.01, momentum: float = 0.9, tol: float = 0.0):
        super().__init__(tol)
        self.lr = schedule(self.name, "lr", lr)
        self.momentum = self._check("momentum", momentum, low=0, high=1, high_open=True)

    def _start(self, x0: np.ndarray) -> None:
        self.state = NAGState(0, x0, np.zeros_like(x0))

    def step(self) -> np.ndarray:
        t, x, v = self.state
        t += 1
        gamma = self.momentum
        g = self.oracle.grad(x - gamma * v)
        v = gamma * v + self.lr(t) * g
        self.state = NAGState(t, x - v, v)
        self.nit = t
        return self._moved(self.state.x, x)
