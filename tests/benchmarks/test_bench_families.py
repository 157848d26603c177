"""What a family step costs over the library called directly (issue 15), one group per family.

Each group's ``baseline`` drives the library as its documentation does, on the same problem
with the same evaluations; the other member is the same run through the step interface
(``optimizers.make(...)`` with a PlainOracle, stepped until done). The ratios are printed at
the end of ``pytest tests/benchmarks --benchmark-enable``:

- scipy:BFGS on Rosenbrock 10-D (cheap evaluations: the thread handover at each iteration is
  all there is to see) and scipy:L-BFGS-B on the digits autoencoder (hidden 25, 100 iterations);
- cma: 100 generations on Rosenbrock 10-D, against cma's ask/tell loop;
- nevergrad:TwoPointsDE: 1,000 evaluations on Rosenbrock 10-D, against Nevergrad's ask/tell loop
  (the step interface also asks for the recommendation at each step: it is the iterate);
- optax:adamw: 1,000 steps on Rosenbrock 10-D, against optax's update jitted by hand in float64.

pytest-benchmark runs one benchmark's rounds after the other's, so on a shared machine a change
of load between them shows up as overhead. ``python tests/benchmarks/test_bench_families.py
[ROUNDS]`` times the same pairs interleaved (baseline, stepped, baseline, ...), CPU time and
wall time, and prints the median ratios with the load (``os.getloadavg``) before and after;
the figures in README.md's "### Families" come from it.
"""

import cma
import jax
import jax.numpy as jnp
import nevergrad as ng
import numpy as np
import optax
import pytest
import scipy.optimize as so

from optbench import optimizers
from optbench.optimizers import BudgetExhausted, PlainOracle
from optbench.problems import make

ROUNDS = {"rounds": 9, "iterations": 1, "warmup_rounds": 1}
GENERATIONS, ASKS, UPDATES = 100, 1000, 1000


def steps(name, problem, x0, n=None, **hp):
    """Step ``name`` to its end (or ``n`` steps); the optimizer afterwards."""
    opt = optimizers.make(name, **hp)
    opt.start(PlainOracle(problem), x0)
    try:
        while not opt.converged and (n is None or opt.nit < n):
            opt.step()
    except BudgetExhausted:
        pass
    finally:
        opt.close()
    return opt


@pytest.fixture(scope="module")
def runs():
    return {group: (base, stepped) for group, base, stepped in pairs()}


GROUPS = ["scipy:BFGS rosenbrock-10d", "scipy:L-BFGS-B autoencoder 100 it",
          "cma rosenbrock-10d 100 gen", "nevergrad:TwoPointsDE 1000 ev", "optax:adamw 1000 steps"]


@pytest.mark.parametrize("group", GROUPS)
def test_baseline(benchmark, runs, group):
    benchmark.group = group
    benchmark.pedantic(runs[group][0], **ROUNDS)


@pytest.mark.parametrize("group", GROUPS)
def test_stepped(benchmark, runs, group):
    benchmark.group = group
    base, stepped = runs[group]
    opt = benchmark.pedantic(stepped, **ROUNDS)
    ref = base()
    if group.startswith("scipy"):  # the same run as scipy's, or the figure means nothing
        assert opt.nit == ref.nit and np.array_equal(opt.x, ref.x)
    else:
        assert opt.nit == {"cma": GENERATIONS, "nevergrad": ASKS, "optax": UPDATES}[
            group.split(":")[0].split(" ")[0]]


# -- interleaved, for the README's figures ---------------------------------------------------
def pairs():
    """(group, baseline, stepped): each a no-argument callable doing the group's whole run."""
    problem = make("rosenbrock", dim=10)
    x0 = problem.initial_point(np.random.default_rng(0))
    ae = make("autoencoder", hidden=25)
    ae0 = ae.initial_point(np.random.default_rng(0))
    tx = optax.adamw(1e-3)

    @jax.jit
    def update(params, state, g):
        updates, state = tx.update(g, state, params)
        return optax.apply_updates(params, updates), state

    def cma_loop():
        es = cma.CMAEvolutionStrategy(x0, 0.5, {"seed": 3, "verbose": -9, "verb_log": 0,
                                                "verb_disp": 0})
        for _ in range(GENERATIONS):
            xs = es.ask()
            es.tell(xs, [problem.value(x) for x in xs])
            es.stop()
        return es.result.xfavorite

    def ng_loop():
        param = ng.p.Array(init=x0)
        param.random_state = np.random.RandomState(3)
        opt = ng.optimizers.registry["TwoPointsDE"](parametrization=param, budget=ASKS)
        for _ in range(ASKS):
            c = opt.ask()
            opt.tell(c, problem.value(c.value))
        return opt.recommend().value

    def optax_loop():
        with jax.enable_x64(True):
            params = jnp.asarray(x0)
            state = tx.init(params)
            for _ in range(UPDATES):
                params, state = update(params, state, problem.grad(np.asarray(params)))
            return np.asarray(params)

    return [
        ("scipy:BFGS rosenbrock-10d",
         lambda: so.minimize(problem.value_and_grad, x0, jac=True, method="BFGS"),
         lambda: steps("scipy:BFGS", problem, x0)),
        ("scipy:L-BFGS-B autoencoder 100 it",
         lambda: so.minimize(ae.value_and_grad, ae0, jac=True, method="L-BFGS-B",
                             options={"maxiter": 100}),
         lambda: steps("scipy:L-BFGS-B", ae, ae0, maxiter=100)),
        ("cma rosenbrock-10d 100 gen", cma_loop,
         lambda: steps("cma", problem, x0, GENERATIONS, sigma0=0.5, seed=3)),
        ("nevergrad:TwoPointsDE 1000 ev", ng_loop,
         lambda: steps("nevergrad:TwoPointsDE", problem, x0, ASKS, seed=3)),
        ("optax:adamw 1000 steps", optax_loop,
         lambda: steps("optax:adamw", problem, x0, UPDATES, learning_rate=1e-3)),
    ]


def interleaved(rounds: int = 15) -> None:
    import os
    import statistics
    import time

    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        print(f"load before: {os.getloadavg()}")
        for group, base, stepped in pairs():
            base(), stepped()  # warm up (jit, imports, caches)
            cpu = {"base": [], "stepped": []}
            wall = {"base": [], "stepped": []}
            for _ in range(rounds):
                for key, fn in (("base", base), ("stepped", stepped)):
                    c, w = time.process_time(), time.perf_counter()
                    fn()
                    cpu[key].append(time.process_time() - c)
                    wall[key].append(time.perf_counter() - w)
            med = {k: statistics.median(v) for k, v in cpu.items()}
            medw = {k: statistics.median(v) for k, v in wall.items()}
            print(f"{group}: CPU {med['base'] * 1e3:.2f} ms -> {med['stepped'] * 1e3:.2f} ms "
                  f"= {med['stepped'] / med['base']:.3f}x; wall "
                  f"{medw['stepped'] / medw['base']:.3f}x  (load {os.getloadavg()[0]:.2f})")
        print(f"load after: {os.getloadavg()}")


if __name__ == "__main__":
    import sys

    interleaved(int(sys.argv[1]) if len(sys.argv) > 1 else 15)
