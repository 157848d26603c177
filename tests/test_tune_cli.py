"""`optbench tune` as a user sees it: the terminal table (each optimizer's best configuration,
its held-out results beside its defaults') checked against the stored runs and the SQLite store
read directly, and the exit codes of `run` (1 when a gradient check leaves a problem out)."""

import json
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import textwrap
import time

import yaml

from optbench.bench.cli.main import main
from optbench.bench.formatting import number

CONFIG = {
    "name": "cli",
    "problems": [{"ackley": {"dim": 2, "x0": [0.3, -0.2]}}],
    "optimizers": [{"nag": {"lr": {"loguniform": [1.0e-3, 0.3]},
                            "momentum": {"uniform": [0.0, 0.9]}}},
                   {"lbfgsb": {"maxcor": {"int": [3, 10]}}}],
    "budget": {"evaluations": 400},
    "targets": {"value": 1.0e-3},
    "tune": {"trials": 4, "seeds": 1, "held_out": 2, "objective": "best_f"},
}


def _best_trials(db) -> dict[str, dict]:
    """Each study's complete trial of lowest value (first of equals), read with sqlite3."""
    con = sqlite3.connect(db)
    try:
        rows = con.execute(
            "SELECT s.study_name, t.number, v.value, a.value_json FROM trials t "
            "JOIN studies s ON s.study_id = t.study_id "
            "JOIN trial_values v ON v.trial_id = t.trial_id "
            "JOIN trial_user_attributes a ON a.trial_id = t.trial_id "
            "WHERE t.state = 'COMPLETE' AND a.key = 'optimizer_params'").fetchall()
    finally:
        con.close()
    best: dict[str, dict] = {}
    for study, _, _, params in sorted(rows, key=lambda r: (r[0], r[2], r[1])):
        best.setdefault(study.split(" · ")[1], {"params": json.loads(json.loads(params))})
    return best


def test_the_table_shows_each_best_configuration_and_its_defaults_side_by_side(tmp_path,
                                                                                capsys):
    cfg = tmp_path / "cli.yaml"
    cfg.write_text(yaml.safe_dump(CONFIG, sort_keys=False))
    out = tmp_path / "r"
    code = main(["tune", str(cfg), "--workers", "0", "--no-report", "--out", str(out)])
    table = capsys.readouterr().out.splitlines()
    assert code == 0
    assert table[1].split() == ["score", "reached", "evals", "to", "target", "best", "f"]
    assert table[2].split() == ["optimizer", "trials", *["tuned", "defaults"] * 4, "best",
                                "configuration"]
    best = _best_trials(out / "studies.sqlite3")
    runs = [json.loads(p.read_text()) for p in (out / "runs").glob("*.json")]
    for optimizer in ("nag", "lbfgsb"):
        (row,) = [line.split() for line in table if line.startswith(optimizer + " ")]
        sides = []
        for params in (best[optimizer]["params"], {}):  # the tuned configuration, the defaults
            held = [r["summary"] for r in runs if r["spec"]["optimizer"] == optimizer
                    and r["spec"]["seed"] in (1, 2)
                    and json.loads(r["spec"]["optimizer_params"]) == params]
            assert len(held) == 2
            hits = [h["fev_to_target"] for h in held if h["status"] == "target"]
            sides.append((number(statistics.fmean(h["f_best"] for h in held)),
                          f"{len(hits)}/2", number(statistics.median(hits) if hits else None),
                          number(statistics.median(h["f_best"] for h in held))))
        assert row[:2] == [optimizer, "4"]
        assert row[2:10] == [cell for pair in zip(*sides, strict=True) for cell in pair]
        shown = ", ".join(f"{k}={v}" for k, v in sorted(best[optimizer]["params"].items()))
        assert " ".join(row[10:]) == f"{optimizer}({shown})"
    k = table.index("4 trials per optimizer (equal budgets); tpe sampler, seed 0; held-out "
                    "seeds 1, 2")
    assert table[k + 1].startswith("score: the best f, mean over the held-out seeds (lower")


WRONG = textwrap.dedent('''
    import numpy as np
    from optbench.problems import Problem


    class Sphere(Problem):
        name = "sphere"

        def __init__(self, dim=2):
            self.dim = dim
            self.f_opt, self.x_opt = 0.0, np.zeros(dim)

        def value(self, x):
            return 0.5 * float(x @ x)

        def grad(self, x):
            return x.copy()

        def initial_point(self, rng):
            return np.ones(self.dim)


    class WrongGrad(Sphere):
        def grad(self, x):
            return 2.0 * x
''')


def test_a_problem_whose_gradient_check_fails_is_not_tuned_and_exits_1(tmp_path, capsys):
    (tmp_path / "mine.py").write_text(WRONG)
    cfg = tmp_path / "t.yaml"
    cfg.write_text(yaml.safe_dump({
        "name": "t", "problems": [{"mine.py:WrongGrad": {}}, {"mine.py:Sphere": {}}],
        "optimizers": [{"adam": {"lr": {"loguniform": [1.0e-2, 1.0]}}}],
        "budget": {"evaluations": 60}, "targets": {"value": 1.0e-3},
        "tune": {"trials": 2, "held_out": 1}}, sort_keys=False))
    code = main(["tune", str(cfg), "--workers", "0", "--no-report", "--out",
                 str(tmp_path / "r")])
    captured = capsys.readouterr()
    assert code == 1
    assert "optbench: not tuned, its gradient check failed: mine.py:WrongGrad" in captured.err
    doc = json.loads((tmp_path / "r" / "tune.json").read_text())
    assert [s["problem_label"] for s in doc["studies"]] == ["mine.py:Sphere"]
    assert doc["studies"][0]["trials"] == 2


HANG = textwrap.dedent('''
    import os
    import pathlib
    import time

    import numpy as np
    from optbench.problems import Problem


    class Hang(Problem):
        """Hangs in its first value (a mark file says which process and when)."""

        name = "hang"

        def __init__(self, marks=""):
            self.dim, self.marks = 2, marks

        def value(self, x):
            pathlib.Path(self.marks, f"in-{os.getpid()}").write_text(repr(time.time()))
            time.sleep(120)
            return 0.0

        def initial_point(self, rng):
            return np.ones(2)
''')


def test_trials_on_workers_are_killed_at_their_hard_limit_and_die_with_the_command(tmp_path):
    """`--workers 2`: two trials hang at once; each run is killed at `timeout: 2` and stored as
    `timeout` (its trial told); a SIGKILLed `optbench tune` leaves no worker behind."""
    from test_shutdown import session

    (tmp_path / "hang.py").write_text(HANG)
    marks = tmp_path / "marks"
    marks.mkdir()

    def start(timeout: float, out: str) -> subprocess.Popen:
        cfg = tmp_path / f"{out}.yaml"
        cfg.write_text(yaml.safe_dump({
            "name": "hang", "problems": [{"hang.py:Hang": {"marks": str(marks)}}],
            "optimizers": [{"adam": {"lr": {"loguniform": [1.0e-2, 1.0]}}}],
            "budget": {"evaluations": 50}, "targets": {"value": 1.0e-3}, "timeout": timeout,
            "tune": {"trials": 2, "held_out": 1}}, sort_keys=False))
        return subprocess.Popen(
            [sys.executable, "-m", "optbench", "tune", str(cfg), "--out", str(tmp_path / out),
             "--workers", "2", "--quiet", "--no-report", "--no-check"],
            cwd=tmp_path, start_new_session=True, stderr=subprocess.PIPE, text=True)

    proc = start(2, "limit")
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    runs = [json.loads(p.read_text()) for p in (tmp_path / "limit" / "runs").glob("*.json")]
    assert len(runs) == 4  # two trials, then the best configuration and the defaults
    assert [doc["summary"]["status"] for doc in runs] == ["timeout"] * 4
    assert len(list(marks.iterdir())) >= 2  # they hung in worker processes, not here
    assert not session(proc.pid)

    for p in marks.iterdir():
        p.unlink()
    proc = start(600, "killed")
    deadline = time.monotonic() + 120
    while len(list(marks.iterdir())) < 2:  # both trials hang in their workers
        assert time.monotonic() < deadline and proc.poll() is None, proc.stderr.read()
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 5
    while session(proc.pid):
        assert time.monotonic() < deadline, f"left behind: {session(proc.pid)}"
        time.sleep(0.01)
