"""A 2-D problem's landscape: f on a grid over the box its trajectory plot shows, as data.

Computed where the problem can be built (at the end of ``optbench run``: bench/run/landscape.py)
and read by the report, which draws contours from it without building or importing the problem.

    results/<sweep>/landscapes/<key>.npz    key: a hash of the problem's name and parameters
      xs, ys    the grid's coordinates along x₀ and x₁
      z         f(xs[j], ys[i]) in row i, column j; NaN where there is no value (the problem
                raised or gave inf there, or the deadline came first)
      box       [[x₀ low, x₀ high], [x₁ low, x₁ high]], what the grid covers
      problem, problem_params    whose landscape it is
      runs      a digest of the run ids it was drawn for: the same runs, the same box
      note      what the computation had to leave out (a coarser grid, unevaluated rows), or ""

Read with ``allow_pickle=False``: the file holds numbers and text only.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from optbench.bench.sweep.spec import canonical

FOLDER = "landscapes"

Box = tuple[tuple[float, float], tuple[float, float]]


@dataclass(frozen=True)
class Landscape:
    problem: str
    problem_params: str  # canonical JSON, as in the runs' records
    box: Box
    xs: np.ndarray
    ys: np.ndarray
    z: np.ndarray
    runs: str = ""
    note: str = ""

    def covers(self, box: Box) -> bool:
        """Whether the grid spans ``box`` (up to a rounding of its edges)."""
        (a0, a1), (b0, b1) = self.box
        (x0, x1), (y0, y1) = box
        slack = 1e-9 * max(a1 - a0, b1 - b0, 1e-300)
        return a0 <= x0 + slack and x1 <= a1 + slack and b0 <= y0 + slack and y1 <= b1 + slack

    def arrays(self) -> dict[str, np.ndarray]:
        return {"xs": self.xs, "ys": self.ys, "z": self.z,
                "box": np.asarray(self.box, dtype=float), "problem": np.str_(self.problem),
                "problem_params": np.str_(self.problem_params), "runs": np.str_(self.runs),
                "note": np.str_(self.note)}

    @classmethod
    def from_arrays(cls, data) -> Landscape:
        box = np.asarray(data["box"], dtype=float)
        return cls(problem=str(data["problem"]), problem_params=str(data["problem_params"]),
                   box=((float(box[0, 0]), float(box[0, 1])), (float(box[1, 0]), float(box[1, 1]))),
                   xs=np.asarray(data["xs"], dtype=float), ys=np.asarray(data["ys"], dtype=float),
                   z=np.asarray(data["z"], dtype=float), runs=str(data["runs"]),
                   note=str(data["note"]))


def landscape_key(problem: str, problem_params: str) -> str:
    """The file name (without .npz) of a problem's landscape: its name and parameters hashed."""
    return hashlib.sha256(canonical([problem, problem_params]).encode()).hexdigest()[:16]


def runs_digest(run_ids) -> str:
    """One text for a set of run ids: equal sets, equal digests."""
    return hashlib.sha256(canonical(sorted(run_ids)).encode()).hexdigest()[:16]
