"""Benchmarks run with ``pytest tests/benchmarks --benchmark-enable``.

BLAS is pinned to one thread (two threads measure 2-8x slower on a shared 2-core machine).
At the end, each group's medians are printed as ratios to the group's ``baseline`` benchmark,
so a figure like "value_and_grad / five matmuls = 1.12" comes from one run, side by side.
"""

import pytest
from threadpoolctl import threadpool_limits


@pytest.fixture(scope="session", autouse=True)
def one_blas_thread():
    with threadpool_limits(1):
        yield


def pytest_terminal_summary(terminalreporter, config):
    session = getattr(config, "_benchmarksession", None)
    if session is None or not session.benchmarks:
        return
    groups: dict[str, list] = {}
    for bench in session.benchmarks:
        groups.setdefault(bench.group or "", []).append(bench)
    lines = []
    for group, benches in groups.items():
        base = [b for b in benches if "baseline" in b.name]
        if not base:
            continue
        ref = base[0].stats.median
        for b in benches:
            if b is not base[0]:
                lines.append(f"{group}: {b.name} / {base[0].name} = {b.stats.median / ref:.3f}")
    if lines:
        terminalreporter.section("ratios to baseline (medians)")
        for line in lines:
            terminalreporter.write_line(line)
