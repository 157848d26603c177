"""Kills that land on time, Ctrl-C, a killed CLI, and SIGKILL-then-resume (issue 17).

Real processes: the CLI in a session of its own, its workers found through /proc.
"""

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
from helpers import QUADRATIC_PLUGIN

from optbench.bench.cli.main import main
from optbench.bench.results.store import Store

ROOT = Path(__file__).resolve().parents[1]

PLUGIN = QUADRATIC_PLUGIN + '''
import os
import signal
import time
from pathlib import Path


def _mark(folder, kind=""):
    """A file per process saying when it got here (the run's own clock, as the test sees it)."""
    if folder:
        Path(folder, f"{kind}{os.getpid()}-{time.time_ns()}").write_text(repr(time.time()))


class InLapack(Quadratic):
    """With `hang`: ignores SIGTERM, then sits in one LAPACK call, the eigenvalues of a
    2000 x 2000 matrix (many seconds on one BLAS thread); marks when it is built (the run
    starts) and when it enters the call. Without: a plain quadratic (warms a worker up)."""

    def __init__(self, marks: str = "", hang: bool = True):
        super().__init__()
        self.marks, self.hang = marks, hang
        if hang:
            _mark(marks, "built-")

    def value_and_grad(self, x):
        if self.hang:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            a = np.ones((2000, 2000))
            a[np.diag_indices(2000)] += np.arange(2000.0)
            _mark(self.marks, "lapack-")
            np.linalg.eigvals(a)
        return super().value_and_grad(x)


class Sleeper(Quadratic):
    """0.5 |x|^2, each evaluation `delay` seconds long."""

    def __init__(self, delay: float = 0.05, marks: str = ""):
        super().__init__()
        self.delay, self.marks, self.marked = delay, marks, False

    def value_and_grad(self, x):
        if not self.marked:
            self.marked = True
            _mark(self.marks)
        time.sleep(self.delay)
        return super().value_and_grad(x)
'''


def _setup(tmp_path: Path, body: str) -> tuple[Path, Path]:
    (tmp_path / "plug.py").write_text(PLUGIN)
    marks = tmp_path / "marks"
    marks.mkdir()
    cfg = tmp_path / "sweep.yaml"
    cfg.write_text(textwrap.dedent(body).replace("MARKS", str(marks)))
    return cfg, marks


def _start(cfg: Path, out: Path, *extra, stderr=subprocess.PIPE) -> subprocess.Popen:
    """The CLI in a new session (sid = its pid), so its processes can be found and signalled
    as a terminal would signal its foreground group."""
    return subprocess.Popen(
        [sys.executable, "-m", "optbench", "run", str(cfg), "--out", str(out), "--quiet",
         "--no-report", "--no-check", *extra],
        cwd=ROOT, start_new_session=True, stderr=stderr, text=True)


def session(sid: int) -> set[int]:
    """Live processes (not zombies) of session ``sid``."""
    pids = set()
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == sid and fields[0] != "Z":
            pids.add(int(name))
    return pids


def _until(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.005)


def _stored(out: Path) -> list[Path]:
    return list((out / "runs").glob("*.json"))


def test_runs_stuck_in_lapack_are_killed_on_time(tmp_path):
    """Two workers stuck at once in one long LAPACK call, SIGTERM ignored, `timeout: 2`: both
    are stored `timeout` within 3.5 s of their start (pebble's SIGTERM, 3 s, SIGKILL, one
    worker after the other, stored them 5 s and more after)."""
    cfg, marks = _setup(tmp_path, """
        name: lapack
        problems:
          - plug.py:InLapack: {marks: MARKS, hang: [false, true]}
        optimizers:
          - adam: {lr: [0.1, 0.2]}
        budget: {evaluations: 10}
        timeout: 2
    """)
    out = tmp_path / "out"
    proc = _start(cfg, out, "--workers", "2")
    _, err = proc.communicate(timeout=300)
    assert proc.returncode in (0, 1), err
    docs = {json.loads(p.read_text())["summary"]["problem_label"]: p for p in _stored(out)}
    statuses = sorted(json.loads(p.read_text())["summary"]["status"] for p in _stored(out))
    assert statuses == ["budget", "budget", "timeout", "timeout"]

    def times(kind):  # the workers' marks (the CLI builds each problem once to validate it)
        return sorted(float(p.read_text()) for p in marks.glob(f"{kind}-*")
                      if not p.name.startswith(f"{kind}-{proc.pid}-"))

    built, entered = times("built"), times("lapack")
    assert len(built) == len(entered) == 2
    assert entered[1] < built[0] + 2  # both in the LAPACK call at once
    hung = [p for p in _stored(out) if json.loads(p.read_text())["summary"]["status"]
            == "timeout"]
    stored = sorted(p.stat().st_mtime for p in hung)
    late = [s - t for s, t in zip(stored, built, strict=True)]
    assert max(late) < 3.5, late
    assert len(docs) == 2
    _until(lambda: not session(proc.pid), 2, "processes left after the CLI exited")


SLEEPY = """
    name: sleepy
    problems:
      - plug.py:Sleeper: {delay: 0.02}
    optimizers:
      - adam: {lr: 0.1}
    seeds: 40
    budget: {evaluations: 20}
"""


def test_ctrl_c_stops_at_once_and_keeps_what_finished(tmp_path):
    cfg, _ = _setup(tmp_path, SLEEPY)
    out = tmp_path / "out"
    proc = _start(cfg, out, "--workers", "2")
    _until(lambda: len(_stored(out)) >= 3, 120, "no run finished")
    before = session(proc.pid)
    assert len(before) >= 3  # the CLI and its two workers
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal sends its foreground group
    t0 = time.monotonic()
    while proc.poll() is None:
        assert not session(proc.pid) - before, "a process was started after Ctrl-C"
        assert time.monotonic() - t0 < 3, "Ctrl-C took more than 3 s"
        time.sleep(0.005)
    err = proc.stderr.read()
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1] == "optbench: interrupted"
    _until(lambda: not session(proc.pid), 2, "processes left after the CLI exited")
    stored = {p.stem for p in _stored(out)}
    assert 3 <= len(stored) < 40
    summary = pd.read_csv(out / "summary.csv")
    assert set(summary.run_id) == stored  # the summary of what finished
    assert set(Store(out).scan().sound) == stored and not list(out.rglob("*.tmp"))
    note = next(line for line in err.splitlines() if "optbench: interrupted:" in line)
    assert "runs finished and are stored" in note and "--resume" in note


LONG = """
    name: long
    problems:
      - plug.py:Sleeper: {delay: 60, marks: MARKS}
    optimizers:
      - adam: {lr: 0.1}
    seeds: 4
    budget: {evaluations: 10}
"""


def _two_long_runs_started(tmp_path: Path, out: Path, **kw) -> subprocess.Popen:
    """The CLI with two workers, each in a 60 s run (of 4) once this returns."""
    cfg, marks = _setup(tmp_path, LONG)
    proc = _start(cfg, out, "--workers", "2", **kw)
    _until(lambda: len(list(marks.iterdir())) == 2, 120, "the runs did not start")
    return proc


def test_ctrl_c_before_any_run_finished_says_none_is_stored(tmp_path):
    out = tmp_path / "out"
    proc = _two_long_runs_started(tmp_path, out)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=3)
    assert proc.returncode == 130, err
    assert "optbench: interrupted before any of the 4 runs finished: none stored; --resume " \
           "runs them all" in err
    assert not _stored(out)


def test_a_second_ctrl_c_exits_at_once_without_a_traceback(tmp_path):
    cfg, _ = _setup(tmp_path, SLEEPY)
    out = tmp_path / "out"
    proc = _start(cfg, out, "--workers", "2")
    _until(lambda: len(_stored(out)) >= 1, 120, "no run finished")
    os.killpg(proc.pid, signal.SIGINT)
    time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=3)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    _until(lambda: not session(proc.pid), 2, "processes left after the CLI exited")
    assert not Store(out).scan().damaged


def test_workers_die_with_the_cli(tmp_path):
    """SIGKILL of the CLI during long runs: no process of it is left 2 s later."""
    proc = _two_long_runs_started(tmp_path, tmp_path / "out", stderr=subprocess.DEVNULL)
    assert len(session(proc.pid)) >= 3
    proc.kill()
    proc.wait()
    t0 = time.monotonic()
    _until(lambda: not session(proc.pid), 2, "workers outlived the CLI")
    assert time.monotonic() - t0 < 2


COMPARED = ["status", "message", "n_iter", "n_eval", "n_fev", "n_gev", "f_final", "f_best",
            "dist_final", "grad_norm_final", "target_hit", "fev_to_target"]


def test_twenty_sigkills_then_resume_lose_nothing_and_redo_nothing(tmp_path):
    """SIGKILL at 20 random moments (starting up, spawning workers, running, writing), then
    --resume: every run stored before a kill is never rewritten, none is lost, and the numbers
    are bitwise those of an uninterrupted sweep."""
    cfg, _ = _setup(tmp_path, """
        name: kills
        problems:
          - ackley: {dim: 2}
        optimizers:
          - adam: {lr: [0.01, 0.03, 0.1, 0.3, 1.0]}
        seeds: 20
        budget: {evaluations: 2000}
    """)
    clean, killed = tmp_path / "clean", tmp_path / "killed"
    assert main(["run", str(cfg), "--out", str(clean), "--workers", "0", "--quiet",
                 "--no-report"]) == 0
    rng = random.Random(17)
    seen: dict[str, tuple[int, int]] = {}  # stored run -> (inode, mtime_ns), never to change
    for attempt in range(20):  # in this process, or in two workers, in turn
        proc = _start(cfg, killed, "--workers", str(2 * (attempt % 2)), "--resume",
                      stderr=subprocess.DEVNULL)
        more = rng.randint(0, 2)
        if more == 0:
            time.sleep(rng.uniform(0.05, 0.4))  # starting up, importing, spawning workers
        else:
            want = len(_stored(killed)) + more
            _until(lambda want=want, proc=proc: len(_stored(killed)) >= want
                   or proc.poll() is not None, 120, "no progress")
            time.sleep(rng.uniform(0, 0.05))  # running, or writing the next run
        proc.kill()
        proc.wait()
        now = {p.stem: (p.stat().st_ino, p.stat().st_mtime_ns) for p in _stored(killed)}
        assert {k: now.get(k) for k in seen} == seen, "a stored run was lost or rewritten"
        seen = now
    assert 0 < len(seen) < 100, "the kills should land mid-sweep"
    done = subprocess.run([sys.executable, "-m", "optbench", "run", str(cfg), "--out",
                           str(killed), "--workers", "2", "--resume", "--quiet", "--no-report",
                           "--no-check"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    final = {p.stem: (p.stat().st_ino, p.stat().st_mtime_ns) for p in _stored(killed)}
    assert {k: final[k] for k in seen} == seen, "a run stored before the kills was redone"
    assert len(final) == 100 and not list(killed.rglob("*.tmp"))
    for why in (killed / "quarantine").glob("*/why.json"):  # at most traces without summary
        assert all(v.startswith("half-written") for v in json.loads(why.read_text()).values())
    a, b = (pd.read_parquet(r / "summary.parquet").set_index("run_id").sort_index()
            for r in (killed, clean))
    pd.testing.assert_frame_equal(a[COMPARED], b[COMPARED], check_exact=True)
    for rid in a.index:
        ta, tb = (pq.read_table(r / "runs" / f"{rid}.parquet").to_pandas().drop(columns="time_s")
                  for r in (killed, clean))
        pd.testing.assert_frame_equal(ta, tb, check_exact=True)
