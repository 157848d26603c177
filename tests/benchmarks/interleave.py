"""Ratios of two timings taken side by side: on a shared machine, pytest-benchmark's groups run
one test after the other, so load that comes and goes lands on one side. Here each round times
the subject and the baseline back to back (in alternating order) and the ratio is the median of
the rounds' ratios."""

import math
import os
import statistics
from time import perf_counter


def timed(f, number: int) -> float:
    start = perf_counter()
    for _ in range(number):
        f()
    return perf_counter() - start


def interleaved_ratio(subject, baseline, rounds: int = 31, number: int | None = None,
                      ) -> tuple[float, str]:
    """(median of subject time / baseline time over ``rounds``, a line saying so with the
    load); each timing is ``number`` calls (default: enough for 50 ms of the baseline)."""
    number = number or max(1, math.ceil(0.05 / timed(baseline, 1)))
    ratios = []
    for k in range(rounds):
        if k % 2:
            b, s = timed(baseline, number), timed(subject, number)
        else:
            s, b = timed(subject, number), timed(baseline, number)
        ratios.append(s / b)
    ratio = statistics.median(ratios)
    low, _, high = statistics.quantiles(ratios, n=4)
    return ratio, (f"{ratio:.3f} (median of {rounds} interleaved rounds of {number} calls, "
                   f"quartiles {low:.3f}-{high:.3f}, load {os.getloadavg()[0]:.1f})")
