"""The discriminative loss (issue 7): a plain-loop reference, the gradient against central
differences, the coincident-means point where the naive norm's gradient is NaN, and a short
optimisation that lowers the loss without collapsing it."""

import math
import subprocess
import sys

import numpy as np
import pytest
from helpers import assert_gradient_per_block, central_diff, rel_err

from optbench import optimizers, problems
from optbench.problems.discriminative import Discriminative

DELTA_V, DELTA_D, GAMMA, EPS = 0.5, 1.5, 0.001, 1e-6


def embeddings(p, theta):
    """e_i = W2 tanh(W1 u_i + b1) + b2, pixel by pixel."""
    h, D = p.hidden, p.embed_dim
    W1, b1 = theta[: 5 * h].reshape(h, 5), theta[5 * h : 6 * h]
    W2, b2 = theta[6 * h : 6 * h + D * h].reshape(D, h), theta[6 * h + D * h :]
    return np.array([W2 @ np.tanh(W1 @ u + b1) + b2 for u in p.u])


def clusters_of(p):
    """{image: {cluster: pixel indices}} from the problem's labels."""
    out: dict[int, dict[int, list[int]]] = {}
    for i, c in enumerate(p.cluster):
        out.setdefault(int(p.image_of[c]), {}).setdefault(int(c), []).append(i)
    return out


def plain_loss(p, theta, alpha=1.0, beta=1.0, gamma=GAMMA, dv=DELTA_V, dd=DELTA_D, eps=EPS):
    """De Brabandere et al.'s loss in loops, ‖z‖ = sqrt(Σ z² + ε), mean over images."""
    e = embeddings(p, theta)

    def norm(z):
        return math.sqrt(sum(zk * zk for zk in z) + eps)

    total = 0.0
    groups = clusters_of(p)
    for members in groups.values():
        mus = {c: e[idx].mean(axis=0) for c, idx in members.items()}
        C = len(mus)
        var = sum(
            sum(max(norm(mus[c] - e[i]) - dv, 0.0) ** 2 for i in idx) / len(idx)
            for c, idx in members.items()
        ) / C
        dist = sum(
            max(2 * dd - norm(mus[a] - mus[b]), 0.0) ** 2 for a in mus for b in mus if a != b
        ) / (C * (C - 1)) if C > 1 else 0.0
        reg = sum(norm(mu) for mu in mus.values()) / C
        total += alpha * var + beta * dist + gamma * reg
    return total / len(groups)


def test_value_matches_plain_loops(rng):
    p = Discriminative(images=2, size=8, instances=2, hidden=5, embed_dim=3, alpha=0.7,
                       beta=1.3, gamma=0.01, delta_v=0.2, delta_d=0.8)
    for scale in (0.3, 1.0, 3.0):
        theta = scale * rng.standard_normal(p.dim)
        ref = plain_loss(p, theta, 0.7, 1.3, 0.01, 0.2, 0.8)
        assert p.value(theta) == pytest.approx(ref, rel=1e-12)
        assert p.value_and_grad(theta)[0] == pytest.approx(ref, rel=1e-12)


def test_synthetic_images_are_deterministic_blobs_on_a_background():
    p, q = Discriminative(), Discriminative()
    assert np.array_equal(p.u, q.u) and np.array_equal(p.cluster, q.cluster)
    assert not np.array_equal(p.u, Discriminative(seed=1).u)
    assert p.u.shape == (3 * 16 * 16, 5) and p.u.dtype == np.float64
    assert np.all(np.abs(p.u[:, 3:]) < 1)  # positions in [-1, 1]
    for n, members in clusters_of(p).items():
        assert 2 <= len(members) <= 4  # background and up to three instances, per image
        assert sum(len(idx) for idx in members.values()) == 16 * 16
        first = min(members)  # cluster ids run consecutively, image by image
        assert sorted(members) == list(range(first, first + len(members)))
        assert np.all(p.image_of[first : first + len(members)] == n)


@pytest.mark.parametrize("params", [{}, {"hidden": 3, "embed_dim": 2, "instances": 5}])
def test_gradient_matches_central_differences_per_block(rng, params):
    p = Discriminative(**params)
    for _ in range(3):
        assert_gradient_per_block(p, p.initial_point(rng) + rng.normal(0, 0.3, p.dim))


def test_b2_gradient_is_the_regulariser_alone(rng):
    """Shifting every embedding by b2 leaves L_var and L_dist unchanged: ∇b2 = γ ∇b2 L_reg."""
    p = Discriminative()
    theta = p.initial_point(rng)
    e = embeddings(p, theta)
    expected = np.zeros(p.embed_dim)
    for members in clusters_of(p).values():
        for idx in members.values():
            mu = e[idx].mean(axis=0)
            expected += GAMMA * mu / math.sqrt(mu @ mu + EPS) / len(members) / p.images
    assert rel_err(p.grad(theta)[p.blocks["b2"]], expected) < 1e-9


def test_optbench_check_passes():
    done = subprocess.run([sys.executable, "-m", "optbench", "check", "discriminative"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "PASS" in done.stdout


def test_coincident_means_naive_gradient_is_nan_safe_is_finite(rng):
    p = Discriminative()
    theta = p.initial_point(rng)
    theta[p.blocks["W2"]] = 0.0  # every pixel embeds to b2: all means coincide, d = 0 everywhere
    b2 = theta[p.blocks["b2"]]
    e = embeddings(p, theta)
    assert np.all(e == b2)

    # The naive norm in plain numpy (tf.norm's gradient z/‖z‖): 0/0 at both kinds of zero.
    with np.errstate(invalid="ignore"):
        d_means = e[0] - e[-1]  # two coinciding cluster means
        naive_push = -2 * (2 * DELTA_D - np.linalg.norm(d_means)) * d_means / np.linalg.norm(
            d_means)
        d_pixel = e[0] - e[0]  # a pixel on its mean
        naive_pull = 2 * max(np.linalg.norm(d_pixel) - DELTA_V, 0.0) * d_pixel / np.linalg.norm(
            d_pixel)
    assert np.isnan(naive_push).all() and np.isnan(naive_pull).all()

    f, g = p.value_and_grad(theta)
    assert np.isfinite(g).all()
    # L_var = 0 (every pixel within δ_v), each pair pushes (2δ_d − √ε)², each mean costs ‖b2‖_ε
    assert f == pytest.approx((2 * DELTA_D - math.sqrt(EPS)) ** 2
                              + GAMMA * math.sqrt(b2 @ b2 + EPS), rel=1e-12)
    # at the point itself (where ∇ is O(γ), a wider step keeps rounding noise down) and nearby
    assert rel_err(g, central_diff(p.value, theta, h=1e-4)) < 1e-6
    for scale in (1e-4, 1e-3, 1e-2):
        near = theta + scale * rng.standard_normal(p.dim)
        # h small beside the gaps: near d = 0 the safe norm's third derivative is ~1/ε
        assert rel_err(p.grad(near), central_diff(p.value, near, h=1e-6)) < 1e-6


@pytest.mark.parametrize("scale", [0.0, 1e-8, 1.0, 1e3, 1e8])
def test_never_nan(rng, scale):
    p = Discriminative()
    theta = scale * rng.standard_normal(p.dim)  # scale 0: every norm in the loss is at zero
    f, g = p.value_and_grad(theta)
    assert math.isfinite(f) and np.isfinite(g).all()


def test_short_optimisation_lowers_the_loss_without_collapse():
    p = Discriminative()
    theta0 = p.initial_point(np.random.default_rng(0))
    theta = optimizers.run(optimizers.make("adam", lr=0.03), optimizers.PlainOracle(p), theta0,
                           300)
    before, after = p.terms(theta0), p.terms(theta)
    f0, f = p.value(theta0), p.value(theta)
    assert math.isfinite(f) and 0 < f < 0.1 * f0
    assert after["dist"] < 0.1 * before["dist"]
    # not the seed's collapse: the means are apart, not all on one point
    e = embeddings(p, theta)
    for members in clusters_of(p).values():
        mus = np.array([e[idx].mean(axis=0) for idx in members.values()])
        gaps = np.linalg.norm(mus[:, None] - mus[None], axis=-1)[np.triu_indices(len(mus), 1)]
        assert np.median(gaps) > DELTA_D


@pytest.mark.parametrize(
    "params, needle",
    [({"images": 0}, "'images' must be an integer >= 1"),
     ({"size": 2.5}, "'size'"),
     ({"embed_dim": -1}, "'embed_dim'"),
     ({"delta_v": -0.1}, "'delta_v' must be a number >= 0"),
     ({"eps": 0}, "'eps' must be a number > 0"),
     ({"gamma": "big"}, "'gamma'"),
     # a 1x1 image is one region; 4x4 pixels cannot show 500 blobs
     ({"size": 1}, "3 blobs on a 1x1 image leave 1 region"),
     ({"size": 4, "instances": 500}, "'size' and 'instances'")],
)
def test_bad_parameters(params, needle):
    with pytest.raises(ValueError, match=needle):
        problems.make("discriminative", **params)
