"""Malformed configs: each gives exit code 2 and one line naming the file and the key path."""

import textwrap

import pytest

from optbench.bench.cli.main import main
from optbench.bench.sweep import yamlio
from optbench.bench.sweep.config import load_sweep

SEEDS = "a count n >= 1 (the seeds 0..n-1) or a non-empty list of integers >= 0"

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
    # the pattern shown as written: lowercasing the message once turned it into [a-za-z0-9]
    ("bad-name", GOOD.replace("name: t", "name: 'a/b'"),
     "name: string should match pattern '^[A-Za-z0-9][A-Za-z0-9_.-]*$' (letters, digits, '_', "
     "'.', '-', first a letter or digit: it names the results folder), got 'a/b'"),
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
    # one message for both spellings, never a pydantic union tag such as 'constrained-int'
    ("seeds-type", GOOD.replace("seeds: 2", "seeds: three"), f"seeds: must be {SEEDS}, got "
                                                             "'three'"),
    ("seeds-empty", GOOD.replace("seeds: 2", "seeds: []"), f"seeds: must be {SEEDS}, got []"),
    ("seeds-negative", GOOD.replace("seeds: 2", "seeds: -2"), f"seeds: must be {SEEDS}, got -2"),
    ("seeds-negative-in-list", GOOD.replace("seeds: 2", "seeds: [0, -1]"),
     f"seeds: must be {SEEDS}, got [0, -1]"),
    ("negative-lr", GOOD.replace("lr: 0.1", "lr: -0.1"), "optimizers[0].adam.lr:"),
    ("empty-budget", GOOD.replace("{evaluations: 100}", "{}"), "budget: give at least one of "
                                                               "evaluations, iterations"),
    ("negative-budget", GOOD.replace("evaluations: 100", "evaluations: -5"),
     "budget.evaluations: input should be greater than 0"),
    ("budget-key", GOOD.replace("evaluations: 100", "evals: 100"),
     "budget.evals: unknown key; valid keys here: evaluations, iterations, seconds"),
    ("distance-no-minimizer", GOOD.replace("  - ackley: {dim: 2}\n", "  - ackley: {dim: 2}\n"
                                           "  - group_lasso: {}\n")
     + "targets: {distance: 1.0e-3}\n", "problems[1]: problem 'group_lasso' has no known "
     "minimizer, so the sweep's targets.distance cannot be judged for it; give this entry its "
     "own targets (value or grad_norm)"),
    ("entry-distance-no-minimizer", GOOD.replace("ackley: {dim: 2}", "group_lasso: {}\n"
                                                 "    targets: {distance: 1.0e-3}"),
     "problems[0].targets.distance: problem 'group_lasso' has no known minimizer, so a distance "
     "cannot be judged for it; use a value or grad_norm target"),
    ("entry-targets-not-mapping", GOOD.replace("ackley: {dim: 2}", "ackley: {dim: 2}\n"
                                               "    targets: 5"),
     "problems[0].targets: must be a mapping with keys among value, distance, grad_norm, got 5"),
    ("entry-target-negative", GOOD.replace("ackley: {dim: 2}", "ackley: {dim: 2}\n"
                                           "    targets: {grad_norm: 0}"),
     "problems[0].targets.grad_norm: input should be greater than 0, got 0"),
    # PyYAML keeps the last of two equal keys: lr 0.2 would run without a word
    ("duplicate-key", GOOD.replace("{lr: 0.1}", "{lr: 0.1, lr: 0.2}"),
     "malformed YAML: line 6, column 21: duplicate key optimizers[0].adam.lr (first given on "
     "line 6); each key may appear once in a mapping"),
    ("duplicate-top-key", GOOD + "seeds: 3\n", "malformed YAML: line 9, column 1: duplicate key "
                                              "seeds (first given on line 7)"),
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
    ("timeout-type", GOOD + "timeout: soon\n", "timeout: input should be a valid number "
                                               "(seconds > 0 per run, or null for no limit), "
                                               "got 'soon'"),
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
    """Sweeps by the sweep loader, tune configs (a `tune:` section) by the tune loader."""
    from pathlib import Path

    from optbench.bench.sweep.config import read_config
    from optbench.bench.tune.config import is_tune_config, load_tune

    for cfg in sorted(Path(__file__).parent.parent.joinpath("configs").glob("*.yaml")):
        if is_tune_config(read_config(cfg)[1]):
            assert load_tune(cfg).plans, cfg
        else:
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
    from optbench.bench.cli.main import _key_value

    assert _key_value("eps=1e-6") == ("eps", 1e-6)
    assert _key_value("x0=[1e1, -2E-1]") == ("x0", [10.0, -0.2])


def test_check_param_with_a_duplicate_key_is_one_line(capsys):
    assert main(["check", "autoencoder", "--param", "data={path: a.idx, path: b.idx}"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["optbench: error: --param data: value is not valid YAML (duplicate key path "
                   "(first given on line 1); each key may appear once in a mapping): "
                   "'{path: a.idx, path: b.idx}'"]


def test_duplicate_keys_name_their_path_but_merge_keys_may_override():
    with pytest.raises(yamlio.DuplicateKeyError) as e:
        yamlio.load("a:\n  - {x: 1}\n  - {y: 1, 'y': 2}\n")
    assert e.value.key_path == "a[1].y" and e.value.problem_mark.line == 2
    # `<<: *base` then a key of its own is how YAML overrides a merged key: not a duplicate
    assert yamlio.load("base: &b {lr: 0.1, eps: 1}\nadam: {<<: *b, lr: 0.2}\n")["adam"] == \
        {"lr": 0.2, "eps": 1}
