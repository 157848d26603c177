"""The discriminative loss for instance segmentation (the thread whose loss "zeroes out").

A one-hidden-layer network maps each pixel's features u_i (colour and position) to an embedding

    e_i = W2 tanh(W1 u_i + b1) + b2 ∈ R^D,

and, per image with clusters c = 1..C (the instances and the background), N_c pixels each and
means μ_c = mean_{i∈c} e_i, the loss of De Brabandere, Neven & Van Gool is

    L_var  = 1/C Σ_c 1/N_c Σ_{i∈c} [‖μ_c − e_i‖ − δ_v]_+²        pull pixels to their mean
    L_dist = 1/(C(C−1)) Σ_{c≠c'} [2δ_d − ‖μ_c − μ_c'‖]_+²     push means apart (c ≠ c' only)
    L_reg  = 1/C Σ_c ‖μ_c‖                                      keep means near the origin
    L      = mean over images of α L_var + β L_dist + γ L_reg.

Safe norms: every ‖z‖ above is computed as ‖z‖_ε = sqrt(‖z‖² + ε), whose gradient z/‖z‖_ε is 0,
not 0/0 = NaN, at z = 0: where a pixel sits on its mean, two means coincide, or a mean is at the
origin (all three happen at once when W2 = 0). ε (``eps``, default 1e-6) moves each norm by at
most sqrt(ε) = 1e-3, small beside δ_v = 0.5, and caps the norm's curvature at 1/sqrt(ε), which
keeps finite differences usable even at z = 0. Gradient, with d = μ_c − e_i, s = ‖d‖_ε and
weights w folding in the 1/C, 1/N_c and 1/#images factors:

    ∂L_var/∂e_i = −2 w_i [s − δ_v]_+ d / s  (and its sum over i ∈ c, negated, on μ_c)
    ∂L_dist/∂μ_c = −2 w [2δ_d − s]_+ (μ_c − μ_c') / s      ∂L_reg/∂μ_c = w_c μ_c / ‖μ_c‖_ε
    ∂L/∂e_i += (∂L/∂μ_c) / N_c, then backpropagation through the network.

Seed failure modes avoided: a safe norm instead of tf.norm (NaN gradients, the loss "zeroing
out"), no c = c' terms in L_dist, and no division of the hinges by L_reg.

The images are synthetic and fixed by ``seed``: each holds ``instances`` overlapping elliptical
blobs on a background, later blobs on top; a pixel's features are its region's colour plus
N(0, 0.1²) noise, and its (row, column) scaled to [−1, 1]. theta is W1 (hidden × 5), b1,
W2 (D × hidden), b2, row-major, in that order.

Reference: B. De Brabandere, D. Neven & L. Van Gool, "Semantic instance segmentation with a
discriminative loss function", CVPR Workshops, 2017 (arXiv:1708.02551); defaults
δ_v = 0.5, δ_d = 1.5, α = β = 1, γ = 0.001 as there.
"""

from __future__ import annotations

import math

import numpy as np

from .base import Problem, check_number

FEATURES = 5  # r, g, b, row, column
NOISE = 0.1


def synthetic_images(images: int, size: int, instances: int, seed: int):
    """Per-pixel features (P × 5), cluster ids (P,) numbered 0..K−1 across images, and the image
    of each cluster (K,). Background is a cluster; a blob hidden entirely by later ones is not."""
    rng = np.random.default_rng(seed)
    grid = (np.arange(size) + 0.5) / size
    rows, cols = np.meshgrid(grid, grid, indexing="ij")
    feats, ids, image_of = [], [], []
    for n in range(images):
        label = np.zeros((size, size), dtype=int)
        for k in range(1, instances + 1):
            cy, cx = rng.uniform(0.2, 0.8, 2)
            ry, rx = rng.uniform(0.12, 0.3, 2)
            label[((rows - cy) / ry) ** 2 + ((cols - cx) / rx) ** 2 <= 1.0] = k
            label[int(cy * size), int(cx * size)] = k  # at least one pixel, even if tiny
        colour = rng.uniform(0.0, 1.0, (instances + 1, 3))
        present, local = np.unique(label.ravel(), return_inverse=True)
        u = np.column_stack([colour[label.ravel()], 2 * rows.ravel() - 1, 2 * cols.ravel() - 1])
        u[:, :3] += NOISE * rng.standard_normal((size * size, 3))
        feats.append(u)
        ids.append(local + len(image_of))
        image_of.extend([n] * present.size)
    return np.vstack(feats), np.concatenate(ids), np.array(image_of)


def safe_norm(z: np.ndarray, eps: float) -> np.ndarray:
    """sqrt(‖z‖² + ε) over the last axis."""
    return np.sqrt(np.einsum("...d,...d->...", z, z) + eps)


class Discriminative(Problem):
    name = "discriminative"
    param_docs = {
        "images": "number of synthetic images",
        "size": "image side in pixels",
        "instances": "blobs per image (plus the background)",
        "hidden": "hidden units of the embedding network",
        "embed_dim": "D, dimension of the pixel embeddings",
        "delta_v": "δ_v, pull hinge: pixels within δ_v of their mean cost nothing",
        "delta_d": "δ_d, push hinge: means further than 2δ_d apart cost nothing",
        "alpha": "α, weight of L_var",
        "beta": "β, weight of L_dist",
        "gamma": "γ, weight of L_reg",
        "eps": "ε in the safe norm sqrt(‖z‖² + ε)",
        "seed": "seed of the synthetic images (the run's seed draws the weights)",
    }

    def __init__(
        self,
        images: int = 3,
        size: int = 16,
        instances: int = 3,
        hidden: int = 16,
        embed_dim: int = 4,
        delta_v: float = 0.5,
        delta_d: float = 1.5,
        alpha: float = 1.0,
        beta: float = 1.0,
        gamma: float = 0.001,
        eps: float = 1e-6,
        seed: int = 0,
    ):
        owner = self.name
        integer = {"images": images, "size": size, "instances": instances, "hidden": hidden,
                   "embed_dim": embed_dim}
        for key, value in integer.items():
            setattr(self, key, check_number(owner, key, value, low=1, integer=True))
        self.seed = check_number(owner, "seed", seed, low=0, integer=True)
        self.delta_v = check_number(owner, "delta_v", delta_v, low=0)
        self.delta_d = check_number(owner, "delta_d", delta_d, low=0)
        self.alpha = check_number(owner, "alpha", alpha, low=0)
        self.beta = check_number(owner, "beta", beta, low=0)
        self.gamma = check_number(owner, "gamma", gamma, low=0)
        self.eps = check_number(owner, "eps", eps, low=0, low_open=True)
        self.u, self.cluster, self.image_of = synthetic_images(
            self.images, self.size, self.instances, self.seed)
        # blobs may overlap, but an image needs a blob beside its background for the loss to
        # have anything to pull together or push apart, and pixels enough for its blobs
        per_image = np.bincount(self.image_of, minlength=self.images)
        if per_image.min() < 2 or self.instances > self.size**2 - 1:
            raise ValueError(
                f"discriminative: parameters 'size' and 'instances': {self.instances} blobs on a "
                f"{self.size}x{self.size} image leave {per_image.min()} region(s) in some image "
                f"(seed {self.seed}); give at least instances + 1 pixels and a size that fits a "
                "blob (the default: size 16, 3 instances)"
            )
        K = self.image_of.size
        self.counts = np.bincount(self.cluster, minlength=K).astype(float)  # N_c
        C = np.bincount(self.image_of, minlength=self.images).astype(float)[self.image_of]
        # weights of each pixel's pull term, each mean's norm, each unordered pair's push term
        self.w_var = (1.0 / (self.images * C * self.counts))[self.cluster]
        self.w_reg = 1.0 / (self.images * C)
        a, b = np.triu_indices(K, k=1)
        same = self.image_of[a] == self.image_of[b]
        self.pairs = a[same], b[same]
        self.w_dist = 2.0 / (self.images * C[a[same]] * (C[a[same]] - 1))
        self.mean_of = np.zeros((K, self.cluster.size))  # μ = mean_of @ e
        self.mean_of[self.cluster, np.arange(self.cluster.size)] = 1.0 / self.counts[self.cluster]
        h, D = self.hidden, self.embed_dim
        self._sizes = {"W1": h * FEATURES, "b1": h, "W2": D * h, "b2": D}
        self.dim = sum(self._sizes.values())

    @property
    def blocks(self) -> dict[str, slice]:
        out, start = {}, 0
        for key, n in self._sizes.items():
            out[key] = slice(start, start + n)
            start += n
        return out

    def unpack(self, theta: np.ndarray):
        """Views (W1, b1, W2, b2) into theta."""
        b = self.blocks
        h, D = self.hidden, self.embed_dim
        return (theta[b["W1"]].reshape(h, FEATURES), theta[b["b1"]],
                theta[b["W2"]].reshape(D, h), theta[b["b2"]])

    def initial_point(self, rng: np.random.Generator) -> np.ndarray:
        """Weights N(0, 1/fan-in) (so embeddings start O(1)), biases zero."""
        theta = np.zeros(self.dim)
        W1, _, W2, _ = self.unpack(theta)
        W1[:] = rng.standard_normal(W1.shape) / math.sqrt(FEATURES)
        W2[:] = rng.standard_normal(W2.shape) / math.sqrt(self.hidden)
        return theta

    def embed(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(hidden activations, embeddings e), one row per pixel."""
        W1, b1, W2, b2 = self.unpack(np.asarray(theta, dtype=float))
        a = np.tanh(self.u @ W1.T + b1)
        return a, a @ W2.T + b2

    def terms(self, theta: np.ndarray) -> dict[str, float]:
        """L_var, L_dist and L_reg (each already averaged over images), unweighted."""
        return self._loss(self.embed(theta)[1], need_grad=False)[1]

    def _loss(self, e: np.ndarray, need_grad: bool = True):
        mu = self.mean_of @ e
        d = mu[self.cluster] - e  # pixel to its mean
        s = safe_norm(d, self.eps)
        pull = np.maximum(s - self.delta_v, 0.0)
        a, b = self.pairs
        dm = mu[a] - mu[b]
        sm = safe_norm(dm, self.eps)
        push = np.maximum(2.0 * self.delta_d - sm, 0.0)
        norm_mu = safe_norm(mu, self.eps)
        parts = {"var": float(self.w_var @ pull**2), "dist": float(self.w_dist @ push**2),
                 "reg": float(self.w_reg @ norm_mu)}
        f = self.alpha * parts["var"] + self.beta * parts["dist"] + self.gamma * parts["reg"]
        if not need_grad:
            return f, parts, None
        g_d = (2.0 * self.alpha * self.w_var * pull / s)[:, None] * d  # ∂L/∂d, d = μ_c − e_i
        g_e = -g_d
        g_mu = np.zeros_like(mu)
        np.add.at(g_mu, self.cluster, g_d)
        g_dm = (-2.0 * self.beta * self.w_dist * push / sm)[:, None] * dm
        np.add.at(g_mu, a, g_dm)
        np.add.at(g_mu, b, -g_dm)
        g_mu += (self.gamma * self.w_reg / norm_mu)[:, None] * mu
        g_e += self.mean_of.T @ g_mu
        return f, parts, g_e

    def value(self, theta: np.ndarray) -> float:
        return self._loss(self.embed(theta)[1], need_grad=False)[0]

    def value_and_grad(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        theta = np.asarray(theta, dtype=float)
        hidden, e = self.embed(theta)
        f, _, g_e = self._loss(e)
        _, _, W2, _ = self.unpack(theta)
        grad = np.empty(self.dim)
        gW1, gb1, gW2, gb2 = self.unpack(grad)
        np.matmul(g_e.T, hidden, out=gW2)
        g_e.sum(axis=0, out=gb2)
        g_a = g_e @ W2
        g_a *= 1.0 - hidden**2
        np.matmul(g_a.T, self.u, out=gW1)
        g_a.sum(axis=0, out=gb1)
        return f, grad

    def describe(self) -> str:
        return (f"discriminative loss, {self.images} images {self.size}x{self.size}, "
                f"{self.image_of.size} clusters, 5-{self.hidden}-{self.embed_dim} net "
                f"(dim {self.dim})")
