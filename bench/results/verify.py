"""What counts as a stored run: its summary and its trace both read back and agree.

``Store.save`` writes the trace, then the summary, which records the trace's row count and the
sha256 of its bytes; ``verify`` checks both, reading each file only if it is a regular file (a
link, a device or a pipe in runs/ is no run). It is cheap enough to run over every stored run
at every resume (README: measured on 1,000 runs).
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Scan:
    """The runs of a folder, verified: the sound ones' documents and why the others are not."""

    sound: dict[str, dict[str, Any]] = field(default_factory=dict)  # run id -> its JSON
    damaged: dict[str, str] = field(default_factory=dict)  # run id -> what is wrong

    def reasons(self) -> str:
        """``2 trace missing, 1 summary unreadable``."""
        counts = Counter(why.split(":")[0] for why in self.damaged.values())
        return ", ".join(f"{n} {why}" for why, n in counts.most_common())


def listing(damaged: dict[str, str], shown: int = 3) -> str:
    """Damaged runs grouped by what is wrong, a few ids each, for one line: ``trace missing
    (0123456789abcdef); summary unreadable: not the JSON optbench writes (5 runs: a, b, c and 2
    more)``. The most common reason first."""
    by: dict[str, list[str]] = {}
    for rid, why in sorted(damaged.items()):
        by.setdefault(why, []).append(rid)
    parts = []
    for why, ids in sorted(by.items(), key=lambda item: (-len(item[1]), item[0])):
        more = f" and {len(ids) - shown} more" if len(ids) > shown else ""
        which = ", ".join(ids[:shown]) + more
        parts.append(f"{why} ({which})" if len(ids) == 1 else f"{why} ({len(ids)} runs: {which})")
    return "; ".join(parts)


def verify(runs: Path, rid: str) -> tuple[dict[str, Any] | None, str]:
    """Run ``rid``'s document when its summary and its trace read back and agree, else
    (None, what is wrong). Cheap enough for every run at every resume (README: measured)."""
    text = _read_file(runs / f"{rid}.json")
    if text is None:
        return None, "summary missing"
    try:
        doc = json.loads(text)
    except ValueError:  # cut short, empty, not UTF-8, not JSON
        return None, "summary unreadable: not the JSON optbench writes"
    if not (isinstance(doc, dict) and isinstance(doc.get("summary"), dict)
            and isinstance(doc.get("spec"), dict)
            and doc["summary"].get("run_id") == rid):
        return None, "summary incomplete: not the summary of this run"
    data = _read_file(runs / f"{rid}.parquet")
    if data is None:
        return None, "trace missing"
    want = doc.get("trace")
    if want is None:  # written before summaries carried a checksum: the trace must read
        return (doc, "") if _rows(data) is not None else (None, "trace unreadable")
    if not isinstance(want, dict) or hashlib.sha256(data).hexdigest() != want.get("sha256"):
        return None, "trace damaged: its checksum differs from the summary's"
    if _rows(data) != want.get("rows"):
        return None, "trace damaged: its row count differs from the summary's"
    return doc, ""


def _read_file(path: Path) -> bytes | None:
    """The bytes of a regular file (a link, a device or a pipe is not one: None)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        with os.fdopen(os.dup(fd), "rb") as f:
            return f.read()
    except OSError:
        return None
    finally:
        os.close(fd)


def _rows(data: bytes) -> int | None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return pq.read_metadata(pa.BufferReader(data)).num_rows
    except Exception:  # ArrowInvalid and kin: not a parquet file
        return None
