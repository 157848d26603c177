import numpy as np
import pytest

import problems
from bench.cli import main
from bench.gradcheck import check_gradient
from problems.autoencoder import Autoencoder, _sigmoid_


class SeedBugAutoencoder(Autoencoder):
    """The first seed's bug: the forward pass keeps the hidden layer linear while the backward
    pass (inherited) multiplies by the sigmoid's derivative a2 (1 - a2) as if it were not."""

    name = "seed_bug_autoencoder"

    def value(self, theta):
        W1, W2, b1, b2 = self.unpack(theta)
        a2 = W1 @ self.x + b1[:, None]
        a3 = _sigmoid_(W2 @ a2 + b2[:, None])
        return 0.5 * float(np.sum((a3 - self.x) ** 2)) / self.m + 0.5 * self.weight_decay * float(
            theta[: 2 * self.hidden * self.visible] @ theta[: 2 * self.hidden * self.visible]
        )


@pytest.fixture
def seed_bug():
    problems.registry.add("seed_bug_autoencoder", SeedBugAutoencoder, source="test")
    yield
    problems.registry.remove("seed_bug_autoencoder")


def test_check_flags_the_seed_bug(seed_bug, capsys):
    code = main(["check", "seed_bug_autoencoder", "--param", "hidden=5", "--param", "samples=50"])
    out = capsys.readouterr().out
    assert code == 1
    assert "FAIL" in out and "worst coordinate" in out
    # the worst coordinate is reported with both values, and they differ
    line = next(s for s in out.splitlines() if s.startswith("worst coordinate"))
    analytic = float(line.split("analytic ")[1].split(",")[0])
    differenced = float(line.split("differences ")[1])
    assert abs(analytic - differenced) > 1e-3 * max(abs(analytic), abs(differenced))


@pytest.mark.parametrize("name", ["ackley", "autoencoder", "group_lasso"])
def test_check_passes_on_builtins(name, capsys):
    params = ["--param", "samples=200"] if name == "autoencoder" else []
    assert main(["check", name, *params]) == 0
    assert "PASS" in capsys.readouterr().out


def test_per_block_errors_for_the_autoencoder():
    result = check_gradient(problems.make("autoencoder", hidden=4, samples=30), points=1)
    assert set(result.block_error) == {"W1", "W2", "b1", "b2"}
    assert result.block_coords["b1"] == (4, 4) and result.block_coords["W1"] == (64, 256)
    assert result.passed and result.error < 1e-6


def test_a_small_error_in_one_block_is_caught_and_located():
    class OffByOnePercentB2(Autoencoder):
        def value_and_grad(self, theta):
            f, g = super().value_and_grad(theta)
            g[self.blocks["b2"]] *= 1.01
            return f, g

    result = check_gradient(OffByOnePercentB2(hidden=3, samples=30), points=1)
    assert not result.passed
    assert result.block_error["b2"] == pytest.approx(0.01 / 1.01, rel=1e-3)
    assert result.block_error["W1"] < 1e-6 and result.worst.block == "b2"


def test_usage_errors_exit_2(capsys):
    assert main(["check", "ackly"]) == 2
    assert main(["check", "ackley", "--param", "dim=0"]) == 2
    assert main(["check", "ackley", "--param", "foo=1"]) == 2
    err = capsys.readouterr().err
    assert "did you mean ackley" in err and "'dim' must be an integer >= 1" in err
    assert "unknown parameter 'foo'; valid: dim, x0, a, b, c" in err
