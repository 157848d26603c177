"""The LSTM character model (issue 7): a plain-loop reference, BPTT against central differences,
the loss at initialisation, training with Adam, and text generated from the trained weights."""

import math
import subprocess
import sys
from importlib import resources

import numpy as np
import pytest
from helpers import assert_gradient_per_block

from optbench import optimizers, problems
from optbench.problems.lstm import LSTM

TEXT = "the quick brown fox jumps over the lazy dog; " * 3 + "THE END!\n"


@pytest.fixture
def tiny(tmp_path):
    path = tmp_path / "tiny.txt"
    path.write_text(TEXT, encoding="utf-8")
    return {"path": str(path)}


def windows(p: LSTM) -> list[str]:
    """The minibatch as strings of seq_len + 1 characters, decoded from the problem's indices."""
    T, B = p.seq_len, p.batch
    y = p.targets.reshape(T, B)
    return ["".join(p.vocab[k] for k in [p.inputs[0, b], *y[:, b]]) for b in range(B)]


def plain_lstm_loss(theta, H, vocab, seqs):
    """The seed's equations, one sequence and one time step at a time, written from the paper."""
    V = len(vocab)
    n = H * (H + V)
    W_f, W_i, W_o, W_C = (theta[k * n : (k + 1) * n].reshape(H, H + V) for k in range(4))
    b_f, b_i, b_o, b_C = (theta[4 * n + k * H : 4 * n + (k + 1) * H] for k in range(4))
    W_v = theta[4 * n + 4 * H : 4 * n + 4 * H + V * H].reshape(V, H)
    b_v = theta[4 * n + 4 * H + V * H :]
    assert b_v.size == V

    def sigmoid(a):
        return 1.0 / (1.0 + np.exp(-a))

    total, count = 0.0, 0
    for seq in seqs:
        h, c = np.zeros(H), np.zeros(H)
        for t in range(len(seq) - 1):
            x = np.zeros(V)
            x[vocab.index(seq[t])] = 1.0
            z = np.concatenate([h, x])
            f, i, o = sigmoid(W_f @ z + b_f), sigmoid(W_i @ z + b_i), sigmoid(W_o @ z + b_o)
            c = f * c + i * np.tanh(W_C @ z + b_C)
            h = o * np.tanh(c)
            v = W_v @ h + b_v
            log_norm = math.log(sum(math.exp(vj) for vj in v))
            total += log_norm - v[vocab.index(seq[t + 1])]
            count += 1
    return total / count


def test_value_matches_plain_loops(tiny, rng):
    p = LSTM(hidden=3, seq_len=7, batch=4, text=tiny)
    seqs = windows(p)
    assert all(len(s) == 8 and s in TEXT for s in seqs)
    assert p.vocab == sorted(set(TEXT)) and p.dim == 4 * 3 * (3 + p.V) + 4 * 3 + p.V * 3 + p.V
    for _ in range(3):
        theta = rng.normal(0, 0.7, p.dim)
        ref = plain_lstm_loss(theta, 3, p.vocab, seqs)
        assert p.value(theta) == pytest.approx(ref, rel=1e-12)
        assert p.value_and_grad(theta)[0] == pytest.approx(ref, rel=1e-12)


def test_each_run_draws_its_own_minibatch_from_its_seed(tiny):
    """A null ``seed`` takes the run's seed; an explicit one wins over it."""
    from optbench.bench.plugins import make_problem
    from optbench.bench.run.runner import execute
    from optbench.bench.sweep.spec import Budget, RunSpec, canonical

    params = {"seq_len": 5, "batch": 6, "text": tiny}
    assert windows(make_problem("lstm", params, seed=3)) == windows(LSTM(seed=3, **params))
    assert windows(make_problem("lstm", params, seed=3)) != windows(LSTM(seed=4, **params))
    assert windows(make_problem("lstm", {**params, "seed": 1}, seed=3)) == windows(
        LSTM(seed=1, **params))
    for run_seed in (3, 4):
        spec = RunSpec(problem="lstm", problem_params=canonical({**params, "hidden": 3}),
                       optimizer="adam", optimizer_params="{}", seed=run_seed,
                       budget=Budget(iterations=2))
        rec = execute(spec)
        p = LSTM(hidden=3, seed=run_seed, **params)  # built by hand with the run's seed
        f0 = p.value(p.initial_point(np.random.default_rng(run_seed)))
        assert rec.trace["f"][0] == f0


def test_minibatch_is_fixed_by_seed(tiny, rng):
    a, b = LSTM(seq_len=5, batch=6, text=tiny), LSTM(seq_len=5, batch=6, text=tiny)
    assert windows(a) == windows(b)
    assert windows(LSTM(seq_len=5, batch=6, seed=1, text=tiny)) != windows(a)
    theta = a.initial_point(rng)
    assert a.value(theta) == b.value(theta) == a.value(theta)
    assert np.array_equal(a.grad(theta), b.grad(theta))


@pytest.mark.parametrize("hidden, seq_len, batch", [(4, 6, 3), (2, 1, 5), (5, 9, 1)])
def test_gradient_matches_central_differences_per_block(tiny, rng, hidden, seq_len, batch):
    p = LSTM(hidden=hidden, seq_len=seq_len, batch=batch, text=tiny)
    assert list(p.blocks) == ["W_f", "W_i", "W_o", "W_C", "b_f", "b_i", "b_o", "b_C", "W_v",
                              "b_v"]
    for _ in range(2):
        g = assert_gradient_per_block(p, p.initial_point(rng) + rng.normal(0, 0.3, p.dim))
        if seq_len == 1:  # f_0 multiplies c_{-1} = 0: the forget gate has no effect at all
            assert not g[p.blocks["W_f"]].any() and not g[p.blocks["b_f"]].any()


def test_optbench_check_passes():
    """The default size takes ~7 s (`optbench check lstm`); a shorter sequence checks the same."""
    cmd = ["check", "lstm", "--param", "seq_len=8", "--param", "batch=8"]
    done = subprocess.run([sys.executable, "-m", "optbench", *cmd],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "PASS" in done.stdout


def test_loss_at_initialisation_is_ln_vocabulary():
    p = problems.make("lstm")
    bundled = resources.files("problems").joinpath("data/public_domain.txt").read_text("utf-8")
    assert p.V == len(set(bundled)) == 76 and len(bundled) > 40_000
    for seed in range(5):
        f = p.value(p.initial_point(np.random.default_rng(seed)))
        assert abs(f - math.log(p.V)) < 0.03  # per character; ×100 ≈ 433, the seed's "370"


def test_adam_learns_and_the_model_writes(capsys):
    p = LSTM(hidden=32, seq_len=32, batch=32)
    theta0 = p.initial_point(np.random.default_rng(0))
    theta = optimizers.run(optimizers.make("adam", lr=0.02), optimizers.PlainOracle(p), theta0,
                           300)
    f0, f = p.value(theta0), p.value(theta)
    assert f < 0.3 * math.log(p.V) < f0

    def bigram_hits(s: str) -> float:
        return np.mean([s[k : k + 2] in p.text for k in range(len(s) - 1)])

    trained = p.generate(theta, "The ", 200, np.random.default_rng(1), temperature=0.7)
    untrained = p.generate(theta0, "The ", 200, np.random.default_rng(1), temperature=0.7)
    assert trained == p.generate(theta, "The ", 200, np.random.default_rng(1), temperature=0.7)
    assert len(trained) == 200 and set(trained) <= set(p.vocab)
    assert bigram_hits(trained) > 0.85 and bigram_hits(untrained) < 0.6
    with capsys.disabled():
        print(f"\nloss per character {f0:.3f} -> {f:.3f} after 300 Adam steps; sample:\n"
              f"The {trained}\n")


@pytest.mark.parametrize("scale", [0.0, 1e-3, 1.0, 30.0, 1e4])
def test_value_and_gradient_stay_finite(tiny, rng, scale):
    p = LSTM(hidden=6, seq_len=12, batch=3, text=tiny)
    theta = scale * rng.standard_normal(p.dim)
    f, g = p.value_and_grad(theta)  # RuntimeWarnings (overflow) would fail here
    assert math.isfinite(f) and f >= 0 and np.isfinite(g).all()
    if scale == 0.0:
        assert f == pytest.approx(math.log(p.V), rel=1e-14)


@pytest.mark.parametrize(
    "params, error, needle",
    [({"hidden": 0}, ValueError, "'hidden' must be an integer >= 1"),
     ({"seq_len": 2.5}, ValueError, "'seq_len' must be an integer"),
     ({"batch": -1}, ValueError, "'batch'"),
     ({"seed": -2}, ValueError, "'seed'"),
     ({"text": "shakespeare"}, ValueError, "'text' must be 'bundled' or"),
     ({"text": {"path": "/no/such/file.txt"}}, ValueError, "'text'.*does not exist")],
)
def test_bad_parameters(params, error, needle):
    with pytest.raises(error, match=needle):
        problems.make("lstm", **params)


def test_bad_text_files(tmp_path):
    binary = tmp_path / "binary.txt"
    binary.write_bytes(b"\xff\xfe\x00\x81" * 20)
    with pytest.raises(ValueError, match="'text'.*not UTF-8"):
        problems.make("lstm", text={"path": str(binary)})
    short = tmp_path / "short.txt"
    short.write_text("abcab", encoding="utf-8")
    with pytest.raises(ValueError, match="at least seq_len \\+ 1 = 26"):
        problems.make("lstm", text={"path": str(short)})
    assert problems.make("lstm", seq_len=4, text={"path": str(short)}).V == 3


def test_generate_rejects_unknown_characters(tiny, rng):
    p = LSTM(hidden=3, seq_len=4, batch=2, text=tiny)
    with pytest.raises(ValueError, match="unknown characters: \\['Z'\\]"):
        p.generate(p.initial_point(rng), "Zebra", 5, rng)
