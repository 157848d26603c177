"""A small JSON memo in the user's cache folder, for figures that are slow to compute and
fixed by what is installed (a family's member count needs its library imported: seconds).

The folder is ``$OPTBENCH_CACHE_DIR``, else ``$XDG_CACHE_HOME/optbench``, else the platform's
(``~/.cache/optbench``, ``~/Library/Caches/optbench``, ``%LOCALAPPDATA%\\optbench``). A memo that
cannot be read or written is recomputed, never an error: the cache only saves time.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

MEMO = "memo.json"


def cache_dir() -> Path:
    if os.environ.get("OPTBENCH_CACHE_DIR"):
        return Path(os.environ["OPTBENCH_CACHE_DIR"])
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]) / "optbench"
    if sys.platform == "win32" and os.environ.get("LOCALAPPDATA"):
        return Path(os.environ["LOCALAPPDATA"]) / "optbench"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "optbench"
    return Path.home() / ".cache" / "optbench"


def stamp(module: str) -> str | None:
    """What changes when ``module`` is installed anew (an upgrade, a downgrade, an edit): its
    file's path, size and modification time, found without importing it; None if not found."""
    import importlib.util

    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    where = spec.origin if spec is not None and spec.has_location else None
    if where is None and spec is not None and spec.submodule_search_locations:
        where = next(iter(spec.submodule_search_locations), None)
    try:
        st = os.stat(where) if where else None
    except OSError:
        return None
    return f"{where}:{st.st_size}:{st.st_mtime_ns}" if st else None


def memo(name: str, key: str, compute: Callable[[], object]) -> object:
    """``compute()``'s JSON value, kept as ``name`` in the cache folder's memo while ``key``
    (what it depends on, e.g. a library's ``stamp``) stays the same."""
    path = cache_dir() / MEMO
    try:
        kept = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        kept = {}
    kept = kept if isinstance(kept, dict) else {}
    entry = kept.get(name)
    if isinstance(entry, dict) and entry.get("key") == key and "value" in entry:
        return entry["value"]
    value = compute()
    kept[name] = {"key": key, "value": value}
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".memo-", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(kept, f, sort_keys=True, indent=1)
        os.replace(tmp, path)
    except OSError:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    return value
