"""The Python front door, as a notebook uses it: plain functions in, DataFrames and figures out.

References are independent of optbench: the backprop thread's autoencoder written here in plain
numpy, plain central differences, scipy.optimize.minimize, and the function evaluated again at
the recorded iterates.
"""

import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest
import scipy.optimize
from helpers import central_diff, rel_err

import optbench

# -- the backprop thread's autoencoder, as a user holds it: a plain function of theta ----------
X = np.random.default_rng(0).random((40, 16))  # 40 "images" of 16 pixels in [0, 1)
V, H = 16, 4
SIZES = {"W1": V * H, "W2": H * V, "b1": H, "b2": V}
DIM = sum(SIZES.values())


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def _unpack(theta):
    W1 = theta[: V * H].reshape(V, H)
    W2 = theta[V * H: 2 * V * H].reshape(H, V)
    b1 = theta[2 * V * H: 2 * V * H + H]
    return W1, W2, b1, theta[2 * V * H + H:]


def _cost_and_grad(theta, hidden_sigmoid_forward):
    W1, W2, b1, b2 = _unpack(theta)
    a = X @ W1 + b1
    if hidden_sigmoid_forward:
        a = _sigmoid(a)
    z = _sigmoid(a @ W2 + b2)
    cost = 0.5 * np.sum((z - X) ** 2) / len(X)
    d2 = (z - X) * z * (1 - z) / len(X)
    d1 = (d2 @ W2.T) * a * (1 - a)  # the sigmoid's derivative: right only if a is a sigmoid
    grad = np.concatenate([(X.T @ d1).ravel(), (a.T @ d2).ravel(), d1.sum(0), d2.sum(0)])
    return cost, grad


def buggy_cost_and_grad(theta):
    """The thread's bug: the forward pass keeps the hidden layer linear, backprop does not."""
    return _cost_and_grad(theta, hidden_sigmoid_forward=False)


def cost_and_grad(theta):
    return _cost_and_grad(theta, hidden_sigmoid_forward=True)


def start(rng):
    return rng.normal(0.0, 0.1, DIM)


def test_check_gradient_fails_the_buggy_function_and_names_the_block():
    theta0 = start(np.random.default_rng(1))
    # the independent reference: plain central differences see the bug in W1 and b1 only
    d = central_diff(lambda t: buggy_cost_and_grad(t)[0], theta0)
    g = buggy_cost_and_grad(theta0)[1]
    assert rel_err(g[: V * H], d[: V * H]) > 1e-2
    assert rel_err(g[V * H: 2 * V * H], d[V * H: 2 * V * H]) < 1e-6

    check = optbench.check_gradient(buggy_cost_and_grad, theta0, jac=True, blocks=SIZES)
    assert not check.passed and check.error > 1e-2
    table = check.table
    assert isinstance(table, pd.DataFrame)
    bad = set(table.loc[~table["passed"], "block"])
    assert {"W1", "b1"} <= bad and not {"W2", "b2"} & bad
    text = str(check)
    assert "FAIL" in text
    assert "worst coordinate: W1[" in text or "worst coordinate: b1[" in text
    assert "FAIL" in check._repr_html_()


def test_check_gradient_passes_the_fixed_function():
    theta0 = start(np.random.default_rng(1))
    check = optbench.check_gradient(cost_and_grad, theta0, jac=True, blocks=SIZES,
                                    coords="all")
    assert check.passed and bool(check)
    assert set(check.table["block"]) == {"W1", "W2", "b1", "b2", "random directions"}
    assert (check.table["checked"].dropna() == check.table["coords"].dropna()).all()
    assert "PASS" in str(check)


def test_check_gradient_with_a_separate_grad_and_on_a_problem_object():
    def f(x):
        return float(np.sum((x - 1.0) ** 2) + x[0] * x[1])

    def g(x):
        out = 2 * (x - 1.0)
        out[0] += x[1]
        out[1] += x[0]
        return out

    assert optbench.check_gradient(f, np.zeros(3), grad=g).passed
    wrong = optbench.check_gradient(f, np.zeros(3), grad=lambda x: 2 * (x - 1.0))
    assert not wrong.passed
    p = optbench.problem(f, grad=g, x0=np.zeros(3))
    assert optbench.check_gradient(p, points=1).passed


def test_run_a_plain_function_trace_agrees_with_the_function_at_its_iterates():
    result = optbench.run(optbench.problem(cost_and_grad, jac=True, x0=start), "adam",
                          lr=0.05, budget={"iterations": 300})
    assert result.status == "budget" and result.iterations == 300
    trace = result.trace
    assert len(trace) > 20 and "x" in trace
    for x, f in zip(trace["x"], trace["f"], strict=True):
        assert f == cost_and_grad(x)[0]  # bitwise: the trace's f is the function's value
    assert result.f == cost_and_grad(result.x)[0]
    assert result.f < trace["f"].iloc[0]  # it learns
    assert result.evaluations == 300  # one fused value-and-gradient per Adam step
    fig = result.plot()
    assert fig.axes and fig.axes[0].get_xlabel() == "evaluations"


def test_run_matches_scipy_lbfgsb_on_a_plain_function():
    theta0 = start(np.random.default_rng(3))
    result = optbench.run(optbench.problem(cost_and_grad, jac=True, x0=theta0), "lbfgsb",
                          budget={"evaluations": 10_000})
    ref = scipy.optimize.minimize(cost_and_grad, theta0, jac=True, method="L-BFGS-B")
    assert result.status == "converged"
    np.testing.assert_allclose(result.x, ref.x, rtol=0, atol=1e-12)
    assert result.evaluations == ref.nfev and result.iterations == ref.nit


def test_run_value_only_function_gets_differences_charged():
    result = optbench.run(lambda x: float(x @ x), "adam", x0=[3.0, -4.0], lr=0.5,
                          budget={"iterations": 10})
    assert result.record.n_gev == 10 and result.evaluations == 10 * (1 + 2 * 2)


def test_sweep_over_a_dict_with_a_plain_function_workers_2_equals_workers_0(tmp_path):
    fun = optbench.problem(cost_and_grad, jac=True, x0=start, blocks=SIZES,
                           name="autoencoder_fn")
    config = {
        "name": "api-sweep",
        "problems": [fun],
        "optimizers": ["nag", {"adam": {"lr": 0.05}}, "adagrad", "lbfgsb", "nelder-mead"],
        "seeds": 2,
        "budget": {"evaluations": 300},
    }
    serial = optbench.sweep(config, out=tmp_path / "serial", workers=0, progress=False)
    pooled = optbench.sweep(config, out=tmp_path / "pooled", workers=2, progress=False)
    a, b = serial.summary, pooled.summary
    assert len(a) == 10 and set(a["optimizer"]) == {"nag", "adam", "adagrad", "lbfgsb",
                                                   "nelder-mead"}
    numbers = ["run_id", "status", "n_iter", "n_eval", "f_final", "f_best"]
    pd.testing.assert_frame_equal(a[numbers].reset_index(drop=True),
                                  b[numbers].reset_index(drop=True), check_exact=True)
    assert not a["status"].isin(["error", "nan", "timeout"]).any(), a[["optimizer", "message"]]
    traces = serial.traces()
    assert set(traces["run_id"]) == set(a["run_id"])
    table = serial.table()
    assert len(table) == 5
    loaded = optbench.load(tmp_path / "serial")
    pd.testing.assert_frame_equal(loaded.summary, serial.summary)


def test_sweep_in_a_script_without_a_main_guard(tmp_path):
    """Worker processes do not run the script again, so no __main__ guard is needed."""
    script = tmp_path / "notebook.py"
    script.write_text(textwrap.dedent(f"""
        import numpy as np, optbench
        print("script body ran")
        def loss(x):
            return float(np.sum((x - 3.0) ** 2))
        r = optbench.sweep({{"name": "s", "problems": [optbench.problem(loss, x0=np.zeros(2))],
                            "optimizers": ["adam", "nelder-mead"], "seeds": 2,
                            "budget": {{"evaluations": 200}}}},
                           out=r"{tmp_path / 'out'}", workers=2, progress=False)
        print(len(r.summary), sorted(set(r.summary.status)))
    """))
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("script body ran") == 1
    assert done.stdout.strip().splitlines()[-1].startswith("4 [")


def test_mistakes_raise_typed_errors_with_the_cli_line():
    with pytest.raises(optbench.RegistryError, match="unknown optimizer 'adamm'.*adam"):
        optbench.run(lambda x: float(x @ x), "adamm", x0=[1.0])
    with pytest.raises(optbench.ParameterError, match="adam: parameter 'lr' must be a number > 0"):
        optbench.run(lambda x: float(x @ x), "adam", x0=[1.0], lr=-1)
    with pytest.raises(optbench.ConfigError, match=r"^run: budget.evaluations"):
        optbench.run(lambda x: float(x @ x), "adam", x0=[1.0], budget={"evaluations": -5})
    with pytest.raises(optbench.ConfigError, match=r"^in-memory: budget: missing"):
        optbench.sweep({"name": "x", "problems": ["ackley"], "optimizers": ["adam"]})
    with pytest.raises(optbench.ParameterError, match="give x0"):
        optbench.problem(lambda x: 0.0)
    for error in ("ConfigError", "RegistryError", "ParameterError", "DataError"):
        assert issubclass(getattr(optbench, error), optbench.OptbenchError)


def test_public_names_are_exactly_all():
    assert sorted(optbench.__all__) == sorted(set(optbench.__all__))
    for name in optbench.__all__:
        assert getattr(optbench, name) is not None, name
    from optbench import Optimizer, Problem, check_number  # what plugins import

    assert Problem.__module__ == "optbench.problems.base"
    assert Optimizer.__module__ == "optbench.optimizers.base" and callable(check_number)


def test_legacy_plugin_imports_still_work_and_a_users_problems_py_wins(tmp_path):
    (tmp_path / "problems.py").write_text("MINE = True\n")
    code = ("import optbench, problems, optimizers, optbench_registry\n"
            "print(getattr(problems, 'MINE', False), optimizers is optbench.optimizers,\n"
            "      optbench_registry.check_number is optbench.check_number)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=tmp_path, timeout=60)
    assert done.stdout.split() == ["True", "True", "True"], done.stderr
    legacy = ("import optbench\nfrom problems import Problem\n"
              "print(Problem is optbench.Problem)\n")
    done = subprocess.run([sys.executable, "-c", legacy], capture_output=True, text=True,
                          cwd=tmp_path.parent, timeout=60)
    assert done.stdout.split() == ["True"], done.stderr


def test_python_m_optbench_and_version(tmp_path):
    (tmp_path / "bench.py").write_text("raise SystemExit('shadowed')\n")
    (tmp_path / "problems.py").write_text("raise SystemExit('shadowed')\n")
    done = subprocess.run([sys.executable, "-m", "optbench", "--help"], capture_output=True,
                          text=True, cwd=tmp_path, timeout=60)
    assert done.returncode == 0 and "usage: optbench" in done.stdout, done.stderr
    done = subprocess.run([sys.executable, "-m", "optbench", "--version"], capture_output=True,
                          text=True, cwd=tmp_path, timeout=60)
    assert done.stdout.strip() == f"optbench {optbench.__version__}"
    done = subprocess.run([sys.executable, "-m", "optbench", "list"], capture_output=True,
                          text=True, cwd=tmp_path, timeout=120)
    assert done.returncode == 0 and "ackley" in done.stdout, done.stderr


def test_coordinates_the_function_does_not_read_are_not_an_ignored_argument():
    """Nelder-Mead's first vertices move one coordinate each: a loss that does not read the
    first ones (a pixel that is 0 in every image) is not a closure that ignores x."""
    def loss(x):
        return float(np.sum((x[3:] - 1.0) ** 2))

    result = optbench.run(loss, "nelder-mead", x0=np.full(6, 0.5), budget={"evaluations": 400})
    assert result.status != "error", result.message
    captured = np.ones(4)
    result = optbench.run(lambda x: float(captured @ captured), "nelder-mead", x0=np.zeros(4))
    assert result.status == "error" and "ignore its argument" in result.message
