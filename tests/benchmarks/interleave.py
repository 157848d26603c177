"""Ratios of two timings taken side by side: on a shared machine, pytest-benchmark's groups run
one test after the other, so load that comes and goes lands on one side. Here each round times
the subject and the baseline back to back (in alternating order) and the ratio is the median of
the rounds' ratios. ``interleaved_times`` does the same for several functions at once."""

import math
import os
import statistics
from collections.abc import Callable
from time import perf_counter


def timed(f, number: int) -> float:
    start = perf_counter()
    for _ in range(number):
        f()
    return perf_counter() - start


def interleaved_times(functions: dict[str, Callable[[], object]], rounds: int, number: int = 1,
                      ) -> dict[str, list[float]]:
    """Each function's time (``number`` calls) in each of ``rounds`` rounds; a round times them
    one after the other, in the given order on even rounds and in reverse on odd ones."""
    times = {name: [] for name in functions}
    for k in range(rounds):
        for name in list(functions)[:: -1 if k % 2 else 1]:
            times[name].append(timed(functions[name], number))
    return times


def described(ratios: list[float], rounds: str) -> str:
    """'median (median of ``rounds``, quartiles, load)', the line a benchmark prints."""
    low, _, high = statistics.quantiles(ratios, n=4)
    return (f"{statistics.median(ratios):.3f} (median of {rounds}, quartiles {low:.3f}-{high:.3f}, "
            f"load {os.getloadavg()[0]:.1f})")


def interleaved_ratio(subject, baseline, rounds: int = 31, number: int | None = None,
                      ) -> tuple[float, str]:
    """(median of subject time / baseline time over ``rounds``, a line saying so with the
    load); each timing is ``number`` calls (default: enough for 50 ms of the baseline)."""
    number = number or max(1, math.ceil(0.05 / timed(baseline, 1)))
    times = interleaved_times({"subject": subject, "baseline": baseline}, rounds, number)
    ratios = [s / b for s, b in zip(times["subject"], times["baseline"], strict=True)]
    return (statistics.median(ratios),
            described(ratios, f"{rounds} interleaved rounds of {number} calls"))
