"""A group-lasso-style penalised reconstruction (the non-smooth penalty thread's loss).

    F(B) = ‖X B − X‖_F + λ Σ_i ‖B_i‖₂^{1/2}

over B ∈ R^{p×p} with rows B_i, for a data matrix X (n × p). theta is B flattened row-major.
The square root of the row norms favours whole zero rows (feature i not used to reconstruct the
others) more strongly than the convex group lasso (Yuan & Lin, "Model selection and estimation in
regression with grouped variables", JRSS-B 2006), at the price of non-convexity.

Gradient where F is differentiable (R = X B − X ≠ 0 and every row B_i ≠ 0):

    ∇F = Xᵀ R / ‖R‖_F + λ/2 · B_i / ‖B_i‖^{3/2}   (row by row for the penalty)

F is not differentiable where R = 0 or some B_i = 0, and near a zero row the penalty's gradient
grows like ‖B_i‖^{-1/2}: smooth methods zig-zag or stall there. At the kinks we return 0 for the
term that is not differentiable: for ‖R‖ = 0 that is the minimum-norm subgradient of the Frobenius
norm; for a zero row the penalty has no finite subgradient at all, and 0 keeps the row at zero,
which is where the penalty wants it. The gradient is therefore never NaN or infinite.
"""

from __future__ import annotations

import numpy as np

from . import datasets
from .base import Problem, check_number


class GroupLasso(Problem):
    name = "group_lasso"
    smooth = False
    param_docs = {
        "lam": "λ, weight of the square-root row-norm penalty",
        "data": "'diabetes' (scikit-learn's 442x10, standardised) or {path: FILE} (.npy/.csv)",
    }

    def __init__(self, lam: float = 1.0, data: str | dict = "diabetes"):
        self.lam = check_number(self.name, "lam", lam, low=0)
        if data == "diabetes":
            self.X = datasets.diabetes()
        elif isinstance(data, dict) and set(data) == {"path"}:
            self.X = datasets.from_path(self.name, datasets.matrix, data["path"])
        else:
            raise ValueError(
                f"group_lasso: parameter 'data' must be 'diabetes' or {{path: FILE}}, got {data!r}"
            )
        self.n, self.p = self.X.shape
        self.dim = self.p * self.p

    def initial_point(self, rng: np.random.Generator) -> np.ndarray:
        """Entries of B drawn from N(0, 0.5²): away from the kinks, not near the identity."""
        return rng.normal(0.0, 0.5, self.dim)

    def _parts(self, theta: np.ndarray):
        B = self.as_point(theta).reshape(self.p, self.p)
        R = self.X @ B
        R -= self.X
        r = float(np.sqrt(np.einsum("ij,ij->", R, R)))
        rows = np.sqrt(np.einsum("ij,ij->i", B, B))
        return B, R, r, rows

    def value(self, theta: np.ndarray) -> float:
        _, _, r, rows = self._parts(theta)
        return r + self.lam * float(np.sqrt(rows).sum())

    def value_and_grad(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        B, R, r, rows = self._parts(theta)
        f = r + self.lam * float(np.sqrt(rows).sum())
        g = self.X.T @ R / r if r > 0 else np.zeros_like(B)
        nonzero = rows > 0
        g[nonzero] += (0.5 * self.lam * rows[nonzero] ** -1.5)[:, None] * B[nonzero]
        return f, g.reshape(-1)

    def describe(self) -> str:
        return f"group lasso p={self.p} (dim {self.dim}), n={self.n}"
