import numpy as np
import pytest
from helpers import central_diff, rel_err

from optbench import problems
from optbench.bench.check.gradient import check_gradient
from optbench.bench.cli.main import main
from optbench.bench.plugins import Plugins, using
from optbench.problems.autoencoder import Autoencoder


def _sigmoid(z):
    """The test's own logistic function (the problem's in-place helpers are its own business)."""
    return 1.0 / (1.0 + np.exp(-z))


class SeedBugAutoencoder(Autoencoder):
    """The backprop thread's bug: the forward pass keeps the hidden layer linear while the backward
    pass (inherited) multiplies by the sigmoid's derivative a2 (1 - a2) as if it were not."""

    name = "seed_bug_autoencoder"

    def value(self, theta):
        W1, W2, b1, b2 = self.unpack(theta)
        a2 = W1 @ self.x + b1[:, None]
        a3 = _sigmoid(W2 @ a2 + b2[:, None])
        return 0.5 * float(np.sum((a3 - self.x) ** 2)) / self.m + 0.5 * self.weight_decay * float(
            theta[: 2 * self.hidden * self.visible] @ theta[: 2 * self.hidden * self.visible]
        )


@pytest.fixture
def seed_bug():
    """The CLI sees its own registries for the test, and the process's never hold the name."""
    fresh = Plugins(entry_points=lambda group: ())
    fresh.problems.add("seed_bug_autoencoder", SeedBugAutoencoder, source="test")
    with using(fresh):
        yield
    assert "seed_bug_autoencoder" not in problems.registry


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


# -- false FAILs on correct gradients: independent references first, then the check's verdict --

def _points(problem, seed=0, points=3):
    """The start and the perturbed random points at which ``optbench check`` looks."""
    rng = np.random.default_rng(seed)
    xs = [problem.initial_point(np.random.default_rng(seed))]
    for _ in range(points):
        x = problem.initial_point(rng)
        xs.append(x + 0.1 * rng.standard_normal(x.shape) * np.maximum(1.0, np.abs(x)))
    return xs


def _ackley_complex_step(x, a=20.0, b=0.2, c=2 * np.pi, h=1e-30):
    """Ackley's gradient by complex steps, Im f(x + ih e_j) / h: no subtraction, exact to eps."""
    def f(z):
        return (-a * np.exp(-b * np.sqrt(np.mean(z * z))) - np.exp(np.mean(np.cos(c * z)))
                + a + np.e)
    return np.array([f(x + 1j * h * np.eye(x.size)[j]).imag / h for j in range(x.size)])


FIRST_STEP = np.finfo(float).eps ** 0.2


def _plain_five_point(value, x, h=FIRST_STEP):
    """The first step alone, written for the tests: what the check compared before refining."""
    out = np.empty(x.size)
    for j in range(x.size):
        e = np.eye(x.size)[j] * h
        out[j] = (-value(x + 2 * e) + 8 * value(x + e) - 8 * value(x - e) + value(x - 2 * e)) / (
            12 * h)
    return out


def test_a_gradient_that_is_exactly_zero_passes(capsys):
    # at T = 1, c_{-1} = h_{-1} = 0: the forget gate multiplies 0 and the recurrent columns see 0
    p = problems.make("lstm", hidden=1, seq_len=1, batch=1)
    rng = np.random.default_rng(1)
    for x in _points(p):
        f, g = p.value_and_grad(x)
        for name in ("W_f", "b_f"):
            y = x.copy()
            y[p.blocks[name]] += rng.uniform(-3, 3, y[p.blocks[name]].size)
            assert p.value(y) == f  # the value cannot tell: the true partials are 0
            assert np.all(g[p.blocks[name]] == 0.0)
    args = ["check", "lstm", "--param", "hidden=1", "--param", "seq_len=1", "--param", "batch=1"]
    assert main(args) == 0
    assert "PASS" in capsys.readouterr().out
    result = check_gradient(p)
    assert result.block_error["W_f"] == 0.0 and result.block_error["b_f"] == 0.0


def test_a_translation_invariant_bias_passes_without_its_regulariser(capsys):
    # γ = 0: shifting every embedding by b2 moves pixels and means alike, so ∇b2 L = 0
    p = problems.make("discriminative", gamma=0)
    for x in _points(p):
        f, g = p.value_and_grad(x)
        y = x.copy()
        y[p.blocks["b2"]] += 0.7
        assert abs(p.value(y) - f) <= 1e-13 * abs(f)
        assert np.abs(g[p.blocks["b2"]]).max() < 1e-13
    assert main(["check", "discriminative", "--param", "gamma=0"]) == 0
    assert "PASS" in capsys.readouterr().out


def test_ackley_near_its_kink_passes(capsys):
    p = problems.make("ackley", x0=[0.0, 0.0])
    for x in _points(p)[1:]:  # the random points, |x| of a few hundredths (the start is the kink)
        ref = _ackley_complex_step(x)
        assert np.linalg.norm(p.grad(x) - ref) <= 1e-13 * np.linalg.norm(ref)
    assert main(["check", "ackley", "--param", "x0=[0,0]"]) == 0
    assert "PASS" in capsys.readouterr().out

    # closer in, the first step alone is off by more than tol; the smaller steps agree
    x = np.array([0.003, 0.001])
    ref = _ackley_complex_step(x)
    first = _plain_five_point(problems.make("ackley").value, x)
    assert np.linalg.norm(first - ref) > 1e-6 * np.linalg.norm(ref)
    result = check_gradient(problems.make("ackley", x0=x.tolist()))
    assert result.passed and result.finest_step < FIRST_STEP
    assert "down to" in result.lines()[0]

    # a start 1e-5 ... 1e-7 from the kink: the step must shrink below that distance (by 1e-8
    # the rounding floor of so small a step reaches tol: differences cannot tell any more)
    for offset in (1e-5, 1e-6, 1e-7):
        x = np.array([offset, offset])
        ref = _ackley_complex_step(x)
        assert np.linalg.norm(p.grad(x) - ref) <= 1e-12 * np.linalg.norm(ref)
        result = check_gradient(problems.make("ackley", x0=x.tolist()), points=0)
        assert result.passed and result.finest_step < offset, offset


def test_a_sharply_curved_safe_norm_passes(capsys):
    p = problems.make("discriminative", embed_dim=1, hidden=2)
    worst_first_step = 0.0
    for x in _points(p):
        g = p.grad(x)
        ref = central_diff(p.value, x, h=1e-5)  # small enough for curvature on the 1e-3 scale
        for block in p.blocks.values():
            assert rel_err(g[block], ref[block]) < 1e-6
        first = _plain_five_point(p.value, x)
        worst_first_step = max(worst_first_step, max(
            rel_err(g[block], first[block]) for block in p.blocks.values()))
    assert worst_first_step > 1e-5  # what the fixed step failed
    assert main(["check", "discriminative", "--param", "embed_dim=1", "--param", "hidden=2"]) == 0
    out = capsys.readouterr().out
    assert "PASS" in out and "down to" in out.splitlines()[0]


# -- wrong gradients are still caught, also where the step is refined or the floor is large ----

def _off_in_one_coordinate(cls, block, index, rel):
    class Off(cls):
        def value_and_grad(self, theta, *args, **kwargs):
            f, g = super().value_and_grad(theta, *args, **kwargs)
            if g is not None:  # Ackley's value is value_and_grad(x, need_grad=False)
                g[self.blocks[block].start + index] *= 1 + rel
            return f, g

    return Off


@pytest.mark.parametrize("name, params, block, index", [
    ("discriminative", {"embed_dim": 1, "hidden": 2}, "W2", 1),  # refined: sharply curved
    ("discriminative", {"embed_dim": 1, "hidden": 2}, "b2", 0),  # a small gradient, ~3e-4
    ("ackley", {"x0": [0.003, 0.001]}, "x", 1),  # refined: near the kink
    ("autoencoder", {"hidden": 3, "samples": 30}, "b1", 2),
])
def test_one_coordinate_off_by_1e_4_fails(name, params, block, index):
    base = problems.make(name, **params)
    result = check_gradient(_off_in_one_coordinate(type(base), block, index, 1e-4)(**params),
                            points=1, tol=1e-6)
    assert not result.passed
    # the block's error is the one coordinate's 1e-4 |g_j| over the block's norm, at worst point
    x = _points(base, points=1)
    expected = max(1e-4 * abs(base.grad(y)[base.blocks[block]][index])
                   / np.linalg.norm(base.grad(y)[base.blocks[block]]) for y in x)
    assert result.block_error[block] == pytest.approx(expected, rel=0.05)
    assert result.worst.block == block and result.worst.index == index


def test_a_small_error_in_a_small_gradient_is_not_hidden_by_the_floor():
    class ForgetGateOff(problems.lstm.LSTM):
        def value_and_grad(self, theta):
            f, g = super().value_and_grad(theta)
            g[self.blocks["W_f"]] *= 1 + 1e-5
            return f, g

    result = check_gradient(ForgetGateOff(hidden=4, seq_len=4, batch=4), points=1)
    assert not result.passed
    assert result.block_error["W_f"] == pytest.approx(1e-5 / (1 + 1e-5), rel=1e-2)


def test_a_zero_gradient_claimed_for_a_parameter_that_matters_fails():
    class NoOutputBias(problems.lstm.LSTM):
        def value_and_grad(self, theta):
            f, g = super().value_and_grad(theta)
            g[self.blocks["b_v"]] = 0.0
            return f, g

    result = check_gradient(NoOutputBias(hidden=1, seq_len=1, batch=1), points=1)
    assert not result.passed and result.block_error["b_v"] == pytest.approx(1.0)


def test_directions_are_measured_against_the_whole_gradient():
    """An error in a coordinate the block sample misses is caught by the random directions, at
    about its size relative to ‖g‖ (not shrunk by sqrt(n), nor blown up where g·u ≈ 0)."""
    params = {"hidden": 3, "samples": 30}
    base = problems.make("autoencoder", **params)
    off = _off_in_one_coordinate(type(base), "W1", 5, 0.5)(**params)
    errors = [check_gradient(off, points=0, max_coords=1, seed=s, directions=4).direction_error
              for s in range(4)]
    g = base.grad(base.initial_point(np.random.default_rng(0)))
    whole = 0.5 * abs(g[base.blocks["W1"].start + 5]) / np.linalg.norm(g)
    assert whole > 1e-4
    assert 0.1 * whole < max(errors) < 4 * whole


class _OffOutsideTheSample(problems.Problem):
    """Σ sin(x_i) in 3,000 dimensions, its gradient off by 1e-2 in one coordinate only."""

    name = "off_outside_the_sample"
    dim = 3000

    def initial_point(self, rng):
        return rng.normal(size=self.dim)

    def value(self, x):
        return float(np.sum(np.sin(x)))

    def grad(self, x):
        g = np.cos(x)
        g[1234] += 1e-2
        return g


def test_an_error_outside_the_sampled_coordinates_is_said_so():
    result = check_gradient(_OffOutsideTheSample(), points=1, seed=0)
    assert not result.passed
    # the exact error along a unit u is 1e-2·|u_1234| against |g·u| ~ ‖g‖/sqrt(n): far above tol
    assert result.direction_error > 1e-5
    assert result.block_error["x"] == 0  # seed 0 samples 64 coordinates, not 1234
    assert "error sits in coordinates outside the sample" in "\n".join(result.lines())


# -- value-only problems: what can be checked without a gradient --------------------------------
def test_a_value_only_closure_that_ignores_x_fails_the_check():
    import optbench

    captured = np.array([1.0, 2.0, 3.0])
    check = optbench.check_gradient(lambda x: float(captured @ captured), np.zeros(3))
    assert not check.passed
    assert "value(x) does not depend on x — does the function read its argument?" in str(check)


def test_a_value_only_smooth_function_passes_and_a_kink_is_noted():
    import optbench

    smooth = optbench.check_gradient(lambda x: float(np.sum(np.cos(x))), np.ones(4))
    assert smooth.passed and "agree" in str(smooth) and "non-smooth" not in str(smooth)
    kinked = optbench.check_gradient(lambda x: float(np.sum(np.abs(x))), np.full(4, 1e-5),
                                     points=0)
    assert kinked.passed  # a kink is legitimate; the note says so
    assert "looks non-smooth or noisy near x" in str(kinked)


def test_a_noisy_value_fails_as_not_deterministic():
    import optbench

    rng = np.random.default_rng(0)
    check = optbench.check_gradient(lambda x: float(x @ x + 1e-9 * rng.standard_normal()),
                                    np.ones(2))
    assert not check.passed and "not deterministic" in str(check)


def test_cli_check_exits_1_on_a_value_only_closure(tmp_path, capsys):
    plugin = tmp_path / "closure.py"
    plugin.write_text("import numpy as np\nfrom optbench import Problem\n\n\n"
                      "class Closure(Problem):\n    name = 'closure'\n\n"
                      "    def __init__(self):\n        self.dim = 3\n"
                      "        self.theta = np.ones(3)\n\n"
                      "    def initial_point(self, rng):\n        return np.zeros(3)\n\n"
                      "    def value(self, x):\n        return float(self.theta @ self.theta)\n")
    code = main(["check", f"{plugin}:Closure"])
    out = capsys.readouterr().out
    assert code == 1 and "does not depend on x" in out


def test_worst_coordinate_names_only_a_disagreement(capsys):
    assert main(["check", "ackley"]) == 0
    assert "worst coordinate" not in capsys.readouterr().out
    # a gradient wrong in one coordinate of 300 only: the sample may miss it, --coords all not
    import optbench

    def f(x):
        return float(x @ x)

    def g(x):
        out = 2 * x
        out[217] += 1.0
        return out

    check = optbench.check_gradient(f, np.linspace(-1, 1, 300), grad=g, coords="all", points=0)
    assert not check.passed and check.worst.index == 217
    assert "worst coordinate: x[217]" in str(check)
