"""L2-regularised logistic regression on scikit-learn's bundled breast-cancer data.

    f(w, b) = (1/n) Σ_i log(1 + exp(−y_i (x_iᵀw + b))) + (λ/2) ‖w‖²,   y_i ∈ {−1, +1}

    ∇_w f = −(1/n) Xᵀ (y ⊙ σ(−m)) + λ w,   ∂_b f = −(1/n) Σ_i y_i σ(−m_i),   m = y ⊙ (Xw + b)

569 tumours, 30 standardised features; theta = (w, b), 31 numbers. The loss is smooth and, for
λ > 0, strongly convex: every good optimizer should find the same minimum.
"""

from __future__ import annotations

import numpy as np

from optbench import Problem, check_number


class LogisticRegression(Problem):
    name = "logreg"
    param_docs = {"lam": "λ >= 0, the L2 penalty on w (not on the bias b)"}

    def __init__(self, lam: float = 1e-2):
        from sklearn.datasets import load_breast_cancer  # bundled with scikit-learn: no download

        self.lam = check_number(self.name, "lam", lam, low=0)
        data = load_breast_cancer()
        X = data.data
        self.X = np.ascontiguousarray((X - X.mean(0)) / X.std(0))
        self.y = np.where(data.target == 1, 1.0, -1.0)
        self.n, p = self.X.shape
        self.dim = p + 1

    def initial_point(self, rng: np.random.Generator) -> np.ndarray:
        return rng.normal(0.0, 0.1, self.dim)

    def value_and_grad(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = theta[:-1], theta[-1]
        margin = self.y * (self.X @ w + b)
        loss = np.logaddexp(0.0, -margin).mean() + 0.5 * self.lam * (w @ w)
        s = -self.y * np.exp(-np.logaddexp(0.0, margin)) / self.n  # −y σ(−m) / n, overflow-safe
        grad = np.append(self.X.T @ s + self.lam * w, s.sum())
        return float(loss), grad

    def value(self, theta: np.ndarray) -> float:
        return self.value_and_grad(theta)[0]
