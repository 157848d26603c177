"""What a results folder promises (issue 17): one writer, verified runs, a report that runs no
code, no writes through links, bounded inputs. Real processes, real files."""

import hashlib
import html
import json
import os
import re
import resource
import shutil
import signal
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from helpers import QUADRATIC_PLUGIN

import optbench
from optbench.bench.cli.main import main
from optbench.bench.report.data import load_results
from optbench.bench.results.files import atomic_write
from optbench.bench.results.lock import NAME as LOCK
from optbench.bench.results.lock import FolderLock, FolderLocked, holder
from optbench.bench.results.store import Store
from optbench.bench.run.landscape import map_missing

ROOT = Path(__file__).resolve().parents[1]

SLEEPER = QUADRATIC_PLUGIN + '''
import time


class Sleeper(Quadratic):
    """0.5 |x|^2, each evaluation `delay` seconds long."""
    def __init__(self, delay: float = 0.05):
        super().__init__()
        self.delay = delay

    def value_and_grad(self, x):
        time.sleep(self.delay)
        return super().value_and_grad(x)
'''

SMALL = """
    name: small
    problems:
      - ackley: {dim: 2}
    optimizers:
      - adam: {lr: [0.01, 0.1, 0.3]}
      - nag: {lr: 0.01, momentum: 0.9}
    seeds: 2
    budget: {evaluations: 300}
"""


def _write(folder: Path, text: str, name: str = "sweep.yaml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(textwrap.dedent(text))
    return path


def _cli(*args, cwd=ROOT, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "optbench", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, timeout=300, **kw)


def _run(cfg: Path, out: Path, *extra) -> int:
    return main(["run", str(cfg), "--out", str(out), "--workers", "0", "--quiet", "--no-report",
                 *extra])


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and not p.is_symlink()}


# 1. One writer per results folder


def test_a_second_writer_is_refused_naming_the_first(tmp_path, capsys):
    (tmp_path / "slow.py").write_text(SLEEPER)
    cfg = _write(tmp_path, """
        name: locked
        problems:
          - slow.py:Sleeper: {delay: 0.05}
        optimizers:
          - adam: {lr: 0.1}
        seeds: 100
        budget: {evaluations: 12}
    """)
    out = tmp_path / "out"
    first = subprocess.Popen([sys.executable, "-m", "optbench", "run", str(cfg), "--out", str(out),
                              "--workers", "1", "--quiet", "--no-report", "--no-check"],
                             cwd=ROOT, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not list(out.glob("runs/*.json")):
            time.sleep(0.02)
        assert holder(out) is not None and holder(out).startswith(f"pid {first.pid}: ")
        seconds = [subprocess.Popen(
            [sys.executable, "-m", "optbench", "run", str(cfg), "--out", str(out), "--workers",
             "0", "--quiet", "--no-report", "--no-check", *flags], cwd=ROOT,
            stderr=subprocess.PIPE, text=True) for flags in ([], ["--resume"], ["--force"])]
        # a reader sees the runs finished so far, all verified, and is told the rest is coming
        capsys.readouterr()
        results = load_results(out)
        assert 1 <= len(results.runs) < 100 and not results.damaged
        assert f"being written now (pid {first.pid}: " in capsys.readouterr().err
        assert main(["report", str(out)]) == 0  # and so does its report page
        page = html.unescape((out / "report.html").read_text())
        assert f"In progress: a sweep (pid {first.pid}: optbench run {cfg} " in page
        assert re.search(r"it shows the \d+ runs of the sweep's 100 finished by then", page)
        for second in seconds:
            _, err = second.communicate(timeout=120)
            assert second.returncode == 2, err
            line, = err.strip().splitlines()
            assert line.startswith(f"optbench: error: {out} is being written by pid "
                                   f"{first.pid}: ")
            assert "optbench run" in line and str(cfg) in line
        assert first.poll() is None, "the first sweep should still be running"
    finally:
        first.send_signal(signal.SIGINT)
        first.wait(timeout=120)
    assert first.returncode == 130, first.stderr.read()
    # every run once, written by the first process alone: nothing half-written, no temp file
    names = sorted(p.name for p in (out / "runs").iterdir())
    jsons = [n for n in names if n.endswith(".json")]
    assert names == sorted(jsons + [n.replace(".json", ".parquet") for n in jsons])
    scan = Store(out).scan()
    assert not scan.damaged and len(pd.read_csv(out / "summary.csv")) == len(jsons) >= 1
    assert holder(out) is None  # released at exit


def test_the_lock_is_one_per_folder_and_released(tmp_path):
    with FolderLock(tmp_path / "a") as lock:
        assert lock.held and (tmp_path / "a" / LOCK).read_text().startswith(f"pid {os.getpid()}")
        with pytest.raises(FolderLocked, match=f"pid {os.getpid()}"):
            FolderLock(tmp_path / "a").acquire()  # a second open file: refused, same process
        with FolderLock(tmp_path / "b"):
            pass  # another folder is another lock
    with FolderLock(tmp_path / "a"):
        pass  # released on exit
    assert (tmp_path / "a" / LOCK).read_text() == ""  # no holder named once free


# 2. Every stored run verified before it is trusted


def _damage(runs: Path, ids: list[str]) -> dict[str, str]:
    """Six ways a run can be damaged, one per run; returns the reason each must be given."""
    a, b, c, d, e, f = ids[:6]
    data = (runs / f"{a}.parquet").read_bytes()
    (runs / f"{a}.parquet").write_bytes(data[: len(data) // 2])  # cut in half
    (runs / f"{b}.json").write_bytes(b"\x89garbage\xff")  # not UTF-8, not JSON
    (runs / f"{c}.json").write_text("")  # empty
    (runs / f"{d}.parquet").unlink()  # deleted trace
    shutil.copyfile(runs / f"{f}.parquet", runs / f"{e}.parquet")  # another run's trace
    doc = json.loads((runs / f"{f}.json").read_text())
    del doc["summary"]
    (runs / f"{f}.json").write_text(json.dumps(doc))  # valid JSON, no summary
    (runs / ".0123456789abcdef.json.k2j4h5.tmp").write_text("{")  # a killed writer's temp
    return {a: "trace damaged", b: "summary unreadable", c: "summary unreadable",
            d: "trace missing", e: "trace damaged", f: "summary incomplete"}


def test_damaged_runs_are_listed_by_report_and_redone_by_resume(tmp_path):
    cfg = _write(tmp_path, SMALL)
    out = tmp_path / "out"
    assert _run(cfg, out) == 0
    assert map_missing(out, quiet=True)  # what the first report does after --no-report
    before = pd.read_parquet(out / "summary.parquet").set_index("run_id").sort_index()
    traces = {rid: pq.read_table(out / "runs" / f"{rid}.parquet").to_pandas()
              for rid in before.index}
    ids = sorted(before.index)
    want = _damage(out / "runs", ids)
    garbage = b"\x89\xff not text {"  # and the folder's own files, not UTF-8, not JSON, not npz
    for path in (out / "config.yaml", out / "sweep_runs.json", out / "left_out.json",
                 *(out / "landscapes").iterdir()):
        path.write_bytes(garbage)

    done = _cli("report", out)  # draws what is sound, names what is not, no traceback
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    note = next(line for line in done.stderr.splitlines() if "damaged and left out" in line)
    assert note.startswith(f"optbench: note: 6 of the {len(ids)} stored runs of {out} are ")
    assert all(rid in note for rid in want)
    assert "trace damaged: its checksum differs from the summary's (2 runs: " in note
    # the page itself lists every damaged run and why, apart from what it draws
    page = html.unescape((out / "report.html").read_text())
    assert "6 stored runs are damaged and left out of every table and figure" in page
    damaged = page[page.index("<h2>Damaged runs (6)</h2>"):]
    items = re.findall(r"<li>([0-9a-f]{16}): ([^<]*)</li>", damaged[:damaged.index("<h2>", 1)])
    assert {rid: why.split(":")[0] for rid, why in items} == want
    assert all(rid not in page[:page.index("<h2>Damaged runs")] for rid in want)
    table = pd.read_csv(out / "tables" / "per_config.csv")
    assert table["runs"].sum() == len(ids) - len(want)
    assert len(load_results(out, quiet=True).runs) == len(ids) - len(want)

    done = _cli("run", cfg, "--out", out, "--workers", "0", "--quiet", "--no-report",
                "--resume")
    assert done.returncode == 0, done.stderr
    line, = [x for x in done.stderr.splitlines() if "damaged" in x]
    assert line.startswith("optbench: note: 6 stored runs were damaged or half-written (")
    assert "2 trace damaged" in line and "2 summary unreadable" in line
    (moved,) = (out / "quarantine").iterdir()
    assert json.loads((moved / "why.json").read_text()).keys() == want.keys()
    kept = {p.name for p in moved.iterdir()}
    assert {f"{ids[0]}.parquet", f"{ids[1]}.json", f"{ids[3]}.json"} <= kept  # moved, not lost
    assert not list((out / "runs").glob(".*.tmp"))
    assert (out / "config.previous.yaml").read_bytes() == garbage  # kept as it was
    assert (out / "config.yaml").read_text() == cfg.read_text()
    # all runs stored again, sound, with the numbers of the first sweep, bitwise
    scan = Store(out).scan()
    assert not scan.damaged and sorted(scan.sound) == ids
    after = pd.read_parquet(out / "summary.parquet").set_index("run_id").sort_index()
    pd.testing.assert_frame_equal(after.drop(columns="wall_time_s"),
                                  before.drop(columns="wall_time_s"))
    for rid, trace in traces.items():
        again = pq.read_table(out / "runs" / f"{rid}.parquet").to_pandas()
        pd.testing.assert_frame_equal(again.drop(columns="time_s"), trace.drop(columns="time_s"))


def test_a_folder_with_nothing_sound_is_one_line_not_an_empty_report(tmp_path, capsys):
    cfg = _write(tmp_path, SMALL)
    out = tmp_path / "out"
    assert _run(cfg, out) == 0
    manifest = (out / "sweep_runs.json").read_text()
    ids = json.loads(manifest)
    # the sweep's runs not stored (yet): interrupted before the first of an edited config
    (out / "sweep_runs.json").write_text(json.dumps(["0" * 16]))
    capsys.readouterr()
    assert main(["report", str(out)]) == 2
    out_, err = capsys.readouterr()
    assert out_ == "" and err == f"report: {out} holds no finished runs; no report written\n"
    # every stored run damaged: one line, exit 2, in the CLI; the same line raised in Python
    (out / "sweep_runs.json").write_text(manifest)
    for rid in ids[:-1]:
        (out / "runs" / f"{rid}.json").write_text("")
    (out / "runs" / f"{ids[-1]}.parquet").unlink()
    assert main(["report", str(out)]) == 2
    out_, err = capsys.readouterr()
    line, = err.splitlines()
    assert out_ == "" and line == (
        f"optbench: error: {out}: all 8 of its stored runs are damaged, so there is nothing to "
        f"show: summary unreadable: not the JSON optbench writes (7 runs: {ids[0]}, {ids[1]}, "
        f"{ids[2]} and 4 more); trace missing ({ids[-1]}); `optbench run CONFIG --out {out} "
        "--resume` moves them to quarantine/ and runs them again")
    assert not (out / "report.html").exists()
    with pytest.raises(optbench.ResultsError) as e:
        len(optbench.load(out).summary)
    assert f"optbench: error: {e.value}" == line
    assert capsys.readouterr().err == ""


def test_a_summary_records_its_trace_checksum_and_rows(tmp_path):
    cfg = _write(tmp_path, SMALL)
    out = tmp_path / "out"
    assert _run(cfg, out) == 0
    for path in (out / "runs").glob("*.json"):
        doc = json.loads(path.read_text())
        trace = path.with_suffix(".parquet").read_bytes()
        assert doc["trace"]["sha256"] == hashlib.sha256(trace).hexdigest()
        assert doc["trace"]["rows"] == pq.read_table(path.with_suffix(".parquet")).num_rows > 0


# 3. A report that runs no code


PAYLOAD = QUADRATIC_PLUGIN + '''
from pathlib import Path

Path(__file__).with_name("EXECUTED").write_text("payload.py ran")


class P(Quadratic):
    name = "p"
'''


def test_nothing_that_reads_a_folder_executes_the_code_it_names(tmp_path):
    """A folder received from someone else: its runs name payload.py:P, its base_dir is the
    folder itself, payload.py sits inside. Reading it executes nothing."""
    folder = tmp_path / "received"
    (folder).mkdir()
    (folder / "payload.py").write_text(PAYLOAD)
    cfg = _write(folder, """
        name: received
        problems:
          - payload.py:P: {}
        optimizers:
          - adam: {lr: [0.1, 0.5]}
        seeds: 2
        budget: {evaluations: 40}
    """, name="config.src.yaml")
    assert _run(cfg, folder) == 0  # the sweep that made it did run the plugin, of course
    marker = folder / "EXECUTED"
    assert marker.is_file()
    marker.unlink()
    docs = [json.loads(p.read_text()) for p in (folder / "runs").glob("*.json")]
    assert {d["spec"]["problem"] for d in docs} == {"payload.py:P"}
    assert {d["spec"]["base_dir"] for d in docs} == {str(folder.resolve())}

    done = _cli("report", folder)
    assert done.returncode == 0, done.stderr
    assert (folder / "report.html").stat().st_size > 1000
    script = textwrap.dedent(f"""
        import sys
        import optbench
        r = optbench.load({str(folder)!r})
        assert len(r.summary) == 4, r.summary
        assert len(r.traces()) > 4 and len(r.table()) == 2 and len(r.failed) == 0
        repr(r)
        from optbench.bench.cli.main import main
        assert main(["export", "--coco", "coco", {str(folder)!r}]) == 2  # no bbob run in it
        print(sorted(m for m in sys.modules if "payload" in m))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
    assert "holds no finished bbob runs" in done.stderr
    assert not marker.exists()


def test_no_stored_file_holds_a_pickle(tmp_path):
    """An in-memory problem travels to the workers pickled (cloudpickle); none of it is
    stored: the folder holds JSON, parquet and npz of numbers and text."""
    from optbench.bench.sweep.config import sweep_from_mapping

    offset = np.array([1.25, -0.5])

    def bowl(x):
        return float(np.sum((np.asarray(x) - offset) ** 2))

    config = {"name": "inmem", "problems": [optbench.problem(bowl, x0=[3.0, 2.0],
                                                             name="bowl")],
              "optimizers": ["nelder-mead", "adam"], "budget": {"evaluations": 60}}
    (payload,) = {s.payload for s in sweep_from_mapping(config).specs}
    assert payload and b"cloudpickle" in payload
    out = tmp_path / "out"
    results = optbench.sweep(config, out=out, workers=0, progress=False, report=True)
    assert len(results.summary) == 2
    files = [p for p in out.rglob("*") if p.is_file()]
    assert {p.suffix for p in files} >= {".json", ".parquet", ".npz", ".html", ".csv"}
    chunk = payload[len(payload) // 2:][:48]
    for path in files:
        data = path.read_bytes()
        assert chunk not in data and b"cloudpickle" not in data, path
        assert not data.startswith(b"\x80"), path  # no pickle stream of any protocol >= 2
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as npz:
                assert all(npz[k].dtype != object for k in npz.files)
        if path.suffix == ".parquet":
            pq.read_table(path)
        if path.suffix == ".json":
            json.loads(data)


# 4. No writes through links, the user's permissions


def test_force_never_deletes_through_a_symlinked_runs_folder(tmp_path):
    cfg = _write(tmp_path, SMALL)
    elsewhere = tmp_path / "precious"
    assert _run(cfg, elsewhere) == 0
    keep = _files(elsewhere)
    out = tmp_path / "out"
    out.mkdir()
    (out / "runs").symlink_to(elsewhere / "runs", target_is_directory=True)
    done = _cli("run", cfg, "--out", out, "--workers", "0", "--quiet", "--force", "--no-check")
    assert done.returncode == 2
    line, = done.stderr.strip().splitlines()
    assert "is a symbolic link" in line and "deletes nothing through a link" in line
    assert _files(elsewhere) == keep
    # a link to a file inside runs/ is removed as a link: its target stays
    (out / "runs").unlink()
    assert _run(cfg, out) == 0
    victim = tmp_path / "victim.json"
    victim.write_text("{}")
    link = out / "runs" / "0123456789abcdef.json"
    link.symlink_to(victim)
    assert _run(cfg, out, "--force") == 0
    assert victim.read_text() == "{}" and not link.is_symlink()
    assert _files(elsewhere) == keep


def test_report_files_replace_links_instead_of_writing_through_them(tmp_path):
    """Links named like report files are replaced, never written through; on a full disk the
    report is one line and leaves no link replaced and no file half-written."""
    cfg = _write(tmp_path, SMALL)
    out = tmp_path / "out"
    assert _run(cfg, out) == 0
    outside = {name: tmp_path / f"outside-{name}" for name in ("html", "tex", "md")}
    for target in outside.values():
        target.write_text("not yours")
    (out / "tables").mkdir()
    (out / "report.html").symlink_to(outside["html"])
    (out / "report.md").symlink_to(outside["md"])
    (out / "tables" / "per_config.tex").symlink_to(outside["tex"])

    def small_files():  # the kernel refuses a write past 4 kB, as a full disk does
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))

    full = subprocess.run([sys.executable, "-m", "optbench", "report", str(out)],
                          capture_output=True, text=True, cwd=ROOT, timeout=300,
                          preexec_fn=small_files)
    assert full.returncode == 2, full.stderr
    line, = full.stderr.strip().splitlines()  # one line, no traceback, nothing left half-done
    assert line.startswith(f"optbench: error: cannot write {out}/")
    assert line.endswith(": File too large")
    assert (out / "report.html").is_symlink() and not list(out.rglob("*.tmp"))
    assert not [p for p in out.rglob("*") if p.is_file() and p.stat().st_size == 0
                and p.name != LOCK]
    old = os.umask(0o022)
    try:
        assert main(["report", str(out)]) == 0
    finally:
        os.umask(old)
    assert all(t.read_text() == "not yours" for t in outside.values())
    for path in (out / "report.html", out / "report.md", out / "tables" / "per_config.tex"):
        assert path.is_file() and not path.is_symlink()
    assert "<html" in (out / "report.html").read_text()
    for path in (out / "report.html", out / "tables" / "per_config.csv",
                 next((out / "figures").iterdir())):
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, path


def test_results_get_the_users_permissions(tmp_path):
    cfg = _write(tmp_path, SMALL)
    out = tmp_path / "out"
    old = os.umask(0o027)
    try:
        assert _run(cfg, out) == 0
        atomic_write(tmp_path / "plain.txt", "x")
    finally:
        os.umask(old)
    modes = {stat.S_IMODE(p.stat().st_mode) for p in out.rglob("*") if p.is_file()}
    assert modes == {0o640}  # mkstemp alone would give 0o600
    assert stat.S_IMODE((tmp_path / "plain.txt").stat().st_mode) == 0o640
    assert stat.S_IMODE((out / "runs").stat().st_mode) == 0o750


# 5. Bounded inputs


def _alias_bomb() -> str:
    lines = ["name: bomb", "a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, 10):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    lines += ["problems: [*a9]", "optimizers: [{adam: {}}]", "budget: {evaluations: 10}"]
    return "\n".join(lines) + "\n"


# Time and peak memory of this process alone (the peak inherited from pytest across fork and
# exec is reset first: /proc/self/clear_refs, "5").
REFUSE = """
import sys, time
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")
from optbench.bench.sweep.config import load_sweep
from optbench.errors import ConfigError
t = time.perf_counter()
try:
    load_sweep(sys.argv[1])
except ConfigError as e:
    seconds = time.perf_counter() - t
    with open("/proc/self/status") as f:
        peak = next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
    print(seconds, peak)
    print(e)
"""


@pytest.mark.parametrize("case", ["bomb", "seeds", "seeds12", "grid"])
def test_oversized_configs_are_refused_at_once(tmp_path, case):
    lr, beta1, beta2, eps = (", ".join(f"{v * (k + 1):g}" for k in range(25))
                             for v in (1e-3, 0.01, 0.001, 1e-9))
    adam = f"{{lr: [{lr}], beta1: [{beta1}], beta2: [{beta2}], eps: [{eps}]}}"
    text = {
        "bomb": _alias_bomb(),
        "seeds": "name: s\nproblems: [{ackley: {}}]\noptimizers: [{adam: {}}]\n"
                 "seeds: 10000000\nbudget: {evaluations: 10}\n",
        "seeds12": "name: s\nproblems: [{ackley: {}}]\noptimizers: [{adam: {}}]\n"
                   "seeds: 1000000000000\nbudget: {evaluations: 10}\n",
        "grid": f"name: g\nproblems: [{{ackley: {{dim: [2, 3, 4, 5, 6]}}}}]\n"
                f"optimizers: [{{adam: {adam}}}]\nbudget: {{evaluations: 10}}\n",
    }[case]
    cfg = tmp_path / "c.yaml"
    cfg.write_text(text)
    if case == "bomb":
        assert len(text) < 700
    done = subprocess.run([sys.executable, "-c", REFUSE, str(cfg)], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    timing, line = done.stdout.strip().splitlines()
    seconds, rss_kb = timing.split()
    assert float(seconds) < 2.0 and int(rss_kb) < 200 * 1024  # before: 252 s, 6.4 GB
    assert line.startswith(f"{cfg}: ") and len(line) < 300
    if case == "bomb":
        assert "aliases" in line and "100,000" in line
    elif case == "grid":
        assert "1,953,125 runs (5 problem settings × 390,625 optimizer settings × 1 seed)" in line
    else:
        assert "max_runs = 1,000,000" in line and " seeds)" in line
    done = _cli("run", cfg, "--out", tmp_path / "o")  # the CLI: one line, exit 2, no folder
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert not (tmp_path / "o").exists()


def test_max_runs_is_the_users_to_raise(tmp_path):
    text = SMALL.replace("seeds: 2", "seeds: 2\n    max_runs: 7")
    with pytest.raises(optbench.ConfigError, match=r"has 8 runs .* max_runs = 7;"):
        optbench.sweep(_write(tmp_path, text), out=tmp_path / "o", workers=0, progress=False)
    sweep = _write(tmp_path, text.replace("max_runs: 7", "max_runs: 8"))
    assert len(optbench.sweep(sweep, out=tmp_path / "o", workers=0, progress=False).summary) == 8


def test_messages_show_a_bounded_excerpt(tmp_path, capsys):
    values = ", ".join(str(i) for i in range(20_000))
    for bad in (f"timeout: [{values}]", f"stop_at_target: '{'y' * 50_000}'",
                f"targets: [{values}]"):
        cfg = _write(tmp_path, textwrap.dedent(SMALL) + bad + "\n")
        assert _run(cfg, tmp_path / "o") == 2
        line = capsys.readouterr().err.strip()
        assert "\n" not in line and len(line) < 400, line[:500]
        assert "…" in line or "..." in line


def test_recursive_anchors_and_deep_nesting_are_refused(tmp_path, capsys):
    for text, says in (("name: x\nproblems: &p [*p]\n", "recursive anchor"),
                       ("name: x\nproblems: " + "[" * 3000 + "]" * 3000 + "\n",
                        "nested too deeply")):
        cfg = tmp_path / "c.yaml"
        cfg.write_text(text)
        assert main(["run", str(cfg), "--out", str(tmp_path / "o")]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and says in err


def test_a_config_may_still_reuse_what_it_anchors(tmp_path):
    cfg = _write(tmp_path, """
        name: anchors
        problems:
          - ackley: &two {dim: 2}
          - ackley: {<<: *two, a: 10}
        optimizers:
          - adam: &adam {lr: 0.1}
          - adam: {<<: *adam, beta1: 0.8}
        seeds: 1
        budget: {evaluations: 20}
    """)
    from optbench.bench.sweep.config import load_sweep

    labels = {(s.problem_label, s.optimizer_label) for s in load_sweep(cfg).specs}
    assert labels == {(p, o) for p in ("ackley(dim=2)", "ackley(a=10, dim=2)")
                      for o in ("adam(lr=0.1)", "adam(beta1=0.8, lr=0.1)")}


def test_disk_errors_are_one_line(tmp_path, capsys):
    """A read-only place (sysfs refuses every new folder, root included): one line, exit 2."""
    cfg = _write(tmp_path, SMALL)
    t0 = time.monotonic()
    assert main(["run", str(cfg), "--out", "/sys/optbench-results", "--workers", "0",
                 "--quiet", "--no-check"]) == 2
    assert time.monotonic() - t0 < 2
    line = capsys.readouterr().err.strip()
    assert line.startswith("optbench: error: cannot write /sys/optbench-results: ")
    assert "\n" not in line


def test_a_full_disk_mid_sweep_is_one_line_and_stops_at_once(tmp_path):
    """No file may exceed 4 kB (RLIMIT_FSIZE: the kernel refuses the write, as a full disk
    does): config and environment fit, the first run's trace does not."""
    (tmp_path / "slow.py").write_text(SLEEPER)
    cfg = _write(tmp_path, """
        name: full
        problems:
          - ackley: {dim: 2}
          - slow.py:Sleeper: {delay: 60}
        optimizers:
          - adam: {lr: 0.1}
        budget: {evaluations: 300}
    """)
    out = tmp_path / "out"

    def small_files():
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))

    t0 = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "optbench", "run", str(cfg), "--out", str(out),
                           "--workers", "2", "--quiet", "--no-check"], capture_output=True,
                          text=True, cwd=ROOT, timeout=120, preexec_fn=small_files)
    elapsed = time.monotonic() - t0
    assert done.returncode == 2, done.stderr
    line, = done.stderr.strip().splitlines()
    assert line.startswith(f"optbench: error: cannot write {out / 'runs'}/")
    assert line.endswith(".parquet: File too large")
    assert elapsed < 30  # the 60 s run in the other worker was not waited for
    assert not list((out / "runs").iterdir())  # nothing half-written

