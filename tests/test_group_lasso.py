import numpy as np
import pytest
from helpers import central_diff, rel_err

from optbench import problems


def seed_lossfunction(X, b, lambs):
    """The non-smooth penalty thread's loss, verbatim in meaning."""
    B = b.reshape(X.shape[1], X.shape[1])
    penalty = np.linalg.norm(B, axis=1) ** 0.5
    return np.linalg.norm(np.dot(X, B) - X) + lambs * penalty.sum()


def test_value_matches_the_seed_formula(rng):
    p = problems.make("group_lasso", lam=0.7)
    for _ in range(3):
        b = rng.normal(size=p.dim)
        assert p.value(b) == pytest.approx(seed_lossfunction(p.X, b, 0.7), rel=1e-13)


def test_default_data_is_standardised_diabetes():
    p = problems.make("group_lasso")
    assert p.X.shape == (442, 10) and p.dim == 100
    assert np.allclose(p.X.mean(axis=0), 0, atol=1e-12) and np.allclose(p.X.std(axis=0), 1)
    # B = 0 leaves the whole of X as residual; B = I leaves none and pays λ·p.
    assert p.value(np.zeros(100)) == pytest.approx(np.sqrt(442 * 10), rel=1e-12)
    assert p.value(np.eye(10).ravel()) == pytest.approx(10.0, abs=1e-12)


def test_gradient_matches_central_differences_away_from_kinks(rng):
    p = problems.make("group_lasso", lam=2.0)
    for _ in range(3):
        b = rng.normal(size=p.dim)
        assert rel_err(p.grad(b), central_diff(p.value, b)) < 1e-6


def test_kinks_return_the_documented_choice(rng):
    p = problems.make("group_lasso", lam=1.0)
    B = rng.normal(size=(10, 10))
    B[3] = 0.0
    g = p.grad(B.ravel()).reshape(10, 10)
    # a zero row: the penalty contributes 0, only the residual term remains.
    R = p.X @ B - p.X
    assert np.allclose(g[3], (p.X.T @ R / np.linalg.norm(R))[3], rtol=1e-12)
    # zero residual (B = I): the Frobenius term contributes 0, only the penalty remains.
    g_eye = p.grad(np.eye(10).ravel()).reshape(10, 10)
    assert np.allclose(g_eye, 0.5 * np.eye(10), rtol=1e-12)
    # every row zero: only the residual term, X^T (-X) / ||X||_F.
    g0 = p.grad(np.zeros(100)).reshape(10, 10)
    assert np.allclose(g0, -p.X.T @ p.X / np.linalg.norm(p.X), rtol=1e-12)


def test_reads_npy_and_csv(tmp_path, rng):
    X = rng.normal(size=(20, 3))
    np.save(tmp_path / "x.npy", X)
    np.savetxt(tmp_path / "x.csv", X, delimiter=",")
    for name in ("x.npy", "x.csv"):
        p = problems.make("group_lasso", data={"path": str(tmp_path / name)})
        assert p.dim == 9 and np.allclose(p.X, X)


def test_is_marked_non_smooth():
    assert problems.registry.get("group_lasso").smooth is False


def test_bad_parameters(tmp_path):
    with pytest.raises(ValueError, match="'lam' must be a number >= 0"):
        problems.make("group_lasso", lam=-1)
    np.save(tmp_path / "v.npy", np.ones(5))
    with pytest.raises(ValueError, match="parameter 'data'.*expected a 2-D table"):
        problems.make("group_lasso", data={"path": str(tmp_path / "v.npy")})
    with pytest.raises(ValueError, match="does not exist"):
        problems.make("group_lasso", data={"path": str(tmp_path / "missing.csv")})


def test_theta_of_the_wrong_length_is_refused():
    p = problems.make("group_lasso")
    for theta in (np.zeros(99), np.zeros((10, 10)), np.zeros(101)):
        with pytest.raises(ValueError, match=r"group_lasso: x must have shape \(100,\)"):
            p.value_and_grad(theta)
    # a list is a point like any other: B = I leaves no residual and pays λ·p
    assert p.value(np.eye(10).ravel().tolist()) == pytest.approx(10.0, abs=1e-12)
