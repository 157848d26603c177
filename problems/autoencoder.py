"""A three-layer sigmoid autoencoder on real images (the backprop and L-BFGS-B threads' network).

With x the images as columns (visible × m) and σ the logistic sigmoid:

    a2 = σ(W1 x + b1)          hidden × m
    a3 = σ(W2 a2 + b2)         visible × m, the reconstruction
    J  = 1/(2m) Σ ‖a3 − x‖² + λ/2 (‖W1‖² + ‖W2‖²) [+ β Σ_j KL(ρ ‖ ρ̂_j)],  ρ̂ = mean of a2 over x

and backpropagation gives, with δ3 = (a3 − x) ⊙ a3 ⊙ (1 − a3) and
δ2 = (W2ᵀ δ3 + β(−ρ/ρ̂ + (1−ρ)/(1−ρ̂))) ⊙ a2 ⊙ (1 − a2):

    ∇W2 = δ3 a2ᵀ / m + λ W2,   ∇b2 = Σ δ3 / m,   ∇W1 = δ2 xᵀ / m + λ W1,   ∇b1 = Σ δ2 / m.

theta is (W1, W2, b1, b2), each row-major, in that order, as scipy.optimize.minimize expects a
flat vector. Reference: A. Ng, "Sparse autoencoder", CS294A lecture notes, Stanford, 2011.

The five matrix products (W1 x, W2 a2, W2ᵀ δ3, δ3 a2ᵀ, δ2 xᵀ) are the unavoidable cost; the
element-wise work runs in place on preallocated buffers. A row of ones carries each bias through
its product: a layer's [W/2 | b/2] against [a; 1] yields z/2, and σ(z) = (1 + τ)/2 with
τ = tanh(z/2), which no exponential can overflow and which takes no reciprocal. In the output
layer, with the images kept as y = 2x − 1, the residual is r = τ − y = 2(a3 − x) and
8 δ3 = r (1 − τ²): a tanh, a subtraction, a dot product and three passes for δ3, made a block of
rows at a time so that they run in cache. The gradient products take the same rows of ones,
δ [a; 1]ᵀ = m [∇W | ∇b] (the bias gradients' sums are one more column), through BLAS's dgemm
with α = 1/(8m) and β = 2λ times the forward's [W/2 | b/2] giving λW: the only pass over the
gradient left is its copy into theta's layout.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.linalg.blas import dgemm

from . import datasets
from .base import Problem, check_number

_TINY = np.finfo(float).eps
_BLOCK = 65_536
"""Elements in a block of the output layer's element-wise passes, so that its τ, y and r stay in
cache: on the 784 × 1000 layer, with other work running, the chain measures ~15% faster in blocks
of 32k to 64k elements than over the whole layer."""


def _half_affine(W: np.ndarray, b: np.ndarray, out: np.ndarray) -> np.ndarray:
    """[W/2 | b/2] into ``out``: one product with [a; 1] then gives z/2 = (W a + b)/2."""
    np.multiply(W, 0.5, out=out[:, :-1])
    np.multiply(b, 0.5, out=out[:, -1])
    return out


def _gradient_product(alpha: float, d: np.ndarray, a1: np.ndarray, beta: float, G: np.ndarray,
                      gW: np.ndarray, gb: np.ndarray) -> None:
    """[gW | gb] = α d [a; 1]ᵀ + β G, G's bias column zeroed first: the decay term λW rides in β G.

    By BLAS's dgemm on the transposed (column-major) views of the C-ordered arrays, no copies.
    """
    G[:, -1] = 0.0
    Gt = G.T
    r = dgemm(alpha, a1.T, d.T, beta, Gt, trans_a=1, overwrite_c=1)
    if r is not Gt:  # f2py copied G (never for our contiguous buffers): take its result
        G = r.T
    np.copyto(gW, G[:, :-1])
    np.copyto(gb, G[:, -1])


class Autoencoder(Problem):
    name = "autoencoder"
    param_docs = {
        "hidden": "number of hidden units",
        "weight_decay": "λ, the L2 penalty on W1 and W2",
        "sparsity": "ρ, the target mean activation of a hidden unit; null turns the KL penalty off",
        "sparsity_weight": "β, weight of the KL sparsity penalty",
        "samples": "use the first N images; null: all",
        "data": "'digits' (scikit-learn's 8x8 digits, bundled) or {path: FILE} (IDX or .npz)",
    }

    def __init__(
        self,
        hidden: int = 25,
        weight_decay: float = 1e-4,
        sparsity: float | None = None,
        sparsity_weight: float = 3.0,
        samples: int | None = None,
        data: str | dict = "digits",
    ):
        owner = self.name
        self.hidden = check_number(owner, "hidden", hidden, low=1, integer=True)
        self.weight_decay = check_number(owner, "weight_decay", weight_decay, low=0)
        self.sparsity = (
            None if sparsity is None
            else check_number(owner, "sparsity", sparsity, low=0, high=1, low_open=True,
                              high_open=True)
        )
        self.sparsity_weight = check_number(owner, "sparsity_weight", sparsity_weight, low=0)
        if samples is not None:
            samples = check_number(owner, "samples", samples, low=1, integer=True)
        x = self._load(data, samples)
        v, m = x.shape
        self.visible, self.m, h = v, m, self.hidden
        self.dim = 2 * h * v + h + v
        self._w2_end = 2 * h * v
        # [x; 1] and [a2; 1]: a row of ones carries each bias through its product and gradient
        self._x1 = np.ones((v + 1, m))
        self._x1[:v] = x
        self.x = self._x1[:v]
        self._a2_1 = np.ones((h + 1, m))
        self._y = 2.0 * self.x - 1.0  # the images on tanh's scale: 2(a3 − x) = tanh(z3/2) − y
        self._buffers: dict[str, np.ndarray] = {}

    @staticmethod
    def _load(data, samples) -> np.ndarray:
        if data == "digits":
            return datasets.digits(samples)
        if isinstance(data, dict) and set(data) == {"path"}:
            return datasets.from_path("autoencoder", datasets.images, data["path"], samples)
        raise ValueError(
            f"autoencoder: parameter 'data' must be 'digits' or {{path: FILE}}, got {data!r}"
        )

    @property
    def blocks(self) -> dict[str, slice]:
        h, v = self.hidden, self.visible
        return {
            "W1": slice(0, h * v),
            "W2": slice(h * v, 2 * h * v),
            "b1": slice(2 * h * v, 2 * h * v + h),
            "b2": slice(2 * h * v + h, self.dim),
        }

    def unpack(self, theta: np.ndarray):
        """Views (W1, W2, b1, b2) into theta."""
        h, v, e = self.hidden, self.visible, self._w2_end
        return (
            theta[: h * v].reshape(h, v),
            theta[h * v : e].reshape(v, h),
            theta[e : e + h],
            theta[e + h :],
        )

    def initial_point(self, rng: np.random.Generator) -> np.ndarray:
        """Weights uniform in ±4·sqrt(6/(hidden+visible)) (W1 then W2), biases zero."""
        r = 4.0 * math.sqrt(6.0 / (self.hidden + self.visible))
        theta = np.zeros(self.dim)
        theta[: self._w2_end] = rng.uniform(-r, r, self._w2_end)
        return theta

    def _buffer(self, key: str, shape: tuple[int, int]) -> np.ndarray:
        buf = self._buffers.get(key)
        if buf is None or buf.shape != shape:
            buf = self._buffers[key] = np.empty(shape)
        return buf

    def value(self, theta: np.ndarray) -> float:
        return self._forward(np.asarray(theta, dtype=float), backward=False)[0]

    def _forward(self, theta: np.ndarray, backward: bool = True):
        """Cost, a2, and ρ̂; with ``backward``, 8 δ3 = 8 (a3 − x) ⊙ a3 ⊙ (1 − a3) (else a3's τ)."""
        W1, W2, b1, b2 = self.unpack(theta)
        h, v, m = self.hidden, self.visible, self.m
        a2 = self._a2_1[:h]
        np.matmul(_half_affine(W1, b1, self._buffer("W1|b1/2", (h, v + 1))), self._x1, out=a2)
        np.tanh(a2, out=a2)  # σ(z) = (1 + tanh(z/2))/2, which no exponential can overflow
        a2 *= 0.5
        a2 += 0.5
        # a3 = σ(z3) = (1 + τ)/2, τ = tanh(z3/2): r = τ − y = 2(a3 − x), 1 − τ² = 4 a3(1 − a3)
        tau = self._buffer("tau", (v, m))
        np.matmul(_half_affine(W2, b2, self._buffer("W2|b2/2", (v, h + 1))), self._a2_1, out=tau)
        step = max(1, _BLOCK // m)
        r_block = self._buffer("r", (min(step, v), m))
        sq = 0.0
        for lo in range(0, v, step):  # a block of rows at a time: its passes run in cache
            t, y = tau[lo : lo + step], self._y[lo : lo + step]
            np.tanh(t, out=t)
            r = np.subtract(t, y, out=r_block[: len(t)])
            flat = r.reshape(-1)
            sq += float(flat @ flat)
            if backward:  # 8 δ3 = r (1 − τ²) in τ's place
                np.square(t, out=t)
                np.subtract(1.0, t, out=t)
                t *= r
        w = theta[: self._w2_end]
        cost = sq / (8 * m) + 0.5 * self.weight_decay * float(w @ w)
        rho_hat = None
        if self.sparsity is not None:
            rho, beta = self.sparsity, self.sparsity_weight
            # saturated units give ρ̂ of exactly 0 or 1, where KL and its slope are infinite
            rho_hat = np.clip(a2.mean(axis=1), _TINY, 1.0 - _TINY)
            cost += beta * float(
                np.sum(rho * np.log(rho / rho_hat) + (1 - rho) * np.log((1 - rho) / (1 - rho_hat)))
            )
        return cost, a2, tau, rho_hat

    def value_and_grad(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        theta = np.asarray(theta, dtype=float)
        cost, a2, d3, rho_hat = self._forward(theta)  # d3 holds 8 δ3, so d2 below 8 δ2
        W2 = self.unpack(theta)[1]
        m, lam = self.m, self.weight_decay
        grad = np.empty(self.dim)
        gW1, gW2, gb1, gb2 = self.unpack(grad)
        # δ2 = (W2ᵀ δ3 [+ sparsity]) ⊙ a2 ⊙ (1 − a2)
        d2 = np.matmul(W2.T, d3, out=self._buffer("d2", a2.shape))
        if rho_hat is not None:
            rho, beta = self.sparsity, self.sparsity_weight
            d2 += (8.0 * beta * (-rho / rho_hat + (1 - rho) / (1 - rho_hat)))[:, None]
        s2 = np.subtract(1.0, a2, out=self._buffer("s2", a2.shape))
        s2 *= a2
        d2 *= s2
        # [∇W | ∇b] = 8δ [a; 1]ᵀ / (8m) + λ [W | 0], the λW from the forward's [W/2 | b/2] at β = 2λ
        bufs = self._buffers
        _gradient_product(0.125 / m, d3, self._a2_1, 2 * lam, bufs["W2|b2/2"], gW2, gb2)
        _gradient_product(0.125 / m, d2, self._x1, 2 * lam, bufs["W1|b1/2"], gW1, gb1)
        return cost, grad

    def describe(self) -> str:
        return f"autoencoder {self.visible}-{self.hidden}-{self.visible} on {self.m} images"
