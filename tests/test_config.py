"""Malformed configs: each gives exit code 2 and one line naming the file and the key path."""

import textwrap

import pytest

from bench.cli import main
from bench.config import load_sweep

GOOD = """
name: t
problems:
  - ackley: {dim: 2}
optimizers:
  - adam: {lr: 0.1}
seeds: 2
budget: {evaluations: 100}
"""

CASES = [
    # (id, config text, what the one line must contain)
    ("yaml", "name: t\nproblems: [ackley: {dim: 2}\n", "malformed YAML: line"),
    ("not-a-mapping", "- ackley\n", "must be a mapping"),
    ("no-name", GOOD.replace("name: t\n", ""), "name: missing"),
    ("bad-name", GOOD.replace("name: t", "name: 'a/b'"), "name: string should match"),
    ("unknown-key", GOOD + "seed: 3\n", "seed: unknown key; valid keys here: name"),
    ("empty-problems", GOOD.replace("  - ackley: {dim: 2}\n", "").replace("problems:",
                                                                          "problems: []"),
     "problems: list should have at least 1 item"),
    ("unknown-problem", GOOD.replace("ackley:", "ackly:"), "problems[0]: unknown problem 'ackly' "
                                                           "(did you mean ackley?)"),
    ("unknown-optimizer", GOOD.replace("adam:", "adamw:"), "optimizers[0]: unknown optimizer "
                                                           "'adamw' (did you mean adam"),
    ("unknown-param", GOOD.replace("{lr: 0.1}", "{learning_rate: 0.1}"),
     "optimizers[0].adam.learning_rate: unknown parameter"),
    ("seeds-type", GOOD.replace("seeds: 2", "seeds: three"), "seeds"),
    ("negative-lr", GOOD.replace("lr: 0.1", "lr: -0.1"), "optimizers[0].adam.lr:"),
    ("empty-budget", GOOD.replace("{evaluations: 100}", "{}"), "budget: give at least one of "
                                                               "evaluations, iterations"),
    ("negative-budget", GOOD.replace("evaluations: 100", "evaluations: -5"),
     "budget.evaluations: input should be greater than 0"),
    ("budget-key", GOOD.replace("evaluations: 100", "evals: 100"),
     "budget.evals: unknown key; valid keys here: evaluations, iterations, seconds"),
    ("distance-no-minimizer", GOOD.replace("ackley: {dim: 2}", "group_lasso: {}")
     + "targets: {distance: 1.0e-3}\n", "targets.distance: problem 'group_lasso' has no known"),
    ("dim-zero", GOOD.replace("dim: 2", "dim: 0"), "problems[0].ackley.dim: ackley: parameter "
                                                   "'dim' must be an integer >= 1, got 0"),
    ("two-names", GOOD.replace("  - adam: {lr: 0.1}", "  - {adam: {}, nag: {}}"),
     "optimizers[0]: each entry names exactly one optimizer"),
    ("params-not-mapping", GOOD.replace("adam: {lr: 0.1}", "adam: 0.1"),
     "optimizers[0].adam: parameters must be a mapping"),
    ("empty-sweep-list", GOOD.replace("lr: 0.1", "lr: []"), "optimizers[0].adam.lr: an empty "
                                                            "list sweeps over nothing"),
    ("missing-data", GOOD.replace("ackley: {dim: 2}", "autoencoder: {data: {path: nope.idx}}"),
     "problems[0].autoencoder.data:"),
    ("momentum", GOOD.replace("adam: {lr: 0.1}", "nag: {lr: 0.1, momentum: 1.0}"),
     "optimizers[0].nag.momentum:"),
    ("schedule", GOOD.replace("lr: 0.1", "lr: {piecewise: {boundaries: [5], values: [1, 2, 3]}}"),
     "optimizers[0].adam.lr.piecewise: adam: parameter 'lr.piecewise' needs one more value"),
    ("target-negative", GOOD + "targets: {value: -1}\n", "targets.value: input should be greater"),
    ("timeout-type", GOOD + "timeout: soon\n", "timeout"),
]


@pytest.mark.parametrize("case_id, text, needle", CASES, ids=[c[0] for c in CASES])
def test_malformed_config_is_one_line_exit_2(tmp_path, capsys, monkeypatch, case_id, text,
                                             needle):
    monkeypatch.chdir(tmp_path)
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(textwrap.dedent(text))
    code = main(["run", str(cfg), "--workers", "0", "--quiet"])
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert code == 2
    assert len(lines) == 1, captured.err
    assert "Traceback" not in captured.err and captured.out == ""
    assert lines[0].startswith(f"optbench: error: {cfg}: ")
    assert needle in lines[0], lines[0]
    assert not (tmp_path / "results").exists()


def test_missing_config_file(tmp_path, capsys):
    assert main(["run", str(tmp_path / "nope.yaml")]) == 2
    assert "nope.yaml: no such config file" in capsys.readouterr().err


def test_at_least_fifteen_distinct_cases():
    assert len({c[0] for c in CASES}) >= 15


def test_lists_sweep_into_a_grid_with_stable_ids(tmp_path):
    cfg = tmp_path / "grid.yaml"
    cfg.write_text(textwrap.dedent("""
        name: grid
        problems:
          - ackley: {dim: [2, 3], x0: null}
          - ackley: {dim: 2, x0: [5, 6]}        # a list where the parameter is a list: a value
          - ackley: {dim: 2, x0: [[1, 2], [3, 4]]}   # a list of such lists: a sweep
        optimizers:
          - nag: {lr: [0.1, 0.01], momentum: [0.2, 0.9]}
        seeds: [7, 8]
        budget: {evaluations: 10}
    """))
    sweep = load_sweep(cfg)
    assert len(sweep.specs) == (2 + 1 + 2) * 4 * 2
    x0s = sorted({s.problem_params for s in sweep.specs})
    assert '{"dim":2,"x0":[1,2]}' in x0s and '{"dim":2,"x0":[3,4]}' in x0s
    assert {s.seed for s in sweep.specs} == {7, 8}
    again = load_sweep(cfg)
    assert [s.id for s in sweep.specs] == [s.id for s in again.specs]
    assert len({s.id for s in sweep.specs}) == len(sweep.specs)


def test_shipped_configs_load():
    from pathlib import Path

    for cfg in sorted(Path(__file__).parent.parent.joinpath("configs").glob("*.yaml")):
        assert load_sweep(cfg).specs, cfg


def test_exponent_floats_without_a_dot_are_numbers(tmp_path):
    """YAML 1.1 reads ``1e-4`` as a string; people (and YAML 1.2) mean 0.0001."""
    cfg = tmp_path / "floats.yaml"
    cfg.write_text(textwrap.dedent("""
        name: floats
        problems:
          - ackley: {dim: 2}
        optimizers:
          - nag: {lr: {piecewise: {boundaries: [5, 10], values: [1e-4, 1e-2, 0.1]}}}
          - adam: {lr: [1e-3, 3E-2], eps: 1e-8}
        budget: {evaluations: 1e3}
        targets: {value: 5e-4}
    """))
    specs = load_sweep(cfg).specs
    params = sorted(s.optimizer_params for s in specs)
    assert params == [
        '{"eps":1e-08,"lr":0.001}', '{"eps":1e-08,"lr":0.03}',
        '{"lr":{"piecewise":{"boundaries":[5,10],"values":[0.0001,0.01,0.1]}}}',
    ]
    assert specs[0].targets.value == 5e-4


def test_check_param_reads_exponent_floats():
    from bench.cli import _key_value

    assert _key_value("eps=1e-6") == ("eps", 1e-6)
    assert _key_value("x0=[1e1, -2E-1]") == ("x0", [10.0, -0.2])
