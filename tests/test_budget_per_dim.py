"""Budgets per dimension: ``budget: {evaluations: 1000 * dim}`` gives each problem of one sweep
the budget of its own dimension (COCO's convention), for every problem family."""

import textwrap

import pytest

import optbench
from optbench.bench.cli.main import main
from optbench.bench.sweep.config import load_sweep
from optbench.bench.sweep.models import per_dimension
from optbench.bench.sweep.spec import Budget


def test_one_sweep_at_d2_and_d10_stops_each_at_its_own_budget(tmp_path):
    config = {"name": "per-dim", "problems": [{"ackley": {"dim": [2, 10]}}],
              "optimizers": [{"adam": {"lr": 1e-6}}],  # far from converging: the budget stops it
              "seeds": 2, "budget": {"evaluations": "1000 * dim"}}
    results = optbench.sweep(config, out=tmp_path / "out", workers=0, progress=False)
    runs = results.summary
    assert len(runs) == 4 and set(runs["status"]) == {"budget"}
    assert sorted(zip(runs["dim"], runs["n_eval"], strict=True)) == \
        [(2, 2000), (2, 2000), (10, 10000), (10, 10000)]


def test_spellings_and_rounding(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(textwrap.dedent("""\
        name: c
        problems: [{ackley: {dim: [2, 3]}}, {bbob: {function: 1, dim: 5}}]
        optimizers: [{nelder-mead: {}}]
        budget: {evaluations: dim * 2.5e2, iterations: 10 * dim, seconds: 5}
    """))
    budgets = {s.problem_kwargs["dim"]: s.budget for s in load_sweep(cfg).specs}
    assert budgets == {2: Budget(500, 20, 5.0), 3: Budget(750, 30, 5.0), 5: Budget(1250, 50, 5.0)}
    assert per_dimension("0.3 * dim", 2) == 1 and per_dimension("0.1 * dim", 2) == 1
    assert per_dimension(700, 10) == 700


@pytest.mark.parametrize(("budget", "says"), [
    ("{evaluations: 1000 * dims}", "budget.evaluations: must be a count >= 1, or 'N * dim' for "
                                   "N per dimension of each problem (like 1000 * dim), got "
                                   "'1000 * dims'"),
    ("{evaluations: 0 * dim}", "budget.evaluations: must be a count >= 1, or 'N * dim'"),
    ("{iterations: dim}", "budget.iterations: must be a count >= 1, or 'N * dim'"),
    ("{evaluations: -5}", "budget.evaluations: input should be greater than 0, got -5"),
])
def test_a_wrong_spelling_is_one_line(tmp_path, capsys, budget, says):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(f"name: bad\nproblems: [ackley: {{}}]\noptimizers: [adam: {{}}]\n"
                   f"budget: {budget}\n")
    assert main(["run", str(cfg), "--out", str(tmp_path / "out"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{cfg}: {says}" in err, err


def test_optbench_run_takes_it_too():
    result = optbench.run({"ackley": {"dim": 3}}, "adam", lr=1e-6,
                          budget={"evaluations": "100 * dim"})
    assert result.status == "budget" and result.evaluations == 300
