"""The layout shows the pipeline, and its imports point one way (issue 11; DESIGN.md, Layout).

``optbench`` → ``bench`` → ``optimizers``, ``problems``: the last two never import ``bench`` nor
each other, and ``bench/report`` reads the results folder without importing the runner, the
plugin registry, or any problem or optimizer. Imports are read from the source with ``ast``
(relative ones resolved), so a new module is checked the day it is added.
"""

import ast
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
# folder in the repository -> the package it installs as
FOLDERS = {Path(folder): name for name, folder in PYPROJECT["package-dir"].items()}
FOLDERS.setdefault(Path("optbench"), "optbench")


def dotted(folder: Path) -> str:
    """The installed name of a package folder (relative to the repository root)."""
    for top, name in FOLDERS.items():
        if folder == top or top in folder.parents:
            return ".".join([name, *folder.relative_to(top).parts])
    raise AssertionError(f"{folder} is in no installed package")


def modules(folder: str) -> list[Path]:
    found = sorted(p for p in (ROOT / folder).rglob("*.py") if "__pycache__" not in p.parts)
    assert found, folder
    return found


def imports(path: Path) -> Iterator[tuple[int, str]]:
    """(line, module) for every import in ``path``, relative ones resolved to full names.

    ``from a import b`` yields both ``a`` and ``a.b`` (b may be a module); a call of
    ``importlib.import_module("...")`` with a literal name counts too.
    """
    package = dotted(path.parent.relative_to(ROOT))
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                assert node.level <= len(parts), f"{path}:{node.lineno} leaves the package"
                base = parts[: len(parts) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module
            yield node.lineno, module
            for alias in node.names:
                yield node.lineno, f"{module}.{alias.name}"
        elif (isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "import_module"
              and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str) and not node.args[0].value.startswith(".")):
            yield node.lineno, node.args[0].value


def offending(folder: str, forbidden: tuple[str, ...]) -> list[str]:
    out = []
    for path in modules(folder):
        for line, name in imports(path):
            if any(name == f or name.startswith(f + ".") for f in forbidden):
                out.append(f"{path.relative_to(ROOT)}:{line} imports {name}")
    return out


def test_the_import_resolver_reads_relative_imports():
    """The checks below are only as good as this: ``from . import datasets`` in problems/."""
    names = {name for _, name in imports(ROOT / "problems" / "autoencoder.py")}
    assert {"optbench.problems.datasets", "optbench.problems.base.Problem"} <= names
    assert dotted(Path("bench/report")) == "optbench.bench.report"


@pytest.mark.parametrize("folder", ["problems", "optimizers"])
def test_problems_and_optimizers_never_import_bench(folder):
    assert offending(folder, ("optbench.bench", "bench")) == []


def test_problems_and_optimizers_never_import_each_other():
    assert offending("problems", ("optbench.optimizers", "optimizers")) == []
    assert offending("optimizers", ("optbench.problems", "problems")) == []


def test_the_report_never_imports_the_runner_the_plugins_or_problems():
    forbidden = ("optbench.bench.run", "optbench.bench.plugins", "optbench.problems",
                 "optbench.optimizers")
    assert offending("bench/report", forbidden) == []


TINY = """
import sys

from optbench.bench.report.build import build_report

assert build_report(sys.argv[1], quiet=True) is not None
print(" ".join(m for m in ("optbench.bench.run.runner", "optbench.bench.plugins",
                           "optbench.problems", "optbench.optimizers") if m in sys.modules))
"""


def test_building_a_report_leaves_the_runner_and_plugins_unimported(tmp_path):
    from optbench.bench.results.store import Store
    from optbench.bench.run.landscape import write_landscapes
    from optbench.bench.run.runner import execute
    from optbench.bench.sweep.spec import Budget, RunSpec, Targets, canonical

    store = Store(tmp_path / "tiny")
    for lr in (0.1, 0.3):
        for seed in (0, 1):
            store.save(execute(RunSpec("ackley", canonical({"dim": 2}), "adam",
                                       canonical({"lr": lr}), seed, Budget(evaluations=40),
                                       Targets(value=1e-3))))
    write_landscapes(store.root, quiet=True)
    assert list(store.landscapes.glob("*.npz"))  # the trajectory plot draws its contours
    done = subprocess.run([sys.executable, "-c", TINY, str(store.root)], capture_output=True,
                          text=True, cwd=ROOT, timeout=600)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""
    assert list((store.root / "figures").glob("trajectory-*.png"))


def test_pyproject_names_every_package_folder():
    on_disk = {dotted(init.parent.relative_to(ROOT))
               for top in FOLDERS for init in (ROOT / top).rglob("__init__.py")
               if "__pycache__" not in init.parts}
    assert {"optbench", "optbench.bench.report", "optbench.problems"} <= on_disk
    assert sorted(PYPROJECT["packages"]) == sorted(on_disk)
