"""optbench.jax_problem: a JAX loss of a pytree, its gradient from jax.grad, in float64, with one
gradient-check block per leaf; runs that match the same loss written by hand in numpy."""

import pickle
import sys

import cloudpickle
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import optbench
from optbench.errors import UsageError

RNG = np.random.default_rng(0)
X = RNG.standard_normal((20, 3))
Y = RNG.standard_normal((20, 2))


def loss(p):
    """Least squares with a tanh penalty: a smooth, non-quadratic loss of W (3×2) and b (2)."""
    r = X @ p["W"] + p["b"] - Y
    return jnp.mean(r ** 2) + 0.1 * jnp.sum(jnp.tanh(p["W"]) ** 2)


def numpy_loss(x):
    """The same loss by hand on the flat vector: W row-major, then b (the dict's sorted keys)."""
    W, b = x[:6].reshape(3, 2), x[6:]
    r = X @ W + b - Y
    t = np.tanh(W)
    f = np.mean(r ** 2) + 0.1 * np.sum(t ** 2)
    gW = 2 * X.T @ r / r.size + 0.2 * t * (1 - t ** 2)
    gb = 2 * r.sum(axis=0) / r.size
    return float(f), np.concatenate([gW.ravel(), gb])


PARAMS0 = {"W": 0.5 * np.ones((3, 2)), "b": np.zeros(2)}


@pytest.fixture(scope="module")
def prob():
    return optbench.jax_problem(loss, PARAMS0)


def test_gradient_equals_jax_grad_and_passes_the_check(prob):
    assert prob.dim == 8 and prob.gradient == "analytic" and prob.name == "loss"
    assert prob.blocks == {"W": slice(0, 6), "b": slice(6, 8)}
    grad = jax.grad(loss)
    for x in np.random.default_rng(1).standard_normal((5, 8)):
        f, g = prob.value_and_grad(x)
        tree = {"W": jnp.asarray(x[:6].reshape(3, 2)), "b": jnp.asarray(x[6:])}
        expected = grad(tree)  # eager: XLA's compiled version may round differently
        expected = np.concatenate([np.ravel(expected["W"]), expected["b"]])
        assert np.max(np.abs(g - expected)) <= 1e-15 * np.max(np.abs(expected)) * 8
        assert f == pytest.approx(float(loss(tree)), rel=1e-15, abs=0)
        assert f == prob.value(x)
        assert g.dtype == np.float64 and isinstance(f, float)
    check = optbench.check_gradient(prob)
    assert check.passed
    assert list(check.block_error) == ["W", "b"]  # one block per leaf, named by its key


def test_float64_even_from_float32_parameters():
    """float32 leaves are cast: value and gradient agree with numpy's float64 to rounding."""
    p32 = {"W": np.full((3, 2), 0.5, dtype=np.float32), "b": np.zeros(2, dtype=np.float32)}
    prob = optbench.jax_problem(loss, p32)
    x = np.random.default_rng(2).standard_normal(8)
    f, g = prob.value_and_grad(x)
    f_ref, g_ref = numpy_loss(x)
    assert abs(f - f_ref) <= 1e-14 * abs(f_ref)
    assert np.max(np.abs(g - g_ref)) <= 1e-14 * np.max(np.abs(g_ref))


@pytest.mark.parametrize(("optimizer", "hyper"), [
    ("nag", {"lr": 0.05, "momentum": 0.9}), ("adam", {"lr": 0.05}), ("adagrad", {"lr": 0.2}),
    ("lbfgsb", {}), ("nelder-mead", {}),
])
def test_runs_match_the_numpy_loss(prob, optimizer, hyper):
    by_hand = optbench.problem(numpy_loss, jac=True, x0=np.concatenate([PARAMS0["W"].ravel(),
                                                                        PARAMS0["b"]]))
    budget = {"evaluations": 150}
    ours = optbench.run(prob, optimizer, budget=budget, **hyper)
    ref = optbench.run(by_hand, optimizer, budget=budget, **hyper)
    assert (ours.status, ours.evaluations, ours.iterations) == \
        (ref.status, ref.evaluations, ref.iterations)
    assert ours.iterations > 5 and ours.f < numpy_loss(by_hand.initial_point(None))[0]
    assert np.max(np.abs(ours.x - ref.x)) <= 1e-10
    assert abs(ours.f - ref.f) <= 1e-10


def test_leaves_are_named_by_key_path_and_starts_follow_x0():
    params = {"layers": [{"W": np.ones((2, 2))}, {"W": np.ones(3)}], "scale": 1.0}

    def nested(p):
        return sum(jnp.sum(layer["W"] ** 2) for layer in p["layers"]) * p["scale"] ** 2

    prob = optbench.jax_problem(nested, params, name="nested")
    assert prob.blocks == {"layers.0.W": slice(0, 4), "layers.1.W": slice(4, 7),
                           "scale": slice(7, 8)}
    assert np.array_equal(prob.initial_point(None), np.ones(8))
    assert optbench.check_gradient(prob).passed
    drawn = optbench.jax_problem(nested, params, x0=lambda rng: rng.standard_normal(8))
    a, b = (drawn.initial_point(np.random.default_rng(s)) for s in (0, 1))
    assert a.shape == (8,) and not np.array_equal(a, b)
    tree_start = optbench.jax_problem(nested, params, x0={"layers": [{"W": np.zeros((2, 2))},
                                                                     {"W": np.zeros(3)}],
                                                          "scale": 2.0})
    assert np.array_equal(tree_start.initial_point(None), [0] * 7 + [2])
    assert float(prob.unflatten(np.arange(8.0))["scale"]) == 7.0


def test_a_worker_rebuilds_it_from_a_pickle(prob):
    copy = pickle.loads(cloudpickle.dumps(prob))
    x = np.linspace(-1, 1, 8)
    assert copy.value_and_grad(x)[0] == prob.value_and_grad(x)[0]
    assert np.array_equal(copy.value_and_grad(x)[1], prob.value_and_grad(x)[1])


def test_a_missing_jax_is_one_line_naming_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "jax", None)
    with pytest.raises(UsageError, match=r"^jax_problem needs jax: pip install 'optbench\[jax\]'$"):
        optbench.jax_problem(loss, PARAMS0)


# -- the YAML entry: - jax: {loss: file.py:name, params0: ...} ----------------------------------
LOSSES = '''
import jax.numpy as jnp
import numpy as np

X = np.linspace(-1, 1, 12).reshape(6, 2)
Y = np.sin(X[:, 0]) + X[:, 1] ** 2


def loss(p):
    r = jnp.tanh(X @ p["w"] + p["b"]) - Y
    return jnp.mean(r ** 2) + 0.01 * jnp.sum(p["w"] ** 2)


params0 = {"w": np.array([0.5, -0.5]), "b": 0.0}
three = 3
words = {"w": "abc"}


def vector(p):
    return p["w"] * 2


def make_params():
    return {"w": np.zeros(2), "b": 1.0}
'''


def _config(tmp_path, entry, name="jx.yaml"):
    (tmp_path / "losses.py").write_text(LOSSES)
    cfg = tmp_path / name
    cfg.write_text(f"name: jx\nproblems:\n  - jax: {entry}\noptimizers:\n  - adam: {{lr: 0.1}}\n"
                   "  - lbfgsb: {}\nseeds: 2\nbudget: {evaluations: 120}\n")
    return cfg


def _module(path):
    """losses.py imported here, apart from optbench's plugin loader."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("losses_for_the_test", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_yaml_entry_names_the_loss_and_its_gradient_is_jax_grad(tmp_path):
    from optbench.bench.plugins import make_problem
    from optbench.bench.sweep.config import load_sweep

    sweep = load_sweep(_config(tmp_path, "{loss: losses.py:loss, params0: losses.py:params0}"))
    spec = sweep.specs[0]
    assert spec.problem_label == "jax(loss=losses.py:loss, params0=losses.py:params0)"
    prob = make_problem(spec.problem, spec.problem_kwargs, spec.base_dir, spec.seed)
    assert prob.dim == 3 and prob.blocks == {"b": slice(0, 1), "w": slice(1, 3)}
    mine = _module(tmp_path / "losses.py")
    grad = jax.grad(mine.loss)
    for x in np.random.default_rng(3).standard_normal((4, 3)):
        tree = {"b": jnp.asarray(x[0]), "w": jnp.asarray(x[1:])}
        g_ref = grad(tree)
        g_ref = np.concatenate([[g_ref["b"]], g_ref["w"]])
        f, g = prob.value_and_grad(x)
        assert np.max(np.abs(g - g_ref)) <= 1e-14 * np.max(np.abs(g_ref))
        assert f == pytest.approx(float(mine.loss(tree)), rel=1e-15, abs=0)
    assert np.array_equal(prob.initial_point(np.random.default_rng(0)), [0.0, 0.5, -0.5])
    assert optbench.check_gradient(prob).passed


def test_a_sweep_over_it_runs_as_the_python_api_does(tmp_path):
    from optbench.bench.cli.main import main

    cfg = _config(tmp_path, "{loss: losses.py:loss, params0: losses.py:make_params, "
                            "name: tanh-fit}")
    assert main(["run", str(cfg), "--out", str(tmp_path / "out"), "--workers", "0", "--quiet",
                 "--no-report"]) == 0
    import pandas as pd

    summary = pd.read_csv(tmp_path / "out" / "summary.csv")
    assert set(summary["problem_label"]) == {"tanh-fit"} and len(summary) == 4
    mine = _module(tmp_path / "losses.py")
    same = optbench.jax_problem(mine.loss, mine.make_params())
    for optimizer, hyper in (("adam", {"lr": 0.1}), ("lbfgsb", {})):
        ref = optbench.run(same, optimizer, budget={"evaluations": 120}, **hyper)
        rows = summary[summary["optimizer"] == optimizer]
        assert set(rows["status"]) == {ref.status} and set(rows["n_eval"]) == {ref.evaluations}
        assert np.allclose(rows["f_final"], ref.f, rtol=1e-12, atol=0)


@pytest.mark.parametrize(("entry", "where", "why"), [
    ("{loss: nomodule_xyz:loss, params0: losses.py:params0}", "loss",
     "'nomodule_xyz:loss': importing module nomodule_xyz raised ModuleNotFoundError: No module "
     "named 'nomodule_xyz'"),
    ("{loss: losses.py:los, params0: losses.py:params0}", "loss",
     "'losses.py:los': file {dir}/losses.py defines no 'los' (it defines X, Y, jnp, loss, "
     "make_params, np, params0, three, vector, words)"),
    ("{loss: nofile.py:loss, params0: losses.py:params0}", "loss",
     "'nofile.py:loss': file {dir}/nofile.py does not exist"),
    ("{loss: loss, params0: losses.py:params0}", "loss",
     "expected module:name or file.py:name, got 'loss'"),
    ("{loss: losses.py:three, params0: losses.py:params0}", "loss",
     "problem 'jax': loss must be a function of the parameters, got int 3"),
    ("{loss: losses.py:vector, params0: losses.py:params0}", "loss",
     "problem 'jax': loss must return a scalar, got shape (2,)"),
    ("{loss: losses.py:loss, params0: losses.py:words}", "params0",
     "problem 'jax': params0 must be a pytree of number arrays; its leaf 'w' is 'abc' (<U3)"),
    ("{loss: losses.py:loss, params0: {}}", "params0",
     "problem 'jax': params0 holds no parameters (no leaf with a number), got {}"),
    ("{params0: losses.py:params0}", "loss", "jax: parameter 'loss' is required"),
])
def test_a_wrong_entry_is_one_line_with_its_key_path(tmp_path, entry, where, why):
    from optbench.bench.sweep.config import load_sweep
    from optbench.errors import ConfigError

    cfg = _config(tmp_path, entry)
    with pytest.raises(ConfigError) as err:
        load_sweep(cfg)
    assert str(err.value) == f"{cfg}: problems[0].jax.{where}: " + \
        why.replace("{dir}", str(tmp_path.resolve()))


def test_the_cli_refuses_it_in_one_line_exit_2(tmp_path, capsys):
    from optbench.bench.cli.main import main

    cfg = _config(tmp_path, "{loss: losses.py:three, params0: losses.py:params0}")
    assert main(["run", str(cfg), "--out", str(tmp_path / "out"), "--workers", "0"]) == 2
    err = capsys.readouterr().err
    assert err == f"optbench: error: {cfg}: problems[0].jax.loss: problem 'jax': loss must be " \
        "a function of the parameters, got int 3\n"


def test_optbench_check_names_the_param_whose_file_is_wrong(tmp_path, monkeypatch, capsys):
    from optbench.bench.cli.main import main

    (tmp_path / "losses.py").write_text(LOSSES)
    monkeypatch.chdir(tmp_path)
    for loss, why in (("nofile.py:loss", f"file {tmp_path.resolve()}/nofile.py does not exist"),
                      ("losses.py:los", f"file {tmp_path.resolve()}/losses.py defines no 'los'")):
        assert main(["check", "jax", "--param", f"loss={loss}", "--param",
                     "params0=[1.0, 2.0]"]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"optbench: error: --param loss: '{loss}': {why}")
        assert len(err.splitlines()) == 1
    assert main(["check", "jax", "--param", "params0=[1.0, 2.0]"]) == 2
    assert capsys.readouterr().err == \
        "optbench: error: --param loss: jax: parameter 'loss' is required\n"


def test_a_module_name_and_written_out_parameters(tmp_path):
    """``module:name`` beside the config; params0 written in YAML, each list one array; editing
    the loss's file changes the run ids (its old numbers no longer hold)."""
    from optbench.bench.plugins import make_problem
    from optbench.bench.sweep.config import load_sweep

    (tmp_path / "jax_losses_beside_the_config.py").write_text(LOSSES)
    cfg = _config(tmp_path, "{loss: jax_losses_beside_the_config:loss, "
                            "params0: {w: [1, 2], b: 0.5}}")
    spec = load_sweep(cfg).specs[0]
    prob = make_problem(spec.problem, spec.problem_kwargs, spec.base_dir)
    assert np.array_equal(prob.initial_point(None), [0.5, 1.0, 2.0])
    file_cfg = _config(tmp_path, "{loss: losses.py:loss, params0: {w: [1, 2], b: 0.5}}", "f.yaml")
    before = load_sweep(file_cfg).specs[0].id
    with open(tmp_path / "losses.py", "a") as f:
        f.write("\n# edited\n")
    assert load_sweep(file_cfg).specs[0].id != before


def test_from_python_a_name_is_refused():
    from optbench import problems

    with pytest.raises(optbench.ParameterError, match="only a sweep config or `optbench check`"):
        problems.make("jax", loss="losses.py:loss", params0={"w": np.zeros(2)})
