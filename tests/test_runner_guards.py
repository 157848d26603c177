"""The runner's and oracle's guards against broken plugins, checked against hand computations:
wrong-shape or idle steps, NaN gradients named at their own iteration, value-only objectives that
ignore x, divergence messages that agree with the record, run ids that survive a move."""

import hashlib
import shutil
import textwrap

import numpy as np
import pytest
from helpers import QUADRATIC_PLUGIN

from optbench.bench.results.records import Status
from optbench.bench.run.runner import IDLE_STEPS, execute
from optbench.bench.sweep.config import load_sweep
from optbench.bench.sweep.spec import Budget, RunSpec, canonical

PLUGINS = QUADRATIC_PLUGIN + '''
from optbench.optimizers.base import Optimizer


class NaNGradientBelow(Quadratic):
    """Finite values everywhere finite, but a NaN gradient once x_0 < 1.5."""
    def value_and_grad(self, x):
        f, g = super().value_and_grad(x)
        return (f, np.full(2, np.nan)) if x[0] < 1.5 else (f, g)


class ValueIgnoresArgument(Quadratic):
    """The L-BFGS-B thread's closure, value only: evaluates the captured start, not x."""
    def value(self, x):
        return super().value(np.array([10.0, 10.0]))


class Stepper(Optimizer):
    def __init__(self):
        pass

    def _start(self, x0):
        self.x, self.t = x0, 0


class ShortStep(Stepper):
    def step(self):
        return self.x[:1]


class ListStep(Stepper):
    def step(self):
        return list(self.x)


class Idle(Stepper):
    def step(self):
        return self.x


class IdleThenConverged(Stepper):
    def step(self):
        self.t += 1
        self.converged = self.t == 1000  # the runner's IDLE_STEPS: converged wins
        self.message = "done" if self.converged else ""
        return self.x


class Sparse(Stepper):
    """Evaluates on one step in 700: slow, but not idle."""
    def step(self):
        self.t += 1
        if self.t % 700 == 0:
            self.oracle.value(self.x)
        return self.x
'''


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    d = tmp_path_factory.mktemp("plugins")
    (d / "guards_plugins.py").write_text(PLUGINS)
    return str(d)


def run(base, problem, optimizer, pp=None, op=None, **kw):
    return execute(RunSpec(problem, canonical(pp or {}), optimizer, canonical(op or {}), 0,
                           base_dir=base, **kw))


def plain_adam(x, grad, lr, steps, b1=0.9, b2=0.999, eps=1e-8):
    """Kingma & Ba's Algorithm 1; returns the iterates x_1 … x_steps."""
    m = v = np.zeros_like(x)
    xs = []
    for t in range(1, steps + 1):
        g = grad(x)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        x = x - lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
        xs.append(x)
    return xs


@pytest.mark.parametrize("opt, expected", [
    ("ShortStep", "step() returned shape (1,), expected (3,)"),
    ("ListStep", "step() returned list, expected an array of shape (3,)"),
])
def test_a_wrong_iterate_is_an_error_at_once(base, opt, expected):
    rec = run(base, "ackley", f"guards_plugins.py:{opt}", {"dim": 3},
              budget=Budget(evaluations=100))
    assert rec.status is Status.ERROR and rec.message == expected
    assert rec.n_iter == 0 and rec.n_eval == 0 and rec.wall_time_s < 1.0


def test_an_optimizer_that_never_evaluates_is_stopped(base):
    rec = run(base, "ackley", "guards_plugins.py:Idle", {"dim": 3},
              budget=Budget(evaluations=100))
    assert rec.status is Status.ERROR and f"{IDLE_STEPS} steps without evaluating" in rec.message
    assert rec.n_iter == IDLE_STEPS and rec.n_eval == 0


def test_idle_steps_are_fine_when_converged_or_evaluating_now_and_then(base):
    rec = run(base, "ackley", "guards_plugins.py:IdleThenConverged", {"dim": 3},
              budget=Budget(evaluations=100))
    # 999 idle steps are iterations; the 1000th only says it is done (x unchanged)
    assert rec.status is Status.CONVERGED and rec.message == "done"
    assert rec.n_iter == IDLE_STEPS - 1
    rec = run(base, "ackley", "guards_plugins.py:Sparse", {"dim": 3},
              budget=Budget(iterations=5000))
    assert rec.status is Status.BUDGET and rec.n_iter == 5000 and rec.n_fev == 5000 // 700


def test_a_nan_gradient_is_named_at_its_own_iteration(base):
    xs = plain_adam(np.array([10.0, 10.0]), lambda x: x.copy(), 1.0, 100)
    # gradient of iteration t is taken at x_{t-1}: the first with x_0 < 1.5 is NaN
    at = next(t for t, x in enumerate([np.array([10.0, 10.0]), *xs], start=1) if x[0] < 1.5)
    rec = run(base, "guards_plugins.py:NaNGradientBelow", "adam", op={"lr": 1.0},
              budget=Budget(evaluations=300))
    assert rec.status is Status.NAN
    assert rec.message.startswith(f"gradient is not finite at iteration {at} ")
    assert rec.n_iter == at  # its iterate, x_at, is the NaN one


def test_a_value_only_objective_ignoring_its_argument_is_stopped(base):
    rec = run(base, "guards_plugins.py:ValueIgnoresArgument", "nelder-mead",
              budget=Budget(evaluations=500))
    assert rec.status is Status.ERROR and "ignore its argument" in rec.message
    assert rec.n_fev == 3  # the start and two vertices of the first simplex


@pytest.mark.parametrize("x0", [[1.0, 1.0], [1.0, 1.0, 1.0]])
def test_symmetric_starts_are_not_mistaken_for_it(base, x0):
    # Ackley is symmetric in its coordinates: simplex vertices x0 + 5% e_i share one value
    rec = run(base, "ackley", "nelder-mead", {"dim": len(x0), "x0": x0},
              budget=Budget(evaluations=500))
    assert rec.status in (Status.CONVERGED, Status.BUDGET), rec.message
    rec = run(base, "guards_plugins.py:Quadratic", "nelder-mead", budget=Budget(evaluations=500))
    assert rec.status is Status.CONVERGED


def test_divergence_message_agrees_with_the_record(base):
    lr, momentum = 1e5, 0.9
    # NAG by hand: g = ∇f(x − γv), v ← γv + ηg, x ← x − v; ∇f(x) = x
    x0 = np.array([10.0, 10.0])
    v1 = lr * x0
    x1 = x0 - v1
    look = x1 - momentum * v1  # iteration 2 evaluates here: f = 3.6e12 > 1e8·(100 + 1)
    f1, f_look = 0.5 * x1 @ x1, 0.5 * look @ look
    rec = run(base, "guards_plugins.py:Quadratic", "nag", op={"lr": lr, "momentum": momentum},
              budget=Budget(evaluations=100))
    assert rec.status is Status.DIVERGED
    assert rec.n_iter == 1 and rec.f_final == pytest.approx(f1, rel=1e-12)
    assert rec.message.startswith(f"f = {f_look:.3g} at iteration 2: diverged")
    assert f"n_iter = 1, f_final = {f1:.3g} at the last iterate" in rec.message


def test_builtin_ids_hash_no_path():
    kw = dict(budget=Budget(evaluations=500))
    a = RunSpec("ackley", '{"dim":2}', "adam", '{"lr":0.1}', 0, base_dir="/a", **kw)
    b = RunSpec("ackley", '{"dim":2}', "adam", '{"lr":0.1}', 0, base_dir="/elsewhere", **kw)
    text = ('{"budget":{"evaluations":500,"iterations":null,"seconds":null},"optimizer":"adam",'
            '"optimizer_params":"{\\"lr\\":0.1}","problem":"ackley","problem_params":'
            '"{\\"dim\\":2}","seed":0,"stop_at_target":true,"targets":{"distance":null,'
            '"grad_norm":null,"value":null}}')
    assert a.id == b.id == hashlib.sha256(text.encode()).hexdigest()[:16]


CONFIG = """
    name: ids
    problems:
      - ackley: {dim: 2}
      - guards_plugins.py:Quadratic: {}
    optimizers:
      - adam: {lr: 0.1}
    budget: {evaluations: 10}
"""


def test_file_plugin_ids_follow_the_file_content_not_its_folder(tmp_path, base):
    first, moved = tmp_path / "first", tmp_path / "moved"
    first.mkdir()
    (first / "sweep.yaml").write_text(textwrap.dedent(CONFIG))
    shutil.copy(f"{base}/guards_plugins.py", first)
    ids = [s.id for s in load_sweep(first / "sweep.yaml").specs]
    shutil.copytree(first, moved)
    assert [s.id for s in load_sweep(moved / "sweep.yaml").specs] == ids
    plugin = moved / "guards_plugins.py"
    plugin.write_text(plugin.read_text() + "\n# edited\n")
    edited = [s.id for s in load_sweep(moved / "sweep.yaml").specs]
    assert edited[0] == ids[0] and edited[1] != ids[1]  # only the plugin's runs are new
