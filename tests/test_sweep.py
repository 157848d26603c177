"""Sweeps end to end: failures become rows, kills lose nothing, executors agree bitwise."""

import json
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import QUADRATIC_PLUGIN

from optbench.bench.cli.main import main
from optbench.bench.results.store import Store

FAULTY = QUADRATIC_PLUGIN + '''
import time


class Raises(Quadratic):
    def value_and_grad(self, x):
        if x[0] < 7.5:
            raise RuntimeError("the model blew up below 7.5")
        return super().value_and_grad(x)


class NaNAtStep10(Quadratic):
    """NaN once x_0 < 1.5: with Adam at lr 1 from (10, 10) that is the tenth step's point."""
    def value_and_grad(self, x):
        f, g = super().value_and_grad(x)
        return (float("nan"), g) if x[0] < 1.5 else (f, g)


class SleepsForever(Quadratic):
    def value_and_grad(self, x):
        time.sleep(10_000)


class IgnoresArgument(Quadratic):
    """The L-BFGS-B thread's closure: evaluates the captured start, not x."""
    def value_and_grad(self, x):
        return super().value_and_grad(np.array([10.0, 10.0]))
'''


def first_iteration_below(threshold, lr=1.0, b1=0.9, b2=0.999, eps=1e-8):
    """Plain Adam on 0.5|x|^2 from (10, 10): the iteration whose gradient sees x_0 < threshold."""
    x, m, v = 10.0, 0.0, 0.0
    for t in range(1, 1000):
        if x < threshold:
            return t
        g = x
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        x -= lr * (m / (1 - b1**t)) / ((v / (1 - b2**t)) ** 0.5 + eps)
    raise AssertionError("never")


def _write(tmp_path, text, name="sweep.yaml"):
    cfg = tmp_path / name
    cfg.write_text(textwrap.dedent(text))
    return cfg


def test_faulty_problems_become_rows_and_healthy_runs_complete(tmp_path):
    (tmp_path / "faulty.py").write_text(FAULTY)
    cfg = _write(tmp_path, """
        name: faulty
        problems:
          - faulty.py:Raises: {}
          - faulty.py:NaNAtStep10: {}
          - faulty.py:SleepsForever: {}
          - faulty.py:IgnoresArgument: {}
          - ackley: {dim: 2}
        optimizers:
          - adam: {lr: 1.0}
        seeds: 2
        budget: {evaluations: 300}
        timeout: 3
    """)
    out = tmp_path / "out"
    code = main(["run", str(cfg), "--out", str(out), "--workers", "2", "--quiet", "--no-check",
                 "--no-report"])
    assert code == 1  # runs raised, hung, ignored x, gave NaN: the user's code to look at
    df = pd.read_parquet(out / "summary.parquet")
    assert len(df) == 10
    by = {p: g for p, g in df.groupby("problem")}
    raises = by["faulty.py:Raises"]
    assert (raises.status == "error").all()
    assert raises.message.str.contains("RuntimeError: the model blew up below 7.5").all()
    nan = by["faulty.py:NaNAtStep10"]
    assert (nan.status == "nan").all()
    at = first_iteration_below(1.5)
    assert 8 <= at <= 14  # the faulty problem's name tells the truth
    assert nan.message.str.contains(f"value is nan at iteration {at}").all()
    hang = by["faulty.py:SleepsForever"]
    assert (hang.status == "timeout").all() and hang.message.str.contains("3 s").all()
    ignores = by["faulty.py:IgnoresArgument"]
    assert (ignores.status == "error").all()
    assert ignores.message.str.contains("ignore its argument").all()
    healthy = by["ackley"]
    assert healthy.status.isin(["budget", "converged", "target"]).all()
    assert (healthy.n_eval == 300).all()
    # the traces of failed runs keep what happened before the failure
    store = Store(out)
    for rid in raises.run_id:
        trace = store.load_trace(rid)
        assert len(trace) >= 3 and trace.f.iloc[0] == 100.0


SLOW = """
    name: slow
    problems:
      - ackley: {dim: 2}
    optimizers:
      - adam: {lr: [0.01, 0.1, 0.3, 1.0]}
    seeds: 6
    budget: {evaluations: 15000}
"""

COMPARED = ["run_id", "status", "n_iter", "n_eval", "n_fev", "n_gev", "f_final", "f_best",
            "dist_final", "grad_norm_final", "target_hit", "fev_to_target"]


def _numbers(root):
    df = pd.read_parquet(root / "summary.parquet").set_index("run_id", drop=False).sort_index()
    return df[COMPARED]


def test_rerun_without_resume_refuses_to_mix(tmp_path, capsys):
    cfg = _write(tmp_path, SLOW.replace("seeds: 6", "seeds: 1").replace("15000", "50"))
    out = tmp_path / "o"
    args = ["run", str(cfg), "--out", str(out), "--workers", "0", "--quiet", "--no-report"]
    assert main(args) == 0
    assert main(args) == 2
    assert "--resume" in capsys.readouterr().err
    assert main([*args, "--force"]) == 0
    assert len(list((out / "runs").glob("*.json"))) == 4


def test_workers_and_dask_give_bitwise_identical_numbers(tmp_path):
    distributed = pytest.importorskip("distributed")
    cfg = _write(tmp_path, SLOW.replace("seeds: 6", "seeds: 2").replace("15000", "400")
                 .replace("ackley: {dim: 2}", "ackley: {dim: 2}\n      - autoencoder: "
                          "{hidden: 4, samples: 100}"))
    base = ["run", str(cfg), "--quiet", "--no-report", "--no-check"]
    assert main([*base, "--out", str(tmp_path / "w1"), "--workers", "1"]) == 0
    assert main([*base, "--out", str(tmp_path / "w2"), "--workers", "2"]) == 0
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1",
                                  dashboard_address=None, processes=True) as cluster:
        assert main([*base, "--out", str(tmp_path / "dask"), "--scheduler",
                     cluster.scheduler_address]) == 0
    w1 = _numbers(tmp_path / "w1")
    assert len(w1) == 16
    for other in ("w2", "dask"):
        pd.testing.assert_frame_equal(w1, _numbers(tmp_path / other), check_exact=True)
        for rid in w1.run_id[:4]:
            t1 = Store(tmp_path / "w1").load_trace(rid).drop(columns="time_s")
            t2 = Store(tmp_path / other).load_trace(rid).drop(columns="time_s")
            pd.testing.assert_frame_equal(t1, t2, check_exact=True)


def test_stored_run_files_are_complete(tmp_path):
    cfg = _write(tmp_path, SLOW.replace("seeds: 6", "seeds: 1").replace("15000", "200"))
    out = tmp_path / "o"
    assert main(["run", str(cfg), "--out", str(out), "--workers", "0", "--quiet",
                 "--no-report"]) == 0
    env = json.loads((out / "environment.json").read_text())
    assert env["packages"]["numpy"] == np.__version__ and env["cpu_count"] >= 1
    from importlib.metadata import version  # each read as importlib's own reader reads it

    assert {"optbench", "pandas", "pyarrow", "pydantic"} <= set(env["packages"])
    assert env["packages"] == {name: version(name) for name in env["packages"]}
    assert (out / "config.yaml").read_text() == cfg.read_text()
    for doc_path in (out / "runs").glob("*.json"):
        doc = json.loads(doc_path.read_text())
        assert doc["summary"]["run_id"] == doc_path.stem
        assert Path(out / "runs" / f"{doc_path.stem}.parquet").exists()
    assert pd.read_parquet(out / "summary.parquet").shape[0] == 4
