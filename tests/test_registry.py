"""The plugin registries as one object (issue 11): fresh instances apart from the process's,
signatures checked once when a class registers, and what the harness reads declared on the bases.
"""

import inspect
import textwrap
from types import SimpleNamespace

import numpy as np
import pytest

from optbench import optimizers, problems
from optbench.bench.cli.main import main
from optbench.bench.plugins import Plugins, default, using
from optbench.bench.sweep.config import load_sweep
from optbench.errors import RegistryError
from optbench.optimizers import Optimizer
from optbench.problems import Problem
from optbench.problems.lstm import LSTM


def no_entry_points(group):
    return ()


SPHERE = '''
import numpy as np
from optbench.problems import Problem


class Sphere(Problem):
    """|x - center|^2 / 2."""
    name = "sphere"
    {declare}

    def __init__(self, center=(0.0, 0.0), weights=(1.0, 1.0), noise_seed=None):
        self.center = np.array(center, dtype=float)
        self.weights = weights
        self.noise_seed = noise_seed
        self.dim = self.center.size
        self.x_opt, self.f_opt = self.center.copy(), 0.0

    def initial_point(self, rng):
        return np.zeros(self.dim)

    def value(self, x):
        d = x - self.center
        return 0.5 * float(d @ d)

    def grad(self, x):
        return x - self.center
'''


def write_sphere(folder, declare="", name="sphere.py"):
    (folder / name).write_text(SPHERE.replace("{declare}", declare))
    return f"{name}:Sphere"


# -- one object holds the registries and the plugin state ---------------------------------------
def test_a_fresh_instance_registering_a_file_plugin_leaves_the_default_alone(tmp_path):
    name = write_sphere(tmp_path)
    fresh = Plugins(entry_points=no_entry_points)
    assert fresh.problems is not problems.registry and fresh.optimizers is not optimizers.registry
    assert set(fresh.problems) == set(problems.new_registry())  # the built-ins alone
    before = (list(problems.registry), list(default().problems), default().broken())

    key = fresh.resolve("problem", name, tmp_path)
    assert key.startswith(f"{tmp_path / 'sphere.py'}@") and key.endswith(":Sphere")
    p = fresh.make_problem(name, {"center": [1.0, 2.0]}, tmp_path)
    assert p.value(np.array([1.0, 2.0])) == 0.0 and fresh.problems.source(key) == \
        f"file {tmp_path / 'sphere.py'}"
    assert type(fresh.make_optimizer("adam", {"lr": 0.5})).__name__ == "Adam"

    assert key not in problems.registry and key not in default().problems
    assert (list(problems.registry), list(default().problems), default().broken()) == before
    assert default().problems is problems.registry  # the process's own holds the module's


def test_using_puts_a_fresh_instance_in_front_of_the_harness_for_a_while(tmp_path, capsys):
    fresh = Plugins(entry_points=no_entry_points)
    name = write_sphere(tmp_path)
    fresh.problems.add("centred", fresh.problems.get(fresh.resolve("problem", name, tmp_path)),
                       source="test")
    with using(fresh) as active:
        assert active is fresh and default() is fresh
        assert main(["check", "centred"]) == 0 and "PASS" in capsys.readouterr().out
    assert default() is not fresh and "centred" not in problems.registry
    assert main(["check", "centred"]) == 2
    assert "unknown problem 'centred'" in capsys.readouterr().err


class FakeEntryPoint(SimpleNamespace):
    def load(self):
        return self.target()


def _raise_import():
    raise ImportError("no module named 'gone'")


def test_installed_plugins_are_noted_on_the_instance_that_scanned_them():
    eps = {"optbench.problems": [
        FakeEntryPoint(name="ackley", value="fake:Ackley", dist=SimpleNamespace(name="fake"),
                       target=lambda: LSTM),
        FakeEntryPoint(name="gone", value="gone:Thing", dist=SimpleNamespace(name="fake"),
                       target=_raise_import),
        FakeEntryPoint(name="lstm2", value="fake:LSTM", dist=None, target=lambda: LSTM),
    ], "optbench.optimizers": []}
    before = default().broken()
    fresh = Plugins(entry_points=lambda group: eps[group])
    fresh.load_all()
    assert fresh.broken() == [
        "problem 'ackley' from package fake (entry point fake:Ackley): name clashes with the "
        "one from built-in",
        "problem 'gone' from package fake (entry point gone:Thing): ImportError: no module "
        "named 'gone'",
    ]
    assert "gone" not in fresh.problems and fresh.problems.get("lstm2") is LSTM
    assert fresh.problems.source("lstm2") == \
        "package unknown distribution (entry point fake:LSTM)"
    with pytest.raises(RegistryError, match="^plugin could not be loaded: problem 'gone'"):
        fresh.resolve("problem", "gone")
    assert default().broken() == before and "lstm2" not in problems.registry


# -- signatures checked when a class registers --------------------------------------------------
class Base(Problem):
    dim = 2

    def value(self, x):
        return float(x @ x)


class ValueNoX(Problem):
    dim = 2

    def value(self):
        return 0.0


class GradNoX(Base):
    def grad(self):
        return np.zeros(2)


class FusedNoX(Base):
    def value_and_grad(self, /):
        return 0.0, np.zeros(2)


class StartNoRng(Base):
    def initial_point(self):
        return np.zeros(2)


class ValueTwoArgs(Problem):
    def value(self, x: np.ndarray, scale: float) -> float:
        return scale * float(x @ x)


class DuckNoX:
    """Follows the contract without subclassing Problem, but its value takes no point."""

    def value(self):
        return 0.0


class StaticValue(Base):
    @staticmethod
    def value(x):  # a static method takes x alone: fine
        return float(x @ x)


class StartNoX0(Optimizer):
    def start(self, oracle):
        self.oracle = oracle

    def step(self):
        return np.zeros(2)


class StepWithX(Optimizer):
    def _start(self, x0):
        self.x = x0

    def step(self, x):
        return x


REFUSED = [
    (problems, ValueNoX, "value(self) must take the point x: value(self, x)"),
    (problems, GradNoX, "grad(self) must take the point x: grad(self, x)"),
    (problems, FusedNoX, "value_and_grad(self, /) must take the point x: value_and_grad(self, x)"),
    (problems, StartNoRng, "initial_point(self) must take the random generator rng: "
                           "initial_point(self, rng)"),
    (problems, ValueTwoArgs, "value(self, x, scale) must take only the point x: value(self, x)"),
    (problems, DuckNoX, "value(self) must take the point x: value(self, x)"),
    (optimizers, StartNoX0, "start(self, oracle) must take the oracle and the start point x0: "
                            "start(self, oracle, x0)"),
    (optimizers, StepWithX, "step(self, x) must take no arguments: step(self)"),
]


@pytest.mark.parametrize("registry, cls, why", REFUSED, ids=[c.__name__ for _, c, _ in REFUSED])
def test_a_class_whose_methods_cannot_be_called_is_refused_naming_the_signature(registry, cls,
                                                                                 why):
    fresh = registry.new_registry()
    kind = fresh.kind
    with pytest.raises(RegistryError) as err:
        fresh.add("bad", cls, source="file /p/x.py")
    assert str(err.value) == f"{kind} 'bad' from file /p/x.py: {why}"
    assert "bad" not in fresh


def test_a_static_value_taking_x_is_accepted():
    fresh = problems.new_registry()
    fresh.add("static", StaticValue, source="test")
    assert fresh.build("static", {}).value(np.ones(2)) == 2.0


BAD_VALUE = '''
import numpy as np
from optbench.problems import Problem


class Bad(Problem):
    """Forgets the point."""
    dim = 2

    def initial_point(self, rng):
        return np.zeros(2)

    def value(self):
        return 0.0
'''


def _bad_sweep(tmp_path):
    (tmp_path / "bad.py").write_text(BAD_VALUE)
    cfg = tmp_path / "s.yaml"
    cfg.write_text("name: s\nproblems:\n  - bad.py:Bad: {}\noptimizers:\n  - adam: {}\n"
                   "budget: {iterations: 3}\n")
    return cfg, (f"problem 'bad.py:Bad' from file {tmp_path / 'bad.py'}: value(self) must take "
                 "the point x: value(self, x)")


def test_value_without_x_is_refused_in_python(tmp_path):
    _, why = _bad_sweep(tmp_path)
    fresh = Plugins(entry_points=no_entry_points)
    with pytest.raises(RegistryError) as err:
        fresh.resolve("problem", "bad.py:Bad", tmp_path)
    assert str(err.value) == why
    assert not any(k.endswith(":Bad") for k in fresh.problems)


def test_value_without_x_is_one_line_exit_2_from_run(tmp_path, capsys):
    cfg, why = _bad_sweep(tmp_path)
    assert main(["run", str(cfg), "--out", str(tmp_path / "o"), "--workers", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"optbench: error: {cfg}: problems[0]: {why}"]
    assert not (tmp_path / "o").exists()


def test_value_without_x_is_shown_by_list_config(tmp_path, capsys):
    cfg, why = _bad_sweep(tmp_path)
    assert main(["list", "--config", str(cfg)]) == 0
    assert f"  bad.py:Bad  unavailable: {why}\n" in capsys.readouterr().out


def test_signatures_are_inspected_once_not_per_build(tmp_path, monkeypatch):
    fresh = Plugins(entry_points=no_entry_points)
    name = write_sphere(tmp_path)
    fresh.make_problem(name, {}, tmp_path, seed=0)  # registered: its signatures read now
    fresh.make_optimizer("nelder-mead", {})
    calls = []
    real = inspect.signature
    monkeypatch.setattr(inspect, "signature", lambda *a, **k: calls.append(a) or real(*a, **k))
    for seed in range(50):
        fresh.make_problem(name, {"center": [1.0, 1.0]}, tmp_path, seed=seed)
        fresh.make_optimizer("nelder-mead", {"xatol": 1e-3})
    assert calls == []
    assert [p.name for p in fresh.problems.params(fresh.resolve("problem", name, tmp_path))] \
        == ["center", "weights", "noise_seed"] and calls == []


# -- what the harness reads is declared on the bases ----------------------------------------------
def test_run_seeded_is_declared_on_problem():
    assert Problem.run_seeded is None and "run_seeded" in Problem.__annotations__
    assert "ClassVar" in str(Problem.__annotations__["run_seeded"])
    assert LSTM.run_seeded == "seed"
    assert all(problems.registry.get(n).run_seeded in (None, "seed", "instance")
               for n in problems.registry)  # bbob: the instance (seed + 1, run_seed_value)


def test_run_seeded_fills_the_named_parameter_of_a_plugin(tmp_path):
    fresh = Plugins(entry_points=no_entry_points)
    name = write_sphere(tmp_path, 'run_seeded = "noise_seed"')
    assert fresh.make_problem(name, {}, tmp_path, seed=7).noise_seed == 7
    assert fresh.make_problem(name, {"noise_seed": None}, tmp_path, seed=7).noise_seed == 7
    assert fresh.make_problem(name, {"noise_seed": 3}, tmp_path, seed=7).noise_seed == 3
    assert fresh.make_problem(name, {}, tmp_path).noise_seed is None
    other = write_sphere(tmp_path, declare="", name="plain.py")  # declares nothing: untouched
    assert fresh.make_problem(other, {}, tmp_path, seed=7).noise_seed is None


@pytest.mark.parametrize("declare, why", [
    ('run_seeded = "seeed"', "run_seeded must be None or the name of a constructor parameter "
                             "(center, weights, noise_seed), got 'seeed'"),
    ('list_params = {"centre": 1}', "list_params names 'centre', which is not a constructor "
                                    "parameter (center, weights, noise_seed)"),
    ('list_params = {"center": "1"}', "list_params['center'] must be a whole number of list "
                                      "levels >= 0, got '1'"),
])
def test_a_wrong_declaration_is_refused_when_registered(tmp_path, declare, why):
    name = write_sphere(tmp_path, declare)
    with pytest.raises(RegistryError) as err:
        Plugins(entry_points=no_entry_points).resolve("problem", name, tmp_path)
    assert str(err.value) == f"problem {name!r} from file {tmp_path / 'sphere.py'}: {why}"


def test_list_params_are_declared_on_both_bases_and_set_on_the_builtins():
    assert Problem.list_params == {} and Optimizer.list_params == {}
    declared = {n: problems.registry.get(n).list_params for n in problems.registry}
    declared |= {n: optimizers.registry.get(n).list_params for n in optimizers.registry}
    assert {n: d for n, d in declared.items() if d} == {
        "ackley": {"x0": 1}, "rosenbrock": {"x0": 1}, "nelder-mead": {"initial_simplex": 2},
        "jax": {"x0": 1, "x_opt": 1}}


def _grid(tmp_path, problem, optimizer="adam: {}"):
    cfg = tmp_path / "g.yaml"
    cfg.write_text(textwrap.dedent(f"""
        name: g
        problems:
          - {problem}
        optimizers:
          - {optimizer}
        budget: {{iterations: 2}}
    """))
    sweep = load_sweep(cfg)
    return sorted({s.problem_params for s in sweep.specs}), \
        sorted({s.optimizer_params for s in sweep.specs})


def test_a_plugin_declaring_list_params_sweeps_as_declared(tmp_path):
    name = write_sphere(tmp_path, 'list_params = {"center": 1}')
    # center takes one list as its value: a list of lists sweeps over them
    assert _grid(tmp_path, f"{name}: {{center: [1, 2]}}")[0] == ['{"center":[1,2]}']
    assert _grid(tmp_path, f"{name}: {{center: [[1, 2], [3, 4]]}}")[0] == [
        '{"center":[1,2]}', '{"center":[3,4]}']
    # weights is not declared: any list sweeps, as for any plugin that declares nothing
    assert _grid(tmp_path, f"{name}: {{weights: [1, 2]}}")[0] == ['{"weights":1}',
                                                                  '{"weights":2}']
    plain = write_sphere(tmp_path, name="plain.py")
    assert _grid(tmp_path, f"{plain}: {{center: [[1, 2], [3, 4]]}}")[0] == [
        '{"center":[1,2]}', '{"center":[3,4]}']


def test_nelder_mead_takes_a_simplex_as_one_value_and_sweeps_a_list_of_them(tmp_path):
    one = "[[0, 0], [1, 0], [0, 1]]"
    two = "[[0, 0], [2, 0], [0, 2]]"
    assert _grid(tmp_path, "ackley: {}", f"nelder-mead: {{initial_simplex: {one}}}")[1] == [
        '{"initial_simplex":[[0,0],[1,0],[0,1]]}']
    assert len(_grid(tmp_path, "ackley: {}",
                     f"nelder-mead: {{initial_simplex: [{one}, {two}]}}")[1]) == 2
