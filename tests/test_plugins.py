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

import pandas as pd
import pytest

from bench.cli import main

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "optbench-logreg"


def optbench(args, site=None, cwd=None):
    env = dict(os.environ)
    if site is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), env.get("PYTHONPATH")]))
    return subprocess.run([sys.executable, "-m", "bench", *map(str, args)], capture_output=True,
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
from problems import Problem


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
    "brokenmods/good.py": '''
import numpy as np
from problems import Problem


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
    """),
}


@pytest.fixture
def broken_site(tmp_path):
    site = tmp_path / "site"
    for rel, text in BROKEN.items():
        (site / rel).parent.mkdir(parents=True, exist_ok=True)
        (site / rel).write_text(text)
    return site


def test_broken_plugins_are_named_and_the_rest_works(broken_site):
    r = optbench(["list"], broken_site)
    assert r.returncode == 0, r.stderr
    text = r.stdout
    assert "problem 'import_error' from package fake-plugins (entry point brokenmods.imp:Thing)" \
           ": ModuleNotFoundError: No module named 'a_module_that_is_not_there'" in text
    assert "problem 'no_value' from package fake-plugins" in text and "no value(x)" in text
    assert "problem 'ackley' from package fake-plugins" in text and "clashes with the one " \
           "from built-in" in text
    assert "  ackley  [built-in]" in text and "  sphere  [package fake-plugins" in text
    assert optbench(["check", "sphere"], broken_site).returncode == 0
    assert optbench(["check", "ackley"], broken_site).returncode == 0  # still the built-in


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
