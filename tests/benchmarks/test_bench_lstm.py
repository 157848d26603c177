"""LSTM value_and_grad against the matrix products BPTT cannot avoid (issues 7, 13).

Batch 64, T 100, hidden 128, a 60-symbol vocabulary, float64. Target: ratio <= 1.5.

The baseline is the products any implementation of this model has to make: per time step the
forward gate product h_{t-1} W_hᵀ (B × H by H × 4H) and the backward one δa_t W_h; after the loop
the recurrent weight gradient δaᵀ h (4H × BT by BT × H) and the output layer's three (logits,
δlogits W_v, δlogitsᵀ h). The one-hot input makes W_x x_t a lookup, so it has no product here.
``test_interleaved_ratio`` prints the ratio measured side by side (``--benchmark-enable -s``).
"""

import numpy as np
import pytest
from interleave import interleaved_ratio

from optbench.problems.lstm import LSTM

B, T, H, V = 64, 100, 128, 60


@pytest.fixture(scope="module")
def problem(tmp_path_factory):
    rng = np.random.default_rng(0)
    symbols = np.array([chr(c) for c in range(ord("!"), ord("!") + V)])
    path = tmp_path_factory.mktemp("data") / "text.txt"
    path.write_text("".join(rng.choice(symbols, 20_000)), encoding="utf-8")
    p = LSTM(hidden=H, seq_len=T, batch=B, text={"path": str(path)})
    assert p.V == V
    return p, p.initial_point(rng)


def gate_and_output_products(p, theta):
    """The products, on preallocated arrays, as a function."""
    W, _, W_v, _ = p.unpack(theta)
    W_h = np.ascontiguousarray(W[:, :H])
    rng = np.random.default_rng(1)
    hs = rng.uniform(-1, 1, (T + 1, B, H))
    da = rng.standard_normal((T, B, 4 * H))
    gates, dh = np.empty((B, 4 * H)), np.empty((B, H))
    logits, dH = np.empty((T * B, V)), np.empty((T * B, H))
    gW_h, gW_v = np.empty((4 * H, H)), np.empty((V, H))

    def products():
        for t in range(T):
            np.matmul(hs[t], W_h.T, out=gates)
        for t in range(T - 1, -1, -1):
            np.matmul(da[t], W_h, out=dh)
        h2d = hs[1:].reshape(T * B, H)
        np.matmul(da.reshape(T * B, 4 * H).T, hs[:-1].reshape(T * B, H), out=gW_h)
        np.matmul(h2d, W_v.T, out=logits)
        np.matmul(logits, W_v, out=dH)
        np.matmul(logits.T, h2d, out=gW_v)

    return products


@pytest.mark.benchmark(group="lstm B64 T100 H128 V60")
def test_baseline_gate_and_output_products(benchmark, problem):
    benchmark(gate_and_output_products(*problem))


@pytest.mark.benchmark(group="lstm B64 T100 H128 V60")
def test_value_and_grad(benchmark, problem):
    p, theta = problem
    benchmark(p.value_and_grad, theta)


@pytest.mark.benchmark(group="lstm B64 T100 H128 V60")
def test_value(benchmark, problem):
    p, theta = problem
    benchmark(p.value, theta)


def test_interleaved_ratio(problem, benchmark, capsys):
    """The floor as a ratio measured side by side (``interleave.py``): printed, not asserted."""
    p, theta = problem
    products = gate_and_output_products(p, theta)
    short = (2, 1) if benchmark.disabled else ()  # the test suite: two calls of each
    _, line = benchmark.pedantic(
        interleaved_ratio, args=(lambda: p.value_and_grad(theta), products, *(short or (15,))),
        rounds=1)
    if not benchmark.disabled:
        with capsys.disabled():
            print(f"\nlstm B{B} T{T} H{H} V{V}: value_and_grad / products = {line}")
