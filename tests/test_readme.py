"""The README's Python examples run as printed, and print what the README shows."""

import re
import subprocess
import sys
from pathlib import Path

README = (Path(__file__).parent.parent / "README.md").read_text()


def _section(title: str) -> str:
    start = README.index(f"## {title}")
    return README[start:README.index("\n## ", start + 1)]


def test_the_python_section_runs_and_prints_what_it_shows(tmp_path):
    section = _section("Use it from Python")
    code = "\n".join(re.findall(r"```python\n(.*?)```", section, re.S))
    shown = "".join(re.findall(r"```console\n(.*?)```", section, re.S))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=tmp_path, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout == shown
    assert (tmp_path / "results" / "digits-ae" / "summary.csv").is_file()
