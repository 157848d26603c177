"""COCO's bbob suite as published: its 24 functions' names and their five groups.

Plain data, read by the problem (``problems/bbob.py``) and by the report's COCO measures
(``bench/report/coco.py``), which may not import each other. Names as cocopp prints them
(``bbob-benchmarkshortinfos.txt``); groups as cocopp splits the suite (``separ``, ``lcond``,
``hcond``, ``multi``, ``mult2``). Reference: N. Hansen, S. Finck, R. Ros, A. Auger,
"Real-parameter black-box optimization benchmarking 2009: noiseless functions definitions",
INRIA RR-6829, 2009.
"""

from __future__ import annotations

FUNCTIONS: dict[int, str] = {
    1: "Sphere",
    2: "Ellipsoid separable",
    3: "Rastrigin separable",
    4: "Skew Rastrigin-Bueche",
    5: "Linear slope",
    6: "Attractive sector",
    7: "Step-ellipsoid",
    8: "Rosenbrock original",
    9: "Rosenbrock rotated",
    10: "Ellipsoid",
    11: "Discus",
    12: "Bent cigar",
    13: "Sharp ridge",
    14: "Sum of different powers",
    15: "Rastrigin",
    16: "Weierstrass",
    17: "Schaffer F7, condition 10",
    18: "Schaffer F7, condition 1000",
    19: "Griewank-Rosenbrock F8F2",
    20: "Schwefel x*sin(x)",
    21: "Gallagher 101 peaks",
    22: "Gallagher 21 peaks",
    23: "Katsuura",
    24: "Lunacek bi-Rastrigin",
}

# group -> its functions, in the suite's order
GROUPS: dict[str, tuple[int, ...]] = {
    "separable": (1, 2, 3, 4, 5),
    "moderate": (6, 7, 8, 9),  # low or moderate conditioning
    "ill-conditioned": (10, 11, 12, 13, 14),  # high conditioning, unimodal
    "multi-modal": (15, 16, 17, 18, 19),  # with adequate global structure
    "weakly-structured": (20, 21, 22, 23, 24),  # multi-modal with weak global structure
}


def group_of(function: int) -> str:
    """The group of bbob function ``function`` (1..24)."""
    for group, members in GROUPS.items():
        if function in members:
            return group
    raise KeyError(f"bbob has functions 1..24, not {function!r}")
