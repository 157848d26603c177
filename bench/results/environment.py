"""What the numbers of a results folder were measured on (environment.json)."""

from __future__ import annotations

import contextlib
import os
import platform
from pathlib import Path
from typing import Any


def environment() -> dict[str, Any]:
    """What the numbers were measured on: versions, CPU, BLAS libraries and their threads."""
    from importlib.metadata import PackageNotFoundError, version

    from threadpoolctl import threadpool_info

    versions = {}
    for dist in ("optbench", "numpy", "scipy", "pandas", "matplotlib", "pyarrow", "pydantic",
                 "scikit-learn", "threadpoolctl", "dask", "distributed", "optuna"):
        with contextlib.suppress(PackageNotFoundError):
            versions[dist] = version(dist)
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


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()
