import gzip
import math

import numpy as np
import pytest
from helpers import central_diff, rel_err

from optbench import problems
from optbench.problems.autoencoder import Autoencoder


def plain_autoencoder(theta, v, h, x, lam, rho=None, beta=0.0):
    """Loops over samples and units, straight from Ng's sparse-autoencoder notes."""
    W1 = theta[: h * v].reshape(h, v)
    W2 = theta[h * v : 2 * h * v].reshape(v, h)
    b1 = theta[2 * h * v : 2 * h * v + h]
    b2 = theta[2 * h * v + h :]
    m = x.shape[1]
    sig = lambda z: 1.0 / (1.0 + math.exp(-z))  # noqa: E731
    a2 = np.zeros((h, m))
    a3 = np.zeros((v, m))
    for s in range(m):
        for j in range(h):
            a2[j, s] = sig(sum(W1[j, i] * x[i, s] for i in range(v)) + b1[j])
        for i in range(v):
            a3[i, s] = sig(sum(W2[i, j] * a2[j, s] for j in range(h)) + b2[i])
    cost = sum(0.5 * (a3[i, s] - x[i, s]) ** 2 for i in range(v) for s in range(m)) / m
    cost += 0.5 * lam * (sum(w * w for w in W1.ravel()) + sum(w * w for w in W2.ravel()))
    rho_hat = [sum(a2[j, s] for s in range(m)) / m for j in range(h)]
    if rho is not None:
        cost += beta * sum(
            rho * math.log(rho / r) + (1 - rho) * math.log((1 - rho) / (1 - r)) for r in rho_hat
        )
    gW1, gW2 = np.zeros_like(W1), np.zeros_like(W2)
    gb1, gb2 = np.zeros(h), np.zeros(v)
    for s in range(m):
        d3 = [(a3[i, s] - x[i, s]) * a3[i, s] * (1 - a3[i, s]) for i in range(v)]
        d2 = []
        for j in range(h):
            back = sum(W2[i, j] * d3[i] for i in range(v))
            if rho is not None:
                back += beta * (-rho / rho_hat[j] + (1 - rho) / (1 - rho_hat[j]))
            d2.append(back * a2[j, s] * (1 - a2[j, s]))
        for i in range(v):
            gb2[i] += d3[i] / m
            for j in range(h):
                gW2[i, j] += d3[i] * a2[j, s] / m
        for j in range(h):
            gb1[j] += d2[j] / m
            for i in range(v):
                gW1[j, i] += d2[j] * x[i, s] / m
    gW1 += lam * W1
    gW2 += lam * W2
    return cost, np.concatenate([gW1.ravel(), gW2.ravel(), gb1, gb2])


@pytest.fixture
def tiny(tmp_path, rng):
    """A 6-pixel, 7-image data set saved as .npz, and a 6-4-6 network on it."""
    images = rng.uniform(0, 1, (7, 2, 3))
    path = tmp_path / "tiny.npz"
    np.savez(path, images=images)
    return path, images.reshape(7, 6).T


@pytest.mark.parametrize("sparsity", [None, 0.1])
def test_matches_plain_loops(tiny, rng, sparsity):
    path, x = tiny
    p = Autoencoder(hidden=4, weight_decay=3e-3, sparsity=sparsity, sparsity_weight=2.0,
                    data={"path": str(path)})
    assert (p.visible, p.m, p.dim) == (6, 7, 2 * 4 * 6 + 4 + 6)
    for _ in range(3):
        theta = rng.normal(0, 0.5, p.dim)
        f, g = p.value_and_grad(theta)
        f_ref, g_ref = plain_autoencoder(theta, 6, 4, x, 3e-3, sparsity, 2.0)
        assert f == pytest.approx(f_ref, rel=1e-12)
        assert np.allclose(g, g_ref, rtol=1e-10, atol=1e-14)
        assert p.value(theta) == pytest.approx(f_ref, rel=1e-12)


def test_gradient_matches_central_differences_on_digits(rng):
    p = problems.make("autoencoder", hidden=5, samples=40, sparsity=0.05)
    theta = p.initial_point(rng) + rng.normal(0, 0.1, p.dim)
    assert rel_err(p.grad(theta), central_diff(p.value, theta)) < 1e-6


def test_digits_are_real_images_in_unit_interval():
    p = problems.make("autoencoder")
    assert p.x.shape == (64, 1797) and p.x.flags.c_contiguous
    assert p.x.min() == 0.0 and p.x.max() == 1.0
    assert p.x.dtype == np.float64


def test_initial_point_as_in_the_seed(rng):
    p = problems.make("autoencoder", hidden=25)
    theta = p.initial_point(rng)
    r = 4 * math.sqrt(6 / (25 + 64))
    w = theta[: 2 * 25 * 64]
    assert np.all(np.abs(w) <= r) and np.abs(w).max() > 0.9 * r
    assert np.all(theta[2 * 25 * 64 :] == 0)


def _idx_bytes(images: np.ndarray) -> bytes:
    n, rows, cols = images.shape
    header = bytes([0, 0, 0x08, 3]) + b"".join(k.to_bytes(4, "big") for k in (n, rows, cols))
    return header + images.astype(np.uint8).tobytes()


@pytest.mark.parametrize("gz", [False, True])
def test_reads_mnist_idx_files(tmp_path, gz):
    images = np.arange(3 * 2 * 2, dtype=np.uint8).reshape(3, 2, 2) * 20
    raw = _idx_bytes(images)
    path = tmp_path / ("imgs.idx3-ubyte" + (".gz" if gz else ""))
    path.write_bytes(gzip.compress(raw) if gz else raw)
    p = problems.make("autoencoder", hidden=2, data={"path": str(path)})
    assert p.x.shape == (4, 3)
    assert np.array_equal(p.x, images.reshape(3, 4).T / 255.0)


@pytest.mark.parametrize(
    "params, needle",
    [({"hidden": -3}, "'hidden' must be an integer >= 1"),
     ({"weight_decay": -1}, "'weight_decay'"),
     ({"sparsity": 1.5}, "'sparsity' must be a number > 0 and < 1"),
     ({"data": {"path": "/no/such/file.idx"}}, "parameter 'data'.*does not exist"),
     ({"data": "mnist"}, "'data' must be 'digits' or"),
     ({"samples": 0}, "'samples'")],
)
def test_bad_parameters(params, needle):
    with pytest.raises(ValueError, match=needle):
        problems.make("autoencoder", **params)


def test_wrong_shape_file(tmp_path):
    path = tmp_path / "flat.npz"
    np.savez(path, np.ones(10))
    with pytest.raises(ValueError, match="parameter 'data'.*expected images"):
        problems.make("autoencoder", data={"path": str(path)})
    bad = tmp_path / "bad.idx"
    bad.write_bytes(b"hello world")
    with pytest.raises(ValueError, match="not an IDX file"):
        problems.make("autoencoder", data={"path": str(bad)})


@pytest.mark.parametrize("scale", [1e2, 1e3, 1e6])
def test_sparsity_stays_finite_when_hidden_units_saturate(rng, scale):
    """ρ̂ of exactly 0 or 1 (every image saturating a unit) must not give inf or NaN."""
    p = problems.make("autoencoder", hidden=3, samples=20, sparsity=0.05)
    theta = scale * rng.standard_normal(p.dim)
    f, g = p.value_and_grad(theta)
    assert np.isfinite(f) and np.isfinite(g).all()
    theta = p.initial_point(rng)
    theta[p.blocks["b1"]] = -800.0  # every hidden activation underflows to 0
    f, g = p.value_and_grad(theta)
    assert np.isfinite(f) and np.isfinite(g).all()
    # KL(ρ‖ρ̂) with ρ̂ pinned at eps dominates: ρ log(ρ/eps) + (1-ρ) log((1-ρ)/(1-eps)) per unit
    rho, eps = 0.05, np.finfo(float).eps
    kl = rho * np.log(rho / eps) + (1 - rho) * np.log((1 - rho) / (1 - eps))
    assert f > 3.0 * 3 * kl
