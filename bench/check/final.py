"""The gradient check where a method gave up: a ``failed`` run's final point.

A line search that fails is most often a gradient that does not match the value. But a method
also gives up at a kink of a non-smooth function, where the gradient is right on either side and
differences across the kink disagree with it. So the check runs at the final point x and, when
it disagrees there, at ``NEAR`` points around x, each coordinate moved by a Gaussian 10% of
max(1, |x_i|) (the perturbation of ``optbench check``'s extra points): a wrong gradient disagrees
there too, a kink at x does not (the check's smaller steps clear a kink 1e-7 away). Only a
disagreement at x and near it says the gradient is wrong.

A value-only problem's gradient is differences; what is checked at x is what ``optbench check``
checks of it: the value reads x, the same x gives the same value, and differences at two step
sizes agree (else: non-smooth or noisy near x, a note, not a fault).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from optbench.bench.errors import describe
from optbench.bench.results.status import GRADIENT_TOL

from .api import check_gradient
from .value import SMOOTH_TOL

NEAR = 2  # points around x checked when the gradient disagrees at x
COORDS = 16  # coordinates sampled per block, besides random directions (as the entry check)

__all__ = ["FinalCheck", "check_final_point"]


@dataclass(frozen=True)
class FinalCheck:
    """What the check found: ``disagrees`` (the gradient is wrong, or the value-only problem
    is not a function of x), and one clause for the run's message."""

    disagrees: bool
    note: str


def check_final_point(problem, x: np.ndarray, seed: int = 0) -> FinalCheck:
    """Check ``problem``'s gradient at ``x`` (and near it, if it disagrees at x)."""
    try:
        at = _at(problem, x, seed)
        if at.values is not None:
            return _value_only(at)
        if at.passed:
            return FinalCheck(False, "gradient check at the final point: the gradient agrees "
                                     f"with central differences{_worst(at)}")
        rng = np.random.default_rng(seed)
        scale = np.maximum(1.0, np.abs(x))
        near = [_at(problem, x + 0.1 * rng.standard_normal(x.shape) * scale, seed)
                for _ in range(NEAR)]
    except Exception as e:  # the problem raised where the method stopped: its bug
        return FinalCheck(True, f"gradient check at the final point raised {describe(e)}")
    wrong = [c for c in near if not c.passed]
    if not wrong:
        return FinalCheck(False, "gradient check at the final point: the gradient differs from "
                                 f"central differences there{_worst(at)} but agrees at {NEAR} "
                                 "points near it: a kink at the final point (a non-smooth "
                                 "function), not a wrong gradient")
    return FinalCheck(True, "gradient check at the final point: the gradient DISAGREES with "
                            f"central differences{_worst(at)}, and at {len(wrong)} of {NEAR} "
                            "points near it: check it with 'optbench check'")


def _at(problem, x: np.ndarray, seed: int):
    return check_gradient(problem, x, points=0, coords=COORDS, seed=seed, tol=GRADIENT_TOL)


def _worst(check) -> str:
    if check.broken or check.nonfinite or check.mismatch:
        return f" ({check.broken or check.nonfinite or check.mismatch})"
    return f" (worst relative error {check.error:.1e})"


def _value_only(check) -> FinalCheck:
    values = check.values
    if not check.passed:
        why = check.broken or check.nonfinite or values.failure
        return FinalCheck(True, f"check at the final point (value-only problem): {why}")
    if values.rough > SMOOTH_TOL:
        return FinalCheck(False, "check at the final point (value-only problem): differences at "
                                 "two step sizes disagree there (rel. difference "
                                 f"{values.rough:.1e}): non-smooth or noisy near x, where a "
                                 "gradient by differences is unreliable")
    return FinalCheck(False, "check at the final point (value-only problem): the value reads x, "
                             "is deterministic, and differences at two step sizes agree")
