"""``optbench export --coco``: cocopp post-processes an exported sweep, and reads back each run's
evaluation count and the evaluation at which it reached each target; the export imports nothing
a results folder names."""

import json
import math
import os
import subprocess
import sys
import textwrap

import pytest

import optbench
from optbench.bench.cli.main import main
from optbench.bench.plugins import Plugins, using

# cocopp tries its online archives on import: the proxy keeps that on the loopback (refused)
OFFLINE = {**os.environ, "HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9",
           "http_proxy": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9",
           "NO_PROXY": "", "no_proxy": "", "MPLBACKEND": "Agg"}

COCOPP = """
import json, sys, warnings
warnings.simplefilter("ignore")
import cocopp
from cocopp import pproc

out, folders = sys.argv[1], sys.argv[2:]
cocopp.main(["--no-interactive", "--no-svg", "-o", out, *folders])
# cocopp's own grid of targets may round 10^(k/5) an ulp above ours: ask a hair above each
ladder = [10.0 ** (2 - 0.2 * k) * (1 + 1e-9) for k in range(51)]
rows = []
for folder in folders:
    for ds in pproc.DataSetList(folder):
        evals = ds.detEvals(ladder)
        for j, instance in enumerate(ds.instancenumbers):
            rows.append({"alg": ds.algId, "function": int(ds.funcId), "dim": int(ds.dim),
                         "instance": int(instance), "maxevals": float(ds.maxevals[j]),
                         "evals": [None if e[j] != e[j] else float(e[j]) for e in evals]})
print(json.dumps(rows))
"""


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    base = tmp_path_factory.mktemp("export")
    config = {"name": "to-coco", "problems": [{"bbob": {"function": [1, 8], "dim": [2, 3]}}],
              "optimizers": ["nelder-mead", {"nag": {"lr": 1e-2, "momentum": 0.9}}],
              "seeds": 3, "budget": {"evaluations": "50 * dim"}, "targets": {"value": 1e-8}}
    results = optbench.sweep(config, out=base / "results", workers=0, progress=False)
    assert main(["export", "--coco", str(base / "exdata"), str(base / "results")]) == 0
    return base, results.summary


def test_cocopp_reads_the_export_and_counts_what_optbench_counted(exported):
    """Slow (cocopp's full post-processing, ~20 s): the only proof it takes the files."""
    base, summary = exported
    folders = sorted(str(p) for p in (base / "exdata").iterdir())
    assert [os.path.basename(f) for f in folders] == ["nag-lr-0.01-momentum-0.9", "nelder-mead"]
    done = subprocess.run([sys.executable, "-c", COCOPP, str(base / "ppdata"), *folders],
                          capture_output=True, text=True, env=OFFLINE, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    assert list((base / "ppdata").rglob("index.html"))
    rows = json.loads(done.stdout.strip().splitlines()[-1])
    assert len(rows) == len(summary) == 24
    assert set(summary["status"]) >= {"diverged", "target", "budget"}  # failures exported too
    runs = {(r.optimizer_label, json.loads(r.problem_params)["function"],
             int(r.dim), r.seed + 1): r for r in summary.itertuples()}
    hits = {}
    for path in (base / "results" / "runs").glob("*.json"):
        doc = json.loads(path.read_text())
        hits[doc["summary"]["run_id"]] = {round((2 - math.log10(p)) * 5): e
                                         for p, e, _ in doc["hits"]}
    labels = {"nelder-mead": "nelder-mead",
              "nag-lr-0.01-momentum-0.9": "nag(lr=0.01, momentum=0.9)"}
    for row in rows:  # cocopp names an algorithm by its folder
        run = runs[labels[row["alg"]], row["function"], row["dim"], row["instance"]]
        assert row["maxevals"] == run.n_eval
        reached = hits[run.run_id]
        assert row["evals"] == [reached.get(k) for k in range(51)], (row, reached)


def test_the_files_follow_cocos_layout(exported):
    base, summary = exported
    alg = base / "exdata" / "nelder-mead"
    info = (alg / "bbobexp_f8.info").read_text().splitlines()
    assert info[0].startswith("suite = 'bbob', funcId = 8, DIM = 2, Precision = 1.000e-08, "
                              "algId = 'nelder-mead'") and "data_format = 'bbob-new2'" in info[0]
    runs = summary[(summary["optimizer"] == "nelder-mead") & (summary["dim"] == 2)
                   & summary["problem_label"].str.contains("f8 ")].sort_values("seed")
    trials = info[2].split(", ")
    assert trials[0] == "data_f8/bbobexp_f8_DIM2.dat"
    assert [t.split("|")[0] for t in trials[1:]] == [f"{s + 1}:{n}" for s, n in
                                                     zip(runs["seed"], runs["n_eval"].astype(int),
                                                         strict=True)]
    dat = (alg / "data_f8" / "bbobexp_f8_DIM2.dat").read_text().split("%")[1:]
    assert len(dat) == 3  # a block per run, each from evaluation 1 to its last
    for block, n_eval in zip(dat, runs["n_eval"].astype(int), strict=True):
        rows = [line.split() for line in block.splitlines()[1:]]
        assert int(rows[0][0]) == 1 and int(rows[-1][0]) == n_eval
        assert all(len(r) == 5 and r[1] == "0" for r in rows)
        values = [float(r[2]) for r in rows]
        assert values == sorted(values, reverse=True)  # best so far: never increases
    assert (alg / "data_f8" / "bbobexp_f8_DIM2.tdat").is_file()


def test_it_refuses_to_mix_into_an_earlier_export(exported, capsys):
    base, _ = exported
    assert main(["export", "--coco", str(base / "exdata"), str(base / "results")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "already holds files; remove it or export to another" in err


PLUGIN = '''
import pathlib
pathlib.Path(__file__).with_name("imported.log").open("a").write("imported\\n")
from optbench.optimizers.nelder_mead import NelderMead

class Mine(NelderMead):
    name = "mine"
'''


def test_export_never_imports_what_the_folder_names(tmp_path):
    (tmp_path / "myopt.py").write_text(textwrap.dedent(PLUGIN))
    cfg = tmp_path / "sweep.yaml"
    cfg.write_text("name: plug\nproblems: [{bbob: {function: 2}}, {ackley: {dim: 2}}]\n"
                   "optimizers: [{myopt.py:Mine: {}}]\nbudget: {evaluations: 30}\n")
    with using(Plugins()):  # fresh registries: the file plugin stays out of the process's
        optbench.sweep(cfg, out=tmp_path / "res", workers=0, progress=False)
    (tmp_path / "imported.log").unlink()
    done = subprocess.run([sys.executable, "-m", "optbench", "export", "--coco",
                           str(tmp_path / "ex"), str(tmp_path / "res")], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / "imported.log").exists()
    assert "1 runs of problems other than bbob left out" in done.stderr
    (alg,) = (tmp_path / "ex").iterdir()
    assert "algId = 'myopt.py:Mine'" in (alg / "bbobexp_f2.info").read_text()


def test_a_folder_without_bbob_runs_says_so(tmp_path, capsys):
    optbench.sweep({"name": "plain", "problems": ["ackley"], "optimizers": ["adam"],
                    "budget": {"evaluations": 20}}, out=tmp_path / "plain", workers=0,
                   progress=False)
    assert main(["export", "--coco", str(tmp_path / "ex"), str(tmp_path / "plain")]) == 2
    assert "holds no finished bbob runs: nothing to export" in capsys.readouterr().err
    assert main(["export", "--coco", str(tmp_path / "ex"), str(tmp_path / "nowhere")]) == 2
