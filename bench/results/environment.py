"""What the numbers of a results folder were measured on (environment.json)."""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any


def environment() -> dict[str, Any]:
    """What the numbers were measured on: versions, CPU, BLAS libraries and their threads."""
    from threadpoolctl import threadpool_info

    versions = {}
    for dist in ("optbench", "numpy", "scipy", "pandas", "matplotlib", "pyarrow", "pydantic",
                 "scikit-learn", "threadpoolctl", "dask", "distributed", "optuna"):
        found = _version(dist)
        if found is not None:
            versions[dist] = found
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "packages": versions,
        "threadpools": [
            {k: info.get(k) for k in ("internal_api", "version", "num_threads", "architecture")}
            for info in threadpool_info()
        ],
        "runs_use_blas_threads": 1,
    }


def _version(name: str) -> str | None:
    """The installed version of the distribution ``name`` (None if it is not installed), read
    from the Version line of its metadata: ``importlib.metadata.version`` parses the whole file
    as an e-mail, a millisecond a package, at every sweep."""
    from importlib.metadata import PackageNotFoundError, distribution, version

    try:
        dist = distribution(name)
    except PackageNotFoundError:
        return None
    for line in (dist.read_text("METADATA") or dist.read_text("PKG-INFO") or "").splitlines():
        if line.startswith("Version:"):
            return line.partition(":")[2].strip()
        if not line:  # the headers end here
            break
    return version(name)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()
