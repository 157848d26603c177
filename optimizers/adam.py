"""Adam: adaptive moment estimation, with bias correction (and AMSGrad as an option).

    g_t = ∇f(x_{t-1})
    m_t = β1 m_{t-1} + (1 − β1) g_t
    v_t = β2 v_{t-1} + (1 − β2) g_t²
    m̂_t = m_t / (1 − β1^t),   v̂_t = v_t / (1 − β2^t)
    x_t = x_{t-1} − η_t m̂_t / (√v̂_t + ε)          (m_0 = v_0 = 0, t = 1, 2, ...)

With ``amsgrad`` the denominator uses the running maximum of v_t (Reddi, Kale & Kumar 2018),
bias-corrected like v_t, as PyTorch does.

Arguments: ``lr`` η (number or schedule; default 0.001), ``beta1`` (0.9), ``beta2`` (0.999),
``eps`` ε (1e-8), ``amsgrad`` (False), ``tol`` (stop when a step is <= tol; 0 = off).

Example::

    opt = optimizers.make("adam", lr=0.1)

Reference: D. P. Kingma and J. Ba, "Adam: A Method for Stochastic Optimization", ICLR 2015,
Algorithm 1. S. J. Reddi, S. Kale and S. Kumar, "On the Convergence of Adam and Beyond",
ICLR 2018 (AMSGrad).

Warning: ε is added to √v̂_t, outside the square root, as in the paper (optax's ``eps``);
some libraries add it inside (``eps_root``).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .base import FirstOrder
from .schedules import schedule


class AdamState(NamedTuple):
    t: int
    x: np.ndarray
    m: np.ndarray
    v: np.ndarray
    v_max: np.ndarray | None


class Adam(FirstOrder):
    name = "adam"
    param_docs = {
        "lr": "learning rate η > 0: a number or a schedule mapping",
        "beta1": "decay of the first moment, in [0, 1)",
        "beta2": "decay of the second moment, in [0, 1)",
        "eps": "ε > 0 added to √v̂",
        "amsgrad": "use the running maximum of v (AMSGrad)",
        "tol": "stop when a step moves x by <= tol (0: never)",
    }

    def __init__(
        self,
        lr: float | dict = 0.001,
        beta1: float = 0.9,
        beta2: float = 0.999,
        eps: float = 1e-8,
        amsgrad: bool = False,
        tol: float = 0.0,
    ):
        super().__init__(tol)
        self.lr = schedule(self.name, "lr", lr)
        self.beta1 = self._check("beta1", beta1, low=0, high=1, high_open=True)
        self.beta2 = self._check("beta2", beta2, low=0, high=1, high_open=True)
        self.eps = self._check("eps", eps, low=0, low_open=True)
        self.amsgrad = self._flag("amsgrad", amsgrad)

    def _start(self, x0: np.ndarray) -> None:
        zeros = np.zeros_like(x0)
        self.state = AdamState(0, x0, zeros, zeros, zeros if self.amsgrad else None)

    def step(self) -> np.ndarray:
        t, x, m, v, v_max = self.state
        b1, b2 = self.beta1, self.beta2
        t += 1
        g = self.oracle.grad(x)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * (g * g)
        if v_max is not None:
            v_max = np.maximum(v_max, v)
        m_hat = m / (1 - b1**t)
        v_hat = (v if v_max is None else v_max) / (1 - b2**t)
        x_new = x - self.lr(t) * m_hat / (np.sqrt(v_hat) + self.eps)
        self.state = AdamState(t, x_new, m, v, v_max)
        self.nit = t
        return self._moved(x_new, x)
