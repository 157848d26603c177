"""`optbench run` against hangs in C, lost and missing Dask schedulers, and edited configs."""

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time

import pandas as pd
import pytest
from helpers import QUADRATIC_PLUGIN

from optbench.bench.cli.main import main
from optbench.bench.report.data import load_results

PLUGINS = QUADRATIC_PLUGIN + '''
import ctypes


class HangsInC(Quadratic):
    """libc's sleep: no Python signal handler or thread timeout gets it back."""
    def value_and_grad(self, x):
        ctypes.CDLL(None).sleep(10_000)


class RaisesAlways(Quadratic):
    def value_and_grad(self, x):
        raise RuntimeError("boom in the model")


class NoStart(Quadratic):
    def initial_point(self, rng):
        raise ValueError("no start point for you")
'''


def write(folder, config, plugins=True):
    folder.mkdir(parents=True, exist_ok=True)
    if plugins:
        (folder / "sweep_plugins.py").write_text(PLUGINS)
    path = folder / "sweep.yaml"
    path.write_text(textwrap.dedent(config))
    return path


def stored(out):
    return {p.stem: json.loads(p.read_text())["summary"] for p in (out / "runs").glob("*.json")}


ENTRY = """
    name: entry
    problems:
      - sweep_plugins.py:HangsInC: {}
      - sweep_plugins.py:RaisesAlways: {}
      - sweep_plugins.py:NoStart: {}
      - ackley: {dim: 2}
    optimizers:
      - adam: {lr: 0.1}
    seeds: 2
    budget: {evaluations: 50}
    timeout: 2
"""


def test_entry_check_is_bounded_by_the_timeout_and_names_what_raised(tmp_path, capsys):
    cfg = write(tmp_path, ENTRY)
    out = tmp_path / "out"
    t0 = time.monotonic()
    code = main(["run", str(cfg), "--out", str(out), "--workers", "0", "--quiet", "--no-report"])
    elapsed = time.monotonic() - t0
    err = capsys.readouterr().err
    assert code == 1 and elapsed < 30
    assert "gradient check failed for sweep_plugins.py:HangsInC" in err
    assert "did not finish within the timeout of 2 s" in err
    assert "RuntimeError: boom in the model" in err and "building it raised" not in err
    assert ("it built, but the gradient check at its first start point raised ValueError: "
            "no start point for you") in err
    runs = stored(out)
    assert len(runs) == 2 and {r["problem"] for r in runs.values()} == {"ackley"}


SWEEP = """
    name: edited
    problems:
      - ackley: {dim: 2}
    optimizers:
      - adam: {lr: [0.1, 0.01]}
    budget: {evaluations: 30}
"""


def test_resume_with_an_edited_config_shows_only_its_own_runs(tmp_path, capsys):
    cfg = write(tmp_path, SWEEP, plugins=False)
    out = tmp_path / "out"
    args = ["run", str(cfg), "--out", str(out), "--workers", "0", "--quiet", "--no-report",
            "--resume"]
    assert main(args) == 0
    first = set(stored(out))
    edited = SWEEP.replace("[0.1, 0.01]", "[0.1, 0.3]")
    cfg.write_text(textwrap.dedent(edited))
    capsys.readouterr()
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "holds 1 stored runs that are not in this sweep" in err and "--force" in err
    runs = stored(out)
    assert len(runs) == 3  # the old run stays on disk
    current = {rid for rid, r in runs.items() if r["optimizer_params"] != '{"lr":0.01}'}
    summary = pd.read_csv(out / "summary.csv", keep_default_na=False)
    assert set(summary.run_id) == current and len(current) == 2
    assert set(load_results(out).runs.run_id) == current  # what the report reads
    assert (out / "config.yaml").read_text() == textwrap.dedent(edited)
    assert (out / "config.previous.yaml").read_text() == textwrap.dedent(SWEEP)
    # back to the first config: nothing reruns, and its summary is whole again
    before = {p.name: p.stat().st_mtime_ns for p in (out / "runs").glob("*.json")}
    cfg.write_text(textwrap.dedent(SWEEP))
    assert main(args) == 0
    assert {p.name: p.stat().st_mtime_ns for p in (out / "runs").glob("*.json")} == before
    assert set(pd.read_csv(out / "summary.csv").run_id) == first


def test_moving_the_whole_folder_keeps_resume(tmp_path):
    plugin = "- ackley: {dim: 2}\n      - sweep_plugins.py:Quadratic: {}"
    cfg = write(tmp_path / "a", SWEEP.replace("- ackley: {dim: 2}", plugin))
    assert main(["run", str(cfg), "--out", str(tmp_path / "a" / "out"), "--workers", "0",
                 "--quiet", "--no-report"]) == 0
    shutil.move(tmp_path / "a", tmp_path / "b")
    out = tmp_path / "b" / "out"
    before = {p.name: p.stat().st_mtime_ns for p in (out / "runs").glob("*.json")}
    assert len(before) == 4
    assert main(["run", str(tmp_path / "b" / "sweep.yaml"), "--out", str(out), "--workers",
                 "0", "--quiet", "--no-report", "--resume"]) == 0
    assert {p.name: p.stat().st_mtime_ns for p in (out / "runs").glob("*.json")} == before


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_scheduler_writes_nothing(tmp_path, capsys):
    pytest.importorskip("distributed")
    cfg = write(tmp_path, SWEEP, plugins=False)
    out = tmp_path / "out"
    port = free_port()
    assert main(["run", str(cfg), "--out", str(out), "--scheduler",
                 f"tcp://127.0.0.1:{port}", "--quiet"]) == 2
    assert "cannot reach a Dask scheduler" in capsys.readouterr().err
    assert not out.exists()


DASK = """
    name: dask-timeout
    problems:
      - sweep_plugins.py:HangsInC: {}
      - ackley: {dim: 2}
    optimizers:
      - adam: {lr: 0.1}
    seeds: 2
    budget: {evaluations: 200}
    timeout: 3
"""


def test_dask_enforces_the_timeout_inside_c(tmp_path):
    distributed = pytest.importorskip("distributed")
    cfg = write(tmp_path, DASK)
    out = tmp_path / "out"
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, host="127.0.0.1",
                                  dashboard_address=None, processes=True) as cluster:
        t0 = time.monotonic()
        # runs that hung: the user's code to look at, exit code 1
        assert main(["run", str(cfg), "--out", str(out), "--scheduler",
                     cluster.scheduler_address, "--quiet", "--no-check", "--no-report"]) == 1
        assert time.monotonic() - t0 < 60
    runs = pd.DataFrame(stored(out).values())
    hang = runs[runs.problem == "sweep_plugins.py:HangsInC"]
    assert len(hang) == 2 and (hang.status == "timeout").all()
    assert hang.message.str.contains("hard limit of 3 s").all()
    healthy = runs[runs.problem == "ackley"]  # ran on the same worker after the kills
    assert len(healthy) == 2 and (healthy.n_eval == 200).all()


def _spawn(*args):
    return subprocess.Popen([sys.executable, "-m", *args], start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _wait_for_port(port, deadline):
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError("the scheduler did not start")


def test_a_lost_scheduler_stores_no_results_and_exits_2(tmp_path):
    pytest.importorskip("distributed")
    cfg = write(tmp_path, """
        name: lost
        problems:
          - ackley: {dim: 2}
        optimizers:
          - adam: {lr: 0.01}
        seeds: 16
        budget: {seconds: 0.4}
    """, plugins=False)
    out = tmp_path / "out"
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    scheduler = _spawn("distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port",
                       str(port), "--no-dashboard")
    worker = None
    try:
        _wait_for_port(port, time.monotonic() + 60)
        worker = _spawn("distributed.cli.dask_worker", address, "--nthreads", "1",
                        "--nworkers", "1", "--no-dashboard")
        run = subprocess.Popen([sys.executable, "-m", "optbench", "run", str(cfg), "--out",
                                str(out), "--scheduler", address, "--quiet", "--no-report"],
                               stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and len(list(out.glob("runs/*.json"))) < 2:
            time.sleep(0.05)
        os.killpg(scheduler.pid, signal.SIGKILL)
        _, err = run.communicate(timeout=120)
    finally:
        for proc in (scheduler, worker):
            if proc is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
    assert run.returncode == 2
    last = err.strip().splitlines()[-1]
    assert last.startswith(f"optbench: error: --scheduler {address}: ")
    assert "did not come back" in last and "--resume" in last
    runs = stored(out)
    assert 2 <= len(runs) < 16
    assert {r["status"] for r in runs.values()} == {"budget"}  # no cancelled runs stored


def test_a_time_budget_sets_the_hard_limit(tmp_path):
    """No timeout given: a run hanging in C under `seconds: 3` is killed within 10 s."""
    cfg = write(tmp_path, """
        name: hang
        problems:
          - sweep_plugins.py:HangsInC: {}
        optimizers:
          - adam: {lr: 0.1}
        budget: {seconds: 3}
    """)
    out = tmp_path / "out"
    t0 = time.monotonic()
    main(["run", str(cfg), "--out", str(out), "--workers", "1", "--quiet", "--no-report",
          "--no-check"])
    elapsed = time.monotonic() - t0
    (row,) = stored(out).values()
    assert row["status"] == "timeout" and "8 s" in row["message"], row
    assert elapsed < 10 + 5  # the 8 s limit, plus starting one worker process
