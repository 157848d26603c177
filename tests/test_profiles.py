"""Performance profiles against profiles worked by hand from a small table, failures included,
and the figure in the reports of a study and of a plain sweep with targets on two problems."""

import math

import pandas as pd
import pytest

import optbench
from optbench.bench.report.profiles import profile, ratios, sweep_times

INF = math.inf
# evaluations to target: p3 is missed by every method, C misses p1, A misses p4
TIMES = {
    "p1": {"A": 100.0, "B": 200.0, "C": INF},
    "p2": {"A": 300.0, "B": 100.0, "C": 150.0},
    "p3": {"A": INF, "B": INF, "C": INF},
    "p4": {"A": INF, "B": 400.0, "C": 100.0},
}
# by hand: r(p, m) = t / min_m t
#        A     B     C
#  p1    1     2     ∞
#  p2    3     1     1.5
#  p3    ∞     ∞     ∞
#  p4    ∞     4     1
# ρ_m(τ) = (# problems with r <= τ) / 4
BY_HAND = {
    1.0: {"A": 1 / 4, "B": 1 / 4, "C": 1 / 4},
    1.5: {"A": 1 / 4, "B": 1 / 4, "C": 2 / 4},
    2.0: {"A": 1 / 4, "B": 2 / 4, "C": 2 / 4},
    3.0: {"A": 2 / 4, "B": 2 / 4, "C": 2 / 4},
    4.0: {"A": 2 / 4, "B": 3 / 4, "C": 2 / 4},
    1e6: {"A": 2 / 4, "B": 3 / 4, "C": 2 / 4},  # failures never count, however large τ
}


def test_ratios_by_hand():
    r = ratios(TIMES, ["A", "B", "C"])
    assert r["p1"] == {"A": 1.0, "B": 2.0, "C": INF}
    assert r["p2"] == {"A": 3.0, "B": 1.0, "C": 1.5}
    assert r["p3"] == {"A": INF, "B": INF, "C": INF}
    assert r["p4"] == {"A": INF, "B": 4.0, "C": 1.0}


def test_profile_by_hand():
    taus = sorted(BY_HAND)
    got = profile(TIMES, ["A", "B", "C"], taus)
    for i, tau in enumerate(taus):
        for m in "ABC":
            assert got[m][i] == pytest.approx(BY_HAND[tau][m]), (tau, m)


def test_a_method_missing_from_a_problem_counts_as_a_failure_there():
    got = profile({"p1": {"A": 10.0}, "p2": {"A": 30.0, "B": 10.0}}, ["A", "B"], [1.0, 3.0])
    assert list(got["A"]) == [0.5, 1.0] and list(got["B"]) == [0.5, 0.5]


def test_sweep_times_are_medians_over_seeds_with_misses_as_infinite():
    rows = []
    for problem, method, costs in [("p", "A", [100, 300, None]), ("p", "B", [50, None, None]),
                                   ("q", "A", [10, 20]), ("none", "A", [1])]:
        for seed, cost in enumerate(costs):
            rows.append({"problem_label": problem, "optimizer_label": method, "seed": seed,
                         "has_target": problem != "none", "target_hit": cost is not None,
                         "fev_to_target": float(cost) if cost is not None else float("nan")})
    times = sweep_times(pd.DataFrame(rows))
    assert times == {"p": {"A": 300.0, "B": INF}, "q": {"A": 15.0}}  # no target: left out


def test_a_sweep_with_targets_on_two_problems_gets_a_profile(tmp_path):
    results = optbench.sweep({
        "name": "two",
        "problems": [{"ackley": {"dim": 2, "x0": [1.0, 0.5]}}, {"ackley": {"dim": 2,
                                                                           "x0": [0.5, 1.0]}}],
        "optimizers": [{"nag": {"lr": [0.01, 0.05], "momentum": 0.5}}, "adam"],
        "budget": {"evaluations": 300}, "targets": {"value": 0.1}, "seeds": 1,
    }, out=tmp_path / "two", workers=0, progress=False, check=False)
    page = results.report()
    assert (results.root / "figures" / "profile-configurations.png").is_file()
    assert "Performance profile" in page.with_suffix(".md").read_text()
