"""A family's member count is counted once per installed version of its libraries, then read
from the user's cache without importing them (optbench/_cache.py, Family.count)."""

import json

from optbench import _cache
from optbench.registry import Family


class Counted(Family):
    """A family over the standard library's json module, counting how often it is asked."""

    prefix = "counted"
    libraries = ("json",)
    asked = 0

    def _members(self):
        type(self).asked += 1
        return ["a", "b", "c"]


def test_count_is_read_from_the_cache_until_the_library_changes(tmp_path, monkeypatch):
    monkeypatch.setenv("OPTBENCH_CACHE_DIR", str(tmp_path))
    Counted.asked = 0
    assert Counted().count() == 3 and Counted.asked == 1
    assert Counted().count() == 3 and Counted.asked == 1  # a new process: read, not counted
    kept = json.loads((tmp_path / _cache.MEMO).read_text())
    assert kept["members optimizer counted"]["value"] == 3

    real = _cache.stamp
    monkeypatch.setattr(_cache, "stamp", lambda m: real(m) + "-upgraded" if m == "json" else
                        real(m))
    assert Counted().count() == 3 and Counted.asked == 2  # json reinstalled: counted again


def test_an_unusable_cache_folder_only_costs_the_count(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("OPTBENCH_CACHE_DIR", str(blocker / "cache"))
    Counted.asked = 0
    assert Counted().count() == 3 and Counted().count() == 3 and Counted.asked == 2
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / _cache.MEMO).write_text("{not json")
    monkeypatch.setenv("OPTBENCH_CACHE_DIR", str(tmp_path / "bad"))
    assert Counted().count() == 3 and Counted.asked == 3
    assert Counted().count() == 3 and Counted.asked == 3  # the broken memo was replaced


def test_stamp_names_the_installed_file():
    where, size, mtime = _cache.stamp("json").rsplit(":", 2)
    assert where.endswith("json/__init__.py") and int(size) > 0 and int(mtime) > 0
    assert _cache.stamp("no_such_module_here") is None
