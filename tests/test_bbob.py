"""The bbob family against cocoex driven directly: values, f* and x* of every function at d = 2
and 10 on three instances; the instance a run's seed picks; the suite in one line of YAML; one
line for each mistake (a missing cocoex included); and budgets per dimension."""

import pickle
import sys
import textwrap

import cocoex
import numpy as np
import pytest

import optbench
from optbench import problems
from optbench._coco import FUNCTIONS, GROUPS
from optbench.bench.cli.main import main
from optbench.bench.run.runner import execute
from optbench.bench.sweep.config import load_sweep, sweep_from_mapping
from optbench.errors import ConfigError, ParameterError, UsageError
from optbench.problems.bbob import BBOB

INSTANCES = (1, 2, 7)


@pytest.mark.parametrize("dim", [2, 10])
def test_values_optima_and_minimizers_equal_cocoex(dim):
    """Every function, three instances: cocoex's benchmark suite (as COCO experiments build it)
    gives the reference values; its own final-target test confirms x* reaches f* + 1e-8."""
    rng = np.random.default_rng(dim)
    suite = cocoex.Suite("bbob", f"instances: {','.join(map(str, INSTANCES))}",
                         f"dimensions: {dim}")
    seen = set()
    for ref in suite:
        f, i = ref.id_function, ref.id_instance
        ours = BBOB(function=f, dim=dim, instance=i)
        bare = cocoex.BareProblem("bbob", f, dim, i)
        assert ours.f_opt == bare.best_value()
        assert np.array_equal(ours.x_opt, bare.best_parameter())
        for x in rng.uniform(-5, 5, (20, dim)):
            assert ours.value(x) == ref(x)  # bitwise: the same C code, no observer in between
            assert ours.value(x) >= ours.f_opt
        assert not ref.final_target_hit
        assert ours.value(ours.x_opt) == ref(ours.x_opt) == ours.f_opt
        assert ref.final_target_hit  # the suite's own f* + 1e-8 test, reached at our x*
        assert ref.evaluations == 21  # its 21 calls here: nothing of ours reaches it
        seen.add((f, i))
    assert seen == {(f, i) for f in FUNCTIONS for i in INSTANCES}


def test_contract_details():
    p = BBOB(function=15, dim=3, instance=2)
    assert p.gradient == "finite-difference" and p.grad_cost == 6
    assert np.array_equal(p.bounds[0], np.full(3, -5.0))
    assert np.array_equal(p.bounds[1], np.full(3, 5.0))
    x = p.initial_point(np.random.default_rng(0))
    assert x.shape == (3,) and (np.abs(x) <= 5).all()
    copy = pickle.loads(pickle.dumps(p))  # worker processes get a rebuilt copy
    assert copy.value(x) == p.value(x) and copy.instance == 2
    assert BBOB(function=3, dim=2).instance == 1  # built outside a run
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        p.value(np.zeros(4))


def test_a_runs_seed_picks_instance_seed_plus_one():
    sweep = sweep_from_mapping({"name": "inst", "problems": [{"bbob": {"function": 21}}],
                                "optimizers": ["nelder-mead"], "seeds": [0, 4],
                                "budget": {"evaluations": 30}})
    for spec in sweep.specs:
        record = execute(spec)
        assert record.f_opt == cocoex.BareProblem("bbob", 21, 2, spec.seed + 1).best_value()
    fixed = sweep_from_mapping({"name": "inst", "problems": [{"bbob": {"function": 21,
                                                                       "instance": 9}}],
                                "optimizers": ["nelder-mead"], "seeds": [0, 4],
                                "budget": {"evaluations": 30}})
    assert {execute(s).f_opt for s in fixed.specs} == {
        cocoex.BareProblem("bbob", 21, 2, 9).best_value()}


def test_the_whole_suite_in_one_line_with_names_and_groups(tmp_path):
    cfg = tmp_path / "suite.yaml"
    cfg.write_text(textwrap.dedent("""\
        name: suite
        problems:
          - bbob: {function: all, dim: [2, 5, 10]}
          - bbob: {function: [ill-conditioned, 20], dim: 3, instance: 4}
        optimizers: [{nelder-mead: {}}]
        budget: {evaluations: 10}
    """))
    specs = load_sweep(cfg).specs
    grid = [(s.problem_kwargs["function"], s.problem_kwargs["dim"]) for s in specs[:72]]
    assert grid == [(f, d) for f in range(1, 25) for d in (2, 5, 10)]
    assert [s.problem_kwargs["function"] for s in specs[72:]] == [10, 11, 12, 13, 14, 20]
    assert specs[0].problem_label == "bbob f1 Sphere (separable), 2-D"
    assert specs[-1].problem_label == \
        "bbob f20 Schwefel x*sin(x) (weakly-structured), 3-D, instance 4"
    assert len({s.problem_label for s in specs}) == len(specs)
    assert {f for fs in GROUPS.values() for f in fs} == set(FUNCTIONS)


@pytest.mark.parametrize(("params", "says"), [
    ("{function: 25}", "problems[0].bbob.function: bbob: parameter 'function' must be an "
                       "integer >= 1 and <= 24, got 25"),
    ("{function: 3, dim: 1}", "problems[0].bbob.dim: bbob: parameter 'dim' must be an integer "
                              ">= 2, got 1"),
    ("{function: 3, instance: 0}", "problems[0].bbob.instance: bbob: parameter 'instance' "
                                   "must be an integer >= 1 and <= 100000, got 0"),
    ("{function: some}", "problems[0].bbob.function: bbob: parameter 'function' must be an "
                         "integer >= 1 and <= 24, got 'some'"),
    ("{funtcion: 3}", "problems[0].bbob.funtcion: unknown parameter (did you mean function?)"),
])
def test_a_mistake_is_one_line(tmp_path, capsys, params, says):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(f"name: bad\nproblems: [{{bbob: {params}}}]\noptimizers: [adam: {{}}]\n"
                   "budget: {evaluations: 10}\n")
    assert main(["run", str(cfg), "--out", str(tmp_path / "out"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and says in err, err


def test_all_outside_a_sweep_says_what_it_means():
    with pytest.raises(ParameterError, match="stands for several functions in a sweep"):
        problems.make("bbob", function="all")


def test_a_missing_cocoex_is_one_line_naming_the_extra(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "cocoex", None)  # import cocoex now raises ImportError
    with pytest.raises(UsageError, match=r"pip install 'optbench\[coco\]'"):
        BBOB(function=1)
    assert main(["check", "bbob"]) == 2
    err = capsys.readouterr().err
    assert err == "optbench: error: problem 'bbob' needs cocoex (COCO's experiment module): " \
                  "pip install 'optbench[coco]'\n"
    with pytest.raises(ConfigError, match=r"problems\[0\]\.bbob: problem 'bbob' needs cocoex"):
        sweep_from_mapping({"name": "x", "problems": ["bbob"], "optimizers": ["adam"],
                            "budget": {"evaluations": 10}})


def test_optbench_run_names_the_function_too():
    result = optbench.run({"bbob": {"function": 10, "dim": 3}}, "nelder-mead", seed=2,
                          budget={"evaluations": "10 * dim"})
    assert result.problem == "bbob f10 Ellipsoid (ill-conditioned), 3-D"
    assert result.evaluations == 30
    assert result.record.f_opt == cocoex.BareProblem("bbob", 10, 3, 3).best_value()
