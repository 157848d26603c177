"""Tune configs: search spaces and the tune section are validated as strictly as a sweep: every
mistake is one line naming the file and the key path, exit 2 (ConfigError in Python)."""

import copy

import optuna
import pytest
import yaml

import optbench
from optbench.bench.cli.main import main
from optbench.bench.tune.config import load_tune, tune_from_mapping
from optbench.bench.tune.space import Fixed, Float, Int, piecewise

BASE = {
    "name": "t",
    "problems": [{"ackley": {"dim": 2, "x0": [2, 1]}}],
    "optimizers": [
        {"nag": {"lr": {"search": ["constant", "cosine", "piecewise"]},
                 "momentum": {"uniform": [0.0, 0.9]}}},
        {"adam": {"lr": {"loguniform": [1.0e-4, 1.0]}}},
        {"nelder-mead": {"adaptive": {"choice": [True, False]}}},
        {"lbfgsb": {"maxcor": {"int": [3, 30]}}},
    ],
    "budget": {"evaluations": 1000},
    "targets": {"value": 1.0e-3},
    "tune": {"trials": 4},
}


def _with(path: str, value):
    """BASE with the value at a dotted key path (list items by index) replaced."""
    cfg = copy.deepcopy(BASE)
    *parents, last = path.split(".")
    node = cfg
    for key in parents:
        node = node[int(key)] if key.isdigit() else node[key]
    if value is _DELETE:
        del node[last]
    else:
        node[int(last) if last.isdigit() else last] = value
    return cfg


_DELETE = object()

CASES = [
    ("optimizers.0.nag.momentum", {"uniform": [0.5, 0.1]},
     "optimizers[0].nag.momentum.uniform: needs low < high"),
    ("optimizers.1.adam.lr", {"loguniform": [0, 1]},
     "optimizers[1].adam.lr.loguniform: a log-uniform range needs low > 0"),
    ("optimizers.3.lbfgsb.maxcor", {"int": [3.5, 30]},
     "optimizers[3].lbfgsb.maxcor.int: must be [low, high] with low < high, integers"),
    ("optimizers.3.lbfgsb.maxcor", {"int": [0, 30], "log": True},
     "optimizers[3].lbfgsb.maxcor.int: a log-spaced range needs low >= 1"),
    ("optimizers.2.nelder-mead.adaptive", {"choice": []},
     "optimizers[2].nelder-mead.adaptive.choice: must be a non-empty list"),
    ("optimizers.2.nelder-mead.adaptive", {"choice": [True, True]},
     "optimizers[2].nelder-mead.adaptive.choice[1]: True is listed twice"),
    ("optimizers.0.nag.lr", {"search": ["constant", "sawtooth"]},
     "optimizers[0].nag.lr.search.sawtooth: unknown schedule family 'sawtooth'; valid: "
     "constant, exponential, inverse_time, cosine, piecewise"),
    ("optimizers.0.nag.lr", {"search": {"cosine": {"stepz": 5}}},
     "optimizers[0].nag.lr.search.cosine.stepz: unknown parameter of the cosine family; "
     "valid: lr, steps"),
    ("optimizers.0.nag.lr", {"search": {"cosine": {"lr": {"loguniform": [1.0e-3, 1.0e-4]}}}},
     "optimizers[0].nag.lr.search.cosine.lr.loguniform: needs low < high"),
    ("optimizers.0.nag.lr", {"search": []},
     "optimizers[0].nag.lr.search: must name at least one family"),
    ("optimizers.0.nag.momentum", {"uniform": [0.0, 1.5]},
     "optimizers[0].nag.momentum.uniform: nag: parameter 'momentum'"),
    ("optimizers.0.nag.momentum", {"search": ["constant"]},
     "optimizers[0].nag.momentum.search: "),
    ("optimizers.0.nag.lr", {"search": {"cosine": {"steps": {"int": [0, 100]}}}},
     "optimizers[0].nag.lr.search.cosine.steps: "),
    ("optimizers.0.nag.momentum", [0.1, 0.2],
     "optimizers[0].nag.momentum: a list is a grid, which a tune config does not sweep; "
     "write {choice: [0.1, 0.2]}"),
    ("optimizers.0.nag.momentum", {"uniform": [0.0, 0.5], "log": True},
     "optimizers[0].nag.momentum.log: unknown key beside 'uniform'"),
    ("optimizers.0.nag.momentun", {"uniform": [0.0, 0.5]},
     "optimizers[0].nag.momentun: unknown parameter (did you mean momentum?)"),
    ("optimizers.0.trials", 0, "optimizers[0].trials: must be a whole number >= 1"),
    ("tune.sampler", "cmaes", "tune.sampler: input should be 'tpe', 'sobol' or 'random'"),
    ("tune.objective", "fastest", "tune.objective: input should be 'evals_to_target' or "),
    ("tune.held_out", [0], "tune.held_out: seed 0 is also a tuning seed"),
    ("tune.seeds", [], "tune.seeds: must be a count n >= 1"),
    ("tune.penalty", 0.5, "tune.penalty: input should be greater than or equal to 1"),
    ("tune.trails", 5, "tune.trails: unknown key; valid keys here: trials, sampler, seed"),
    ("tune", _DELETE, "tune: missing: a sweep config, not a tune config: run it with "),
    ("targets", _DELETE, "problems[0]: objective evals_to_target needs a target"),
    ("budget", {"iterations": 100}, "tune.objective: evals_to_target counts a run that misses"),
]


@pytest.mark.parametrize("where,value,expected", CASES, ids=[c[2][:40] for c in CASES])
def test_every_space_error_is_one_line_with_its_key_path_exit_2(tmp_path, capsys, where, value,
                                                                expected):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(yaml.safe_dump(_with(where, value), sort_keys=False))
    code = main(["tune", str(cfg), "--workers", "0", "--quiet", "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith(f"optbench: error: {cfg}: {expected}"), err
    assert not (tmp_path / "r").exists()  # nothing written
    with pytest.raises(optbench.ConfigError) as e:  # the same line from Python
        optbench.tune(_with(where, value), out=tmp_path / "r2", workers=0, progress=False)
    assert f": {expected}" in str(e.value)


def test_the_default_ranges_of_each_family_follow_the_budget():
    tune = tune_from_mapping(_with("budget", {"evaluations": 5000, "iterations": 3000}))
    (nag,) = [p for p in tune.plans if p.optimizer == "nag"]
    families = dict(nag.space.describe()["lr"]["search"])
    assert families["cosine"]["steps"] == {"int": [10, 3000], "log": True}
    assert families["piecewise"]["hold"] == {"int": [1, 3000]}
    assert families["piecewise"]["every"] == {"int": [10, 300], "log": True}


def test_a_draw_becomes_the_optimizers_parameters_through_optuna():
    """The space asks Optuna's trial for each value, by name, with the declared distribution;
    the family's parameters are asked only for the family drawn."""
    tune = tune_from_mapping(BASE)
    (nag,) = [p for p in tune.plans if p.optimizer == "nag"]
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=3))
    seen = set()
    for _ in range(30):
        trial = study.ask()
        params = nag.space.suggest(trial)
        family = trial.params["lr"]
        seen.add(family)
        assert set(trial.params) == {"lr", "momentum"} | {
            f"lr.{family}.{k}" for k in dict(dict(nag.space.params)["lr"].families[
                ["constant", "cosine", "piecewise"].index(family)].params)}
        assert params["momentum"] == float(f"{trial.params['momentum']:.4g}")
        if family == "constant":
            assert params["lr"] == float(f"{trial.params['lr.constant.lr']:.4g}")
        elif family == "cosine":
            assert params["lr"] == {"cosine": {"lr": float(f"{trial.params['lr.cosine.lr']:.4g}"),
                                               "steps": trial.params["lr.cosine.steps"]}}
        else:
            p = {k.split(".")[-1]: v for k, v in trial.params.items()
                 if k.startswith("lr.piecewise.")}
            hold, every, drops = p["hold"], p["every"], p["drops"]
            assert params["lr"]["piecewise"]["boundaries"] == [hold + k * every
                                                             for k in range(drops)]
            assert len(params["lr"]["piecewise"]["values"]) == drops + 1
        study.tell(trial, 1.0)
        assert nag.space.from_params(trial.params) == params  # a finished trial, read back
    assert seen == {"constant", "cosine", "piecewise"}


def test_piecewise_family_by_hand():
    assert piecewise(lr=0.1, hold=8000, every=500, drops=3, factor=0.5) == {
        "piecewise": {"boundaries": [8000, 8500, 9000], "values": [0.1, 0.05, 0.025, 0.0125]}}


def test_fixed_values_pass_through_and_a_value_list_is_not_a_grid(tmp_path):
    cfg = _with("optimizers.2.nelder-mead.initial_simplex", [[0, 0], [1, 0], [0, 1]])
    cfg = _with("optimizers.0.nag.momentum", 0.5) | {"optimizers": cfg["optimizers"]}
    cfg["optimizers"][0]["nag"]["momentum"] = 0.5
    tune = tune_from_mapping(cfg)
    spaces = {p.optimizer: dict(p.space.params) for p in tune.plans}
    assert spaces["nag"]["momentum"] == Fixed(0.5)
    assert spaces["nelder-mead"]["initial_simplex"] == Fixed([[0, 0], [1, 0], [0, 1]])
    assert spaces["adam"]["lr"] == Float(1e-4, 1.0, log=True)
    assert spaces["lbfgsb"]["maxcor"] == Int(3, 30)


def test_run_points_a_tune_config_to_tune_and_tune_a_sweep_to_run(tmp_path, capsys):
    """Each command given the other's config: one line naming the command that runs it, exit
    2; and the same from Python."""
    tune_cfg, sweep_cfg = tmp_path / "t.yaml", tmp_path / "s.yaml"
    tune_cfg.write_text(yaml.safe_dump(BASE, sort_keys=False))
    sweep_cfg.write_text(yaml.safe_dump({k: v for k, v in BASE.items() if k != "tune"} |
                                        {"optimizers": ["nag"]}, sort_keys=False))
    for command, cfg, other in (("run", tune_cfg, "tune"), ("tune", sweep_cfg, "run")):
        code = main([command, str(cfg), "--workers", "0", "--out", str(tmp_path / "r")])
        err = capsys.readouterr().err
        assert code == 2 and err.count("\n") == 1, err
        assert f"run it with `optbench {other} {cfg}`" in err, err
    assert not (tmp_path / "r").exists()
    with pytest.raises(optbench.ConfigError, match=r"run it with optbench\.tune\(config\)"):
        optbench.sweep(BASE, out=tmp_path / "r", progress=False)
    with pytest.raises(optbench.ConfigError, match=r"run it with optbench\.sweep\(config\)"):
        optbench.tune(yaml.safe_load(sweep_cfg.read_text()), out=tmp_path / "r", progress=False)


def test_tune_loads_the_shipped_config():
    tune = load_tune("configs/ackley_tune.yaml")
    assert [p.optimizer for p in tune.plans] == ["nag", "adam", "adagrad", "lbfgsb",
                                                 "nelder-mead"]
    assert {p.trials for p in tune.plans} == {60} and tune.equal_trials
    assert tune.settings.held_out == (1, 2, 3) and tune.settings.seeds == (0,)


def test_the_score_by_hand():
    """A hit costs its evaluations; a miss 2 × 1000 plus a tenth of a budget per decade its
    worst measure stayed above its target (log10(1 + m / t) / 10, at most one budget)."""
    from optbench.bench.sweep.spec import Budget, RunSpec, Targets
    from optbench.bench.tune.sampling import score

    spec = RunSpec("ackley", "{}", "nag", "{}", 0, budget=Budget(evaluations=1000),
                   targets=Targets(value=1e-3, distance=1e-2))
    hit = {"target_hit": True, "fev_to_target": 250, "f_best": 1e-4, "f_opt": 0.0}
    near = {"target_hit": False, "fev_to_target": None, "f_best": 0.1, "f_opt": 0.0,
            "dist_final": 0.01}
    far = {"target_hit": False, "fev_to_target": None, "f_best": 1e9, "f_opt": 0.0,
           "dist_final": 1.0}
    assert score("evals_to_target", 2.0, [(spec, hit)]) == 250.0
    # f: log10(1 + 0.1/1e-3) = log10(101); distance: log10(1 + 1) = log10(2), smaller
    assert score("evals_to_target", 2.0, [(spec, near)]) == pytest.approx(
        1000 * (2 + 0.1 * 2.0043213737826426))
    assert score("evals_to_target", 2.0, [(spec, far)]) == 3000.0  # capped at one budget
    assert score("evals_to_target", 2.0, [(spec, hit), (spec, far)]) == 1625.0
    assert score("best_f", 2.0, [(spec, hit), (spec, near)]) == pytest.approx(0.05005)
    assert score("best_f", 2.0, [(spec, {"f_best": None})]) is None
