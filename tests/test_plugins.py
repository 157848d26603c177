"""Plugins: an installed example package, a file named in a config, and broken plugins (issue 6).

Plugins are installed into a temporary folder put on PYTHONPATH of a child process, so the test
environment itself is never changed.
"""

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from optbench.bench.cli.main import main

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "optbench-logreg"


def optbench(args, site=None, cwd=None, env=None):
    env = {**os.environ, **(env or {})}
    if site is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), env.get("PYTHONPATH")]))
    return subprocess.run([sys.executable, "-m", "optbench", *map(str, args)], capture_output=True,
                          text=True, env=env, cwd=cwd, timeout=600)


@pytest.fixture(scope="module")
def example_site(tmp_path_factory):
    site = tmp_path_factory.mktemp("site")
    # build with what is installed when it can make wheels; else pip fetches setuptools itself
    can_build = all(importlib.util.find_spec(m) for m in ("setuptools", "wheel"))
    isolation = ["--no-build-isolation"] if can_build else []
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", *isolation,
                    "--target", str(site), str(EXAMPLE)], check=True, capture_output=True,
                   timeout=600)
    return site


def test_example_package_is_listed_checked_and_swept(example_site, tmp_path):
    listed = optbench(["list"], example_site)
    assert listed.returncode == 0, listed.stderr
    line = next(ln for ln in listed.stdout.splitlines() if ln.strip().startswith("logreg "))
    assert "package optbench-logreg" in line and "optbench_logreg:LogisticRegression" in line
    assert "lam = 0.01" in listed.stdout

    checked = optbench(["check", "logreg"], example_site)
    assert checked.returncode == 0 and "PASS" in checked.stdout, checked.stdout + checked.stderr

    out = tmp_path / "logreg"
    ran = optbench(["run", EXAMPLE / "logreg.yaml", "--out", out, "--workers", "2", "--quiet",
                    "--no-report"], example_site)
    assert ran.returncode == 0, ran.stderr
    df = pd.read_parquet(out / "summary.parquet")
    assert len(df) == 2 * 8 * 3 and set(df.problem) == {"logreg"}
    assert not df.status.isin(["error", "nan", "timeout"]).any()
    # λ-strongly convex: at a point with ‖∇f‖ <= 1e-4, f − f* <= ‖∇f‖²/(2λ); so every run that
    # hit the gradient target ends within that gap of the others
    hit = df[df.target_hit]
    assert len(hit) > len(df) / 2
    for params, group in hit.groupby("problem_params"):
        lam = json.loads(params)["lam"]
        gap = (group.grad_norm_final.max() ** 2) / (2 * lam)
        assert group.grad_norm_final.max() <= 1e-4
        assert group.f_final.max() - group.f_final.min() <= gap * (1 + 1e-9)


def test_without_the_plugin_its_name_is_unknown(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text((EXAMPLE / "logreg.yaml").read_text())
    r = optbench(["run", cfg, "--out", tmp_path / "o"])
    assert r.returncode == 2 and "unknown problem 'logreg'" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and not (tmp_path / "o").exists()


LOCAL = '''
import numpy as np
from optbench.problems import Problem


class Rosenbrock(Problem):
    """Rosenbrock's valley in 2-D; minimum 0 at (1, 1)."""
    name = "rosenbrock"
    dim = 2
    x_opt = np.array([1.0, 1.0])
    f_opt = 0.0

    def initial_point(self, rng):
        return np.array([-1.2, 1.0]) + 0.1 * rng.standard_normal(2)

    def value_and_grad(self, x):
        a, b = 1 - x[0], x[1] - x[0] ** 2
        return float(a * a + 100 * b * b), np.array([-2 * a - 400 * x[0] * b, 200 * b])

    def value(self, x):
        return self.value_and_grad(x)[0]
'''


def test_a_file_named_in_the_config_runs_without_installing(tmp_path, monkeypatch):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "local.py").write_text(LOCAL)
    cfg = tmp_path / "sweep.yaml"
    cfg.write_text(textwrap.dedent("""
        name: local
        problems:
          - mine/local.py:Rosenbrock: {}
        optimizers:
          - lbfgsb: {}
        seeds: 2
        budget: {evaluations: 500}
        targets: {value: 1.0e-10}
    """))
    monkeypatch.chdir(ROOT)  # the path is relative to the config file, not to where we stand
    assert main(["run", str(cfg), "--out", str(tmp_path / "out"), "--workers", "0", "--quiet",
                 "--no-report"]) == 0
    df = pd.read_parquet(tmp_path / "out" / "summary.parquet")
    assert (df.status == "target").all() and (df.problem == "mine/local.py:Rosenbrock").all()


BROKEN = {
    "brokenmods/__init__.py": "",
    "brokenmods/imp.py": "import a_module_that_is_not_there\n",
    "brokenmods/quit.py": "import sys\nsys.exit(3)\n",
    # says when it is imported: plugins are imported only when their name is used
    "brokenmods/loud.py": "import os, pathlib\npathlib.Path(os.environ['LOUD_MARK']).write_text"
                          "('imported')\nfrom brokenmods.good import Sphere as Loud\n",
    "brokenmods/good.py": '''
import numpy as np
from optbench.problems import Problem


class Sphere(Problem):
    """½|x|², a healthy plugin next to the broken ones."""
    name = "sphere"

    def __init__(self, dim: int = 3):
        self.dim = dim
        self.x_opt, self.f_opt = np.zeros(dim), 0.0

    def initial_point(self, rng):
        return rng.normal(size=self.dim)

    def value(self, x):
        return 0.5 * float(x @ x)

    def grad(self, x):
        return x.copy()


class NoValue:
    """Has a gradient but no value."""
    def grad(self, x):
        return x


class BadShape(Sphere):
    def grad(self, x):
        return np.append(x, 0.0)


class WrongGrad(Sphere):
    def grad(self, x):
        g = x.copy()
        g[1] *= 2.0
        return g


class ArrayValue(Sphere):
    def value(self, x):
        return np.array([0.5 * float(x @ x)])
''',
    "fake_plugins-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: fake-plugins\n"
                                           "Version: 1.0\n",
    "fake_plugins-1.0.dist-info/entry_points.txt": textwrap.dedent("""
        [optbench.problems]
        import_error = brokenmods.imp:Thing
        no_value = brokenmods.good:NoValue
        ackley = brokenmods.good:Sphere
        sphere = brokenmods.good:Sphere
        bad_shape = brokenmods.good:BadShape
        wrong_grad = brokenmods.good:WrongGrad
        array_value = brokenmods.good:ArrayValue
        quitter = brokenmods.quit:Thing
        loud = brokenmods.loud:Loud
    """),
}


@pytest.fixture
def broken_site(tmp_path):
    site = tmp_path / "site"
    for rel, text in BROKEN.items():
        (site / rel).parent.mkdir(parents=True, exist_ok=True)
        (site / rel).write_text(text)
    return site


def test_broken_plugins_are_named_and_the_rest_works(broken_site, tmp_path):
    mark = tmp_path / "loud-imported"
    r = optbench(["list"], broken_site, env={"LOUD_MARK": str(mark)})
    assert r.returncode == 0, r.stderr
    text = r.stdout
    assert "problem 'import_error' from package fake-plugins (entry point brokenmods.imp:Thing)" \
           ": ModuleNotFoundError: No module named 'a_module_that_is_not_there'" in text
    # the source is said once, not repeated by the contract check's own message
    assert "  problem 'no_value' from package fake-plugins (entry point brokenmods.good:NoValue)" \
           ": it defines no value(x) method\n" in text
    assert text.count("'no_value'") == 1
    assert "problem 'ackley' from package fake-plugins" in text and "clashes with the one " \
           "from built-in" in text
    # sys.exit() at import no longer ends `optbench list`: it is one more broken plugin
    assert "  problem 'quitter' from package fake-plugins (entry point brokenmods.quit:Thing): " \
           "SystemExit(3): it calls sys.exit() when imported\n" in text
    assert "  ackley  [built-in]" in text and "  sphere  [package fake-plugins" in text
    assert "  loud  [package fake-plugins" in text and mark.read_text() == "imported"


def test_only_the_plugins_a_command_names_are_imported(broken_site, tmp_path):
    mark = tmp_path / "loud-imported"
    env = {"LOUD_MARK": str(mark)}
    r = optbench(["check", "sphere"], broken_site, env=env)
    assert r.returncode == 0 and "PASS" in r.stdout, r.stdout + r.stderr
    assert r.stderr == "" and not mark.exists()  # neither quitter's exit nor loud's import
    assert optbench(["check", "loud"], broken_site, env=env).returncode == 0
    assert mark.read_text() == "imported"

    r = optbench(["check", "quitter"], broken_site)
    assert r.returncode == 2 and r.stderr.strip().splitlines() == [
        "optbench: error: plugin could not be loaded: problem 'quitter' from package "
        "fake-plugins (entry point brokenmods.quit:Thing): SystemExit(3): it calls sys.exit() "
        "when imported"]


def test_a_clashing_name_says_which_one_it_uses_once(broken_site, tmp_path):
    note = ("optbench: note: problem 'ackley' from package fake-plugins (entry point "
            "brokenmods.good:Sphere): name clashes with the one from built-in; 'ackley' is the "
            "one from built-in")
    r = optbench(["check", "ackley"], broken_site)
    assert r.returncode == 0 and "ackley (dim 2)" in r.stdout  # the built-in's dimension
    assert r.stderr.strip().splitlines() == [note]

    cfg = tmp_path / "s.yaml"
    cfg.write_text("name: c\nproblems:\n  - ackley: {dim: [2, 3]}\noptimizers:\n"
                   "  - adam: {lr: [0.1, 0.01]}\nseeds: 2\nbudget: {evaluations: 50}\n")
    r = optbench(["run", cfg, "--out", tmp_path / "o", "--workers", "2", "--quiet",
                  "--no-report"], broken_site)
    assert r.returncode == 0, r.stderr
    assert r.stderr.strip().splitlines() == [note]  # not once per entry, combination or worker
    assert set(pd.read_parquet(tmp_path / "o" / "summary.parquet").dim) == {2, 3}


@pytest.mark.parametrize("name, words", [
    ("bad_shape", ["FAIL", "gradient has shape (4,), expected (3,)"]),
    ("array_value", ["array_value (dim 3)",
                     "returned a value of type ndarray, expected a float"]),
    ("wrong_grad", ["FAIL", "worst coordinate: x[1]"]),
])
def test_check_names_what_is_wrong(broken_site, name, words):
    r = optbench(["check", name], broken_site)
    assert r.returncode == 1
    for word in words:
        assert word in r.stdout, r.stdout


def test_run_refuses_broken_problems_and_runs_the_others(broken_site, tmp_path):
    cfg = tmp_path / "s.yaml"
    cfg.write_text(textwrap.dedent("""
        name: mixed
        problems:
          - wrong_grad: {}
          - bad_shape: {}
          - sphere: {}
        optimizers:
          - adam: {lr: 0.1}
        seeds: 2
        budget: {evaluations: 100}
    """))
    r = optbench(["run", cfg, "--out", tmp_path / "o", "--workers", "0", "--no-report"],
                 broken_site)
    assert r.returncode == 1
    assert "gradient check failed for wrong_grad" in r.stderr and "worst coordinate: x[1]" \
        in r.stderr
    assert "gradient check failed for bad_shape" in r.stderr
    df = pd.read_parquet(tmp_path / "o" / "summary.parquet")
    assert set(df.problem) == {"sphere"} and len(df) == 2

    bad = cfg.read_text().replace("wrong_grad", "import_error")
    cfg.write_text(bad)
    r = optbench(["run", cfg, "--out", tmp_path / "o2"], broken_site)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    assert "problems[0]: plugin could not be loaded" in r.stderr
    assert "No module named 'a_module_that_is_not_there'" in r.stderr

    # with a plugin that exits at import installed, the report rebuilds too
    r = optbench(["report", tmp_path / "o"], broken_site)
    assert r.returncode == 0 and (tmp_path / "o" / "report.html").is_file(), r.stderr


GD = '''
import numpy as np
from optbench.optimizers import Optimizer


class GradientDescent(Optimizer):
    """Plain gradient descent: x <- x - lr * grad f(x)."""
    name = "gd"

    def __init__(self, lr: float = 0.1):
        self.lr = self._check("lr", lr, low=0, low_open=True)

    def _start(self, x0):
        self.x = x0

    def step(self):
        self.x = self.x - self.lr * self.oracle.grad(self.x)
        return self.x
'''

QUAD = '''
import numpy as np
from optbench.problems import Problem


class Quadratic(Problem):
    """f(x) = 1/2 (x0^2 + 4 x1^2), started at x0."""
    name = "quad"
    dim = 2
    x_opt = np.zeros(2)
    f_opt = 0.0
    A = np.array([1.0, 4.0])

    def __init__(self, x0: list[float] = (3.0, -2.0)):
        self.x0 = np.array(x0, dtype=float)

    def initial_point(self, rng):
        return self.x0.copy()

    def value(self, x):
        return 0.5 * float(self.A @ (x * x))

    def grad(self, x):
        return self.A * x
'''


def test_an_optimizer_plugin_file_runs_through_the_cli(tmp_path):
    (tmp_path / "gd.py").write_text(GD)
    (tmp_path / "quad.py").write_text(QUAD)
    cfg = tmp_path / "gd.yaml"
    cfg.write_text(textwrap.dedent("""
        name: gd
        problems:
          - quad.py:Quadratic: {}
        optimizers:
          - gd.py:GradientDescent: {lr: [0.1, 0.2]}
        budget: {iterations: 7}
    """))
    out = tmp_path / "out"
    # a process pool: each worker finds both files again from the config's folder
    r = optbench(["run", cfg, "--out", out, "--workers", "2", "--quiet", "--no-report"],
                 cwd=ROOT)
    assert r.returncode == 0, r.stderr
    df = pd.read_parquet(out / "summary.parquet").set_index("optimizer_params")
    assert set(df.optimizer) == {"gd.py:GradientDescent"} and (df.status == "budget").all()
    a, x0, k = [1.0, 4.0], [3.0, -2.0], 7
    for lr in (0.1, 0.2):
        # per coordinate x_k = (1 - lr a_i)^k x0_i, in closed form
        xk = [(1 - lr * ai) ** k * xi for ai, xi in zip(a, x0, strict=True)]
        row = df.loc[f'{{"lr":{lr}}}']
        assert row.n_iter == k and row.n_gev == k
        assert row.f_final == pytest.approx(0.5 * sum(ai * xi * xi for ai, xi in zip(a, xk,
                                                                                        strict=True)),
                                            rel=1e-12)
        assert row.dist_final == pytest.approx(sum(xi * xi for xi in xk) ** 0.5, rel=1e-12)
        trace = pd.read_parquet(out / "runs" / f"{row.run_id}.parquet")
        last = trace[trace.iteration == k]
        assert [last.x_0.item(), last.x_1.item()] == pytest.approx(xk, rel=1e-12)

    listed = optbench(["list", "--config", cfg])
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    opt = lines.index(f"  gd.py:GradientDescent  [file {tmp_path / 'gd.py'}]  Plain gradient "
                      "descent: x <- x - lr * grad f(x).")
    assert lines[opt + 1] == "      lr = 0.1"
    assert f"  quad.py:Quadratic  [file {tmp_path / 'quad.py'}]  f(x) = 1/2 (x0^2 + 4 x1^2), " \
           "started at x0." in lines
    assert lines.index("optimizers:") < opt  # each under its own kind
    assert listed.stdout.count("gd.py:GradientDescent") == 1  # not again under its file path


FILE_PLUGINS = {
    "good.py": BROKEN["brokenmods/good.py"],
    "imp.py": "import a_module_that_is_not_there\n",
    "quit.py": "import sys\nsys.exit(3)\n",
}


def _sweep(tmp_path, problem):
    for name, text in FILE_PLUGINS.items():
        (tmp_path / name).write_text(text)
    cfg = tmp_path / "s.yaml"
    cfg.write_text(f"name: s\nproblems:\n  - {problem}: {{}}\n  - good.py:Sphere: {{}}\n"
                   "optimizers:\n  - adam: {lr: 0.1}\nbudget: {evaluations: 60}\n")
    return cfg


@pytest.mark.parametrize("problem, why", [
    ("imp.py:Thing", "problem 'imp.py:Thing': importing file {dir}/imp.py raised "
                     "ModuleNotFoundError: No module named 'a_module_that_is_not_there'"),
    ("good.py:Missing", "problem 'good.py:Missing': file {dir}/good.py defines no 'Missing' "
                        "(it defines ArrayValue, BadShape, NoValue, Sphere, WrongGrad)"),
    ("good.py:NoValue", "problem 'good.py:NoValue' from file {dir}/good.py: it defines no "
                        "value(x) method"),
    ("quit.py:Thing", "problem 'quit.py:Thing': importing file {dir}/quit.py raised "
                      "SystemExit(3): it calls sys.exit() when imported"),
    ("nope.py:Thing", "problem 'nope.py:Thing': file {dir}/nope.py does not exist"),
])
def test_a_broken_file_plugin_is_one_line_naming_the_file(tmp_path, capsys, problem, why):
    cfg = _sweep(tmp_path, problem)
    code = main(["run", str(cfg), "--out", str(tmp_path / "o"), "--workers", "0", "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err == [f"optbench: error: {cfg}: problems[0]: {why.format(dir=tmp_path)}"]
    assert not (tmp_path / "o").exists()

    # `list --config` shows it with the same reason and lists the healthy one with its source
    assert main(["list", "--config", str(cfg)]) == 0
    out = capsys.readouterr().out
    assert f"  {problem}  unavailable: {why.format(dir=tmp_path)}\n" in out
    assert f"  good.py:Sphere  [file {tmp_path / 'good.py'}]  ½|x|², a healthy plugin" in out


@pytest.mark.parametrize("problem, words", [
    ("good.py:BadShape", ["gradient check failed for good.py:BadShape",
                          "gradient has shape (4,), expected (3,)"]),
    ("good.py:WrongGrad", ["gradient check failed for good.py:WrongGrad",
                           "worst coordinate: x[1]"]),
])
def test_a_file_plugin_with_a_wrong_gradient_is_left_out(tmp_path, capsys, problem, words):
    cfg = _sweep(tmp_path, problem)
    code = main(["run", str(cfg), "--out", str(tmp_path / "o"), "--workers", "0", "--quiet",
                 "--no-report"])
    err = capsys.readouterr().err
    assert code == 1
    for word in words:
        assert word in err, err
    df = pd.read_parquet(tmp_path / "o" / "summary.parquet")
    assert list(df.problem) == ["good.py:Sphere"] and (df.status != "error").all()

    r = optbench(["check", problem], cwd=tmp_path)  # relative to where one stands
    assert r.returncode == 1 and "FAIL" in r.stdout and words[1] in r.stdout, r.stdout


def test_a_sweep_whose_every_problem_is_refused_ends_cleanly(tmp_path, capsys):
    cfg = _sweep(tmp_path, "good.py:WrongGrad")
    cfg.write_text(cfg.read_text().replace("  - good.py:Sphere: {}\n", ""))
    code = main(["run", str(cfg), "--out", str(tmp_path / "o"), "--workers", "0"])
    captured = capsys.readouterr()
    assert code == 1 and "Traceback" not in captured.err
    assert "no runs: nothing in this sweep was run" in captured.out
    assert "not run, its gradient check failed: good.py:WrongGrad" in captured.err


CONST = '''
import numpy as np
from optbench.problems import Problem


class Const(Problem):
    """A constant, to tell two files of the same name apart."""
    name = "const"
    dim = 1

    def initial_point(self, rng):
        return np.zeros(1)

    def value(self, x):
        return {value}

    def grad(self, x):
        return np.zeros(1)
'''


def test_one_spelling_in_two_config_folders_names_two_files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for folder, value in (("a", 1.0), ("b", 2.0)):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "mine.py").write_text(CONST.format(value=value))
        (tmp_path / folder / "s.yaml").write_text(
            f"name: {folder}\nproblems:\n  - mine.py:Const: {{}}\noptimizers:\n  - adam: {{}}\n"
            "budget: {iterations: 1}\n")
    for folder, value in (("a", 1.0), ("b", 2.0)):  # one process: the first file stays loaded
        assert main(["run", f"{folder}/s.yaml", "--workers", "0", "--quiet", "--no-report"]) == 0
        df = pd.read_parquet(tmp_path / "results" / folder / "summary.parquet")
        assert list(df.f_final) == [value]


def test_list_config_must_exist(tmp_path, capsys):
    assert main(["list", "--config", str(tmp_path / "nope.yaml")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"optbench: error: {tmp_path / 'nope.yaml'}: no such config file"]


def test_an_edited_file_plugin_is_imported_again_in_the_same_process(tmp_path):
    """A long-lived worker (Dask) must run the file as it is now, as the run id says."""
    from optbench.bench.plugins import make_problem

    path = tmp_path / "shift.py"
    source = ("import numpy as np\nfrom problems import Problem\n\n\n"
              "class Shifted(Problem):\n    dim = 2\n\n    def initial_point(self, rng):\n"
              "        return np.zeros(2)\n\n    def value(self, x):\n"
              "        return float(x @ x) + SHIFT\n\n\nSHIFT = {}\n")
    values = []
    for shift in (100.0, 200.0):
        path.write_text(source.format(shift))
        os.utime(path, ns=(int(shift) * 10**9, int(shift) * 10**9))  # mtime moves on, as edits do
        values.append(make_problem("shift.py:Shifted", {}, tmp_path).value(np.array([1.0, 2.0])))
    assert values == [105.0, 205.0]


def test_a_module_beside_the_config_is_found_without_installing(tmp_path, capsys):
    """`- pkg.loss:Quad` next to the config works as `- file.py:Class` does, from any cwd."""
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "loss.py").write_text(
        "import numpy as np\nfrom problems import Problem\n\n\nclass Quad(Problem):\n"
        "    dim = 2\n\n    def initial_point(self, rng):\n        return np.ones(2)\n\n"
        "    def value(self, x):\n        return float(x @ x)\n\n"
        "    def grad(self, x):\n        return 2 * x\n")
    cfg = tmp_path / "m.yaml"
    cfg.write_text("name: m\nproblems:\n  - pkg.loss:Quad: {}\noptimizers:\n"
                   "  - nag: {lr: 0.1, momentum: 0.0}\nbudget: {iterations: 3}\n")
    out = tmp_path / "out"
    assert main(["run", str(cfg), "--out", str(out), "--workers", "0", "--quiet",
                 "--no-report"]) == 0
    df = pd.read_parquet(out / "summary.parquet")
    # plain gradient descent on |x|^2 from (1, 1): x_k = (1 - 2·0.1)^k (1, 1)
    assert df.f_final.iloc[0] == pytest.approx(2 * 0.8 ** 6, rel=1e-12)


def test_a_file_plugin_imports_the_modules_beside_it(tmp_path, capsys):
    (tmp_path / "shared_math.py").write_text("def square_norm(x):\n    return float(x @ x)\n")
    (tmp_path / "beside.py").write_text(
        "import numpy as np\nfrom shared_math import square_norm\nfrom optbench import Problem\n"
        "\n\nclass Beside(Problem):\n    name = 'beside'\n\n    def __init__(self):\n"
        "        self.dim = 2\n\n    def initial_point(self, rng):\n"
        "        return np.array([1.0, -2.0])\n\n    def value(self, x):\n"
        "        return square_norm(x)\n\n    def grad(self, x):\n        return 2 * x\n")
    assert main(["check", f"{tmp_path / 'beside.py'}:Beside"]) == 0
    assert "PASS" in capsys.readouterr().out
