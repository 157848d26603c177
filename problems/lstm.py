"""A character-level LSTM language model (the from-scratch LSTM thread's network), trained by BPTT.

One LSTM layer over one-hot characters x_t, with z_t = [h_{t-1}; x_t] and h_{-1} = c_{-1} = 0:

    f_t = σ(W_f z_t + b_f)      i_t = σ(W_i z_t + b_i)      o_t = σ(W_o z_t + b_o)
    C̄_t = tanh(W_C z_t + b_C)   c_t = f_t ⊙ c_{t-1} + i_t ⊙ C̄_t   h_t = o_t ⊙ tanh(c_t)
    p_t = softmax(W_v h_t + b_v)        J = −1/(B T) Σ_{b,t} log p_t[x_{t+1}]

the mean cross-entropy per character. Backpropagation through time, with a the gates'
pre-activations, δc carried backwards from δc_T = 0 and δh_t = W_vᵀ (p_t − onehot) / (BT)
+ Σ_gates W_·hᵀ δa_{t+1}:

    δc_t = δc_{t+1} ⊙ f_{t+1} + δh_t ⊙ o_t ⊙ (1 − tanh² c_t)
    δa_f = δc_t ⊙ c_{t-1} ⊙ f(1−f)   δa_i = δc_t ⊙ C̄ ⊙ i(1−i)   δa_o = δh_t ⊙ tanh c_t ⊙ o(1−o)
    δa_C = δc_t ⊙ i ⊙ (1 − C̄²)       ∇W_· = Σ_t δa_·ᵀ z_t,  ∇b_· = Σ_t δa_·.

The from-scratch LSTM thread's failure modes are avoided: no sigmoid before the softmax, and the
loss is per character, so knowing nothing scores ln V (the thread's 370 per 100 characters is
3.7, summed).

theta is W_f, W_i, W_o, W_C (each H × (H+V), row-major, columns [h | x] as in z), b_f, b_i, b_o,
b_C, W_v (V × H), b_v; ``blocks`` names each. The minibatch (``batch`` windows of ``seq_len`` + 1
characters) is drawn once, at construction, from ``seed``: the objective stays one deterministic
function, so value and gradient agree and L-BFGS-B and gradient checks apply. Left null (the
default), ``seed`` is the run's seed (``run_seeded``), so each seed of a sweep trains on its own
minibatch from its own initial weights; built directly, a null seed means 0.

Speed: the recurrent products per step and the batched output and weight-gradient products are
the unavoidable cost. x_t is one-hot, so W_x x_t is a row lookup and ∇W_x a sparse product. Each
step's recurrent product adds itself onto the lookup in place (BLAS's dgemm with β = 1). All four
gates take one np.tanh: the sigmoid gates' rows are scaled by 1/2, so that σ(a) = (1 +
tanh(a/2))/2, no exponential overflows and no reciprocal is taken. The gate values are stored
gate-major (T, 4, B, H), so every element-wise pass of a step runs over a contiguous B × H block
(a column slice of B × 4H is about 2.5× slower per pass at this size), and BPTT writes each
step's δa into the (T·B) × 4H layout that the weight-gradient products read.

Reference: S. Hochreiter & J. Schmidhuber, "Long short-term memory", Neural Computation 9(8),
1997; the forget gate: F. Gers, J. Schmidhuber & F. Cummins, "Learning to forget", 2000.
The bundled text (problems/data/public_domain.txt, ~47 KB, 76 symbols) is public-domain verse and
prose of 1611–1916 (Lincoln, the Declaration, the Bill of Rights, the King James Bible,
Shakespeare, Blake, Poe, Dickinson, Frost...) transcribed from memory; small departures from the
standard editions are possible and do not matter here.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import scipy.sparse
from scipy.linalg.blas import dgemm

from .base import Problem, check_number
from .datasets import DataError


def read_text(text: str | dict) -> str:
    """The bundled text for ``'bundled'``, or the UTF-8 file given as ``{path: FILE}``."""
    if text == "bundled":
        return (Path(__file__).parent / "data" / "public_domain.txt").read_text("utf-8")
    if not (isinstance(text, dict) and set(text) == {"path"}):
        raise ValueError(f"lstm: parameter 'text' must be 'bundled' or {{path: FILE}}, "
                         f"got {text!r}")
    path = Path(text["path"]).expanduser()
    if not path.is_file():
        raise DataError(f"lstm: parameter 'text': file {str(path)!r} does not exist")
    try:
        return path.read_text("utf-8")
    except UnicodeDecodeError as e:
        raise DataError(f"lstm: parameter 'text': {path} is not UTF-8 text ({e.reason})") from None


def _add_product(a: np.ndarray, b: np.ndarray, out: np.ndarray, transpose_b: bool = True) -> None:
    """out += a bᵀ (or a b) for C-ordered arrays, by dgemm with β = 1: no temporary, no add pass.

    BLAS is column-major, where a C-ordered array reads as its transpose, so the call computes
    outᵀ += op(b)ᵀ aᵀ on the transposed views, none of which is copied.
    """
    outT = out.T
    r = dgemm(1.0, b.T, a.T, 1.0, outT, trans_a=transpose_b, overwrite_c=1)
    if r is not outT:  # f2py copied ``out`` (not contiguous): write the result back
        out[...] = r.T


class LSTM(Problem):
    name = "lstm"
    run_seeded = "seed"  # a null seed takes the run's: each run its own minibatch
    param_docs = {
        "hidden": "H, size of the LSTM state",
        "seq_len": "T, characters per sequence (steps of backpropagation through time)",
        "batch": "B, sequences in the (fixed) minibatch",
        "seed": "draws the fixed minibatch windows; null: the run's seed (0 outside a run)",
        "text": "'bundled' (~47 KB of public-domain verse and prose) or {path: FILE} (UTF-8)",
    }

    def __init__(
        self,
        hidden: int = 32,
        seq_len: int = 25,
        batch: int = 16,
        seed: int | None = None,
        text: str | dict = "bundled",
    ):
        owner = self.name
        self.hidden = H = check_number(owner, "hidden", hidden, low=1, integer=True)
        self.seq_len = T = check_number(owner, "seq_len", seq_len, low=1, integer=True)
        self.batch = B = check_number(owner, "batch", batch, low=1, integer=True)
        self.seed = 0 if seed is None else check_number(owner, "seed", seed, low=0, integer=True)
        self.text = read_text(text)
        self.vocab = sorted(set(self.text))
        self.V = V = len(self.vocab)
        if V < 2 or len(self.text) < T + 1:
            raise DataError(
                f"lstm: parameter 'text' must hold at least seq_len + 1 = {T + 1} characters "
                f"and 2 distinct ones, got {len(self.text)} and {V}"
            )
        self.code = {ch: k for k, ch in enumerate(self.vocab)}
        ids = np.array([self.code[ch] for ch in self.text], dtype=np.intp)
        starts = np.random.default_rng(self.seed).integers(0, ids.size - T, size=B)
        window = ids[starts[None, :] + np.arange(T + 1)[:, None]]  # (T+1, B)
        self.inputs, self.targets = window[:-1].copy(), window[1:].reshape(-1).copy()
        self._rows = np.arange(T * B)
        self._onehot = scipy.sparse.csr_array(  # ∇W_xᵀ = onehot @ δa
            (np.ones(T * B), (self.inputs.reshape(-1), self._rows)), shape=(V, T * B))
        self._nw = 4 * H * (H + V)
        self.dim = self._nw + 4 * H + V * H + V
        # 1/2 on the sigmoid gates' rows: one tanh gives them σ(a) = (1 + tanh(a/2))/2
        self._scale = np.repeat([0.5, 0.5, 0.5, 1.0], H)
        self._buffers: dict[str, np.ndarray] = {}

    @property
    def blocks(self) -> dict[str, slice]:
        H, V = self.hidden, self.V
        names = ["W_f", "W_i", "W_o", "W_C", "b_f", "b_i", "b_o", "b_C", "W_v", "b_v"]
        ends = np.cumsum([H * (H + V)] * 4 + [H] * 4 + [V * H, V])
        return {n: slice(int(a), int(e)) for n, a, e in zip(names, [0, *ends], ends, strict=False)}

    def unpack(self, theta: np.ndarray):
        """Views (W, b, W_v, b_v) into theta; W = [W_f; W_i; W_o; W_C] is 4H × (H+V)."""
        H, V, nw = self.hidden, self.V, self._nw
        return (theta[:nw].reshape(4 * H, H + V), theta[nw : nw + 4 * H],
                theta[nw + 4 * H : nw + 4 * H + V * H].reshape(V, H), theta[nw + 4 * H + V * H :])

    def initial_point(self, rng: np.random.Generator) -> np.ndarray:
        """Input columns W_·x uniform in ±1, like an embedding table (a one-hot x_t picks one
        column); recurrent and output weights uniform in ±1/sqrt(H); biases 0 except the forget
        gate's, 1 (Gers et al.). The loss starts within a few hundredths of ln V."""
        H = self.hidden
        theta = rng.uniform(-1.0, 1.0, self.dim)
        W, b, W_v, b_v = self.unpack(theta)
        W[:, :H] /= math.sqrt(H)
        W_v /= math.sqrt(H)
        b[:] = 0.0
        b[:H] = 1.0
        b_v[:] = 0.0
        return theta

    def _buffer(self, key: str, shape: tuple[int, ...]) -> np.ndarray:
        buf = self._buffers.get(key)
        if buf is None:
            buf = self._buffers[key] = np.zeros(shape)
        return buf

    def _scaled(self, W: np.ndarray, b: np.ndarray):
        """W_h·s and the input table (W_xᵀ + b)·s, s the per-row scales (1/2 on sigmoid rows)."""
        H, V = self.hidden, self.V
        Whs = np.multiply(W[:, :H], self._scale[:, None], out=self._buffer("Whs", (4 * H, H)))
        table = np.add(W[:, H:].T, b, out=self._buffer("table", (V, 4 * H)))
        table *= self._scale
        return Whs, table

    @staticmethod
    def _cell(Z, g, c_prev, c, tc, h, tmp) -> None:
        """One step. Z = [a_f, a_i, a_o, 2a_C]/2 (B × 4H); writes g = [f, i, o, C̄] (4, B, H)."""
        B, H = c.shape
        np.tanh(Z.reshape(B, 4, H), out=g.transpose(1, 0, 2))
        sig = g[:3]
        sig *= 0.5
        sig += 0.5  # σ(a) = (1 + tanh(a/2))/2
        f, i, o, cb = g
        np.multiply(f, c_prev, out=c)
        np.multiply(i, cb, out=tmp)
        c += tmp
        np.tanh(c, out=tc)
        np.multiply(o, tc, out=h)

    def _forward(self, theta: np.ndarray) -> float:
        """The loss; leaves gates, states and dlogits·(BT) = p − onehot in the buffers."""
        H, T, B, V = self.hidden, self.seq_len, self.batch, self.V
        W, b, W_v, b_v = self.unpack(theta)
        Whs, table = self._scaled(W, b)
        Z = self._buffer("Z", (B, 4 * H))  # one step's, so it stays in cache
        G = self._buffer("G", (T, 4, B, H))
        C = self._buffer("C", (T + 1, B, H))  # C[0] = 0, C[t+1] = c_t
        TC = self._buffer("TC", (T, B, H))
        Hs = self._buffer("Hs", (T + 1, B, H))  # Hs[0] = 0, Hs[t+1] = h_t
        tmp = self._buffer("tmp", (B, H))
        for t in range(T):
            np.take(table, self.inputs[t], axis=0, out=Z)
            if t:
                _add_product(Hs[t], Whs, Z)
            self._cell(Z, G[t], C[t], C[t + 1], TC[t], Hs[t + 1], tmp)
        logits = np.matmul(Hs[1:].reshape(T * B, H), W_v.T, out=self._buffer("P", (T * B, V)))
        logits += b_v
        logits -= logits.max(axis=1, keepdims=True)
        picked = logits[self._rows, self.targets]
        np.exp(logits, out=logits)
        total = logits.sum(axis=1)
        loss = (float(np.log(total).sum()) - float(picked.sum())) / (T * B)
        logits /= total[:, None]  # now p
        return loss

    def value(self, theta: np.ndarray) -> float:
        return self._forward(np.asarray(theta, dtype=float))

    def value_and_grad(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        theta = np.asarray(theta, dtype=float)
        loss = self._forward(theta)
        H, T, B = self.hidden, self.seq_len, self.batch
        W, _, W_v, _ = self.unpack(theta)
        grad = np.empty(self.dim)
        gW, gb, gW_v, gb_v = self.unpack(grad)
        P, G, C, TC, Hs = (self._buffers[k] for k in ("P", "G", "C", "TC", "Hs"))
        P[self._rows, self.targets] -= 1.0
        P /= T * B  # δlogits
        dH = np.matmul(P, W_v, out=self._buffer("dH", (T * B, H))).reshape(T, B, H)
        np.matmul(P.T, Hs[1:].reshape(T * B, H), out=gW_v)
        P.sum(axis=0, out=gb_v)
        W_h = self._buffer("W_h", (4 * H, H))
        W_h[...] = W[:, :H]  # contiguous: dgemm takes it without a copy on every step
        dA = self._buffer("dA", (T, B, 4 * H))
        dc, t1 = self._buffer("dc", (B, H)), self._buffer("t1", (B, H))
        S = self._buffer("S", (3, B, H))
        dc[:] = 0.0
        for t in range(T - 1, -1, -1):
            if t + 1 < T:
                _add_product(dA[t + 1], W_h, dH[t], transpose_b=False)  # δh_t
            self._cell_backward(G[t], dH[t], dc, C[t], TC[t], dA[t], t1, S)
        dA = dA.reshape(T * B, 4 * H)
        np.matmul(dA.T, Hs[:-1].reshape(T * B, H), out=gW[:, :H])
        dWxT = self._onehot @ dA
        gW[:, H:] = dWxT.T
        dWxT.sum(axis=0, out=gb)  # every row of δa belongs to exactly one character
        return loss, grad

    @staticmethod
    def _cell_backward(g, dh, dc, c_prev, tc, da, t1, S) -> None:
        """Step t of BPTT: δa_t into da (B × 4H), dc ← δc_t ⊙ f_t (what step t−1 receives)."""
        B, H = dh.shape
        f, i, o, cb = g
        np.multiply(tc, tc, out=t1)
        np.subtract(1.0, t1, out=t1)
        t1 *= o
        t1 *= dh
        dc += t1  # δc_t
        da = da.reshape(B, 4, H)
        np.multiply(cb, cb, out=t1)
        np.subtract(1.0, t1, out=t1)
        t1 *= i
        np.multiply(t1, dc, out=da[:, 3])  # δa_C = δc ⊙ i ⊙ (1 − C̄²)
        sig = g[:3]
        np.subtract(1.0, sig, out=S)
        S *= sig  # σ'(a) = σ(1 − σ) for f, i, o
        S[0] *= c_prev
        S[1] *= cb
        S[2] *= tc
        np.multiply(S[:2], dc, out=da[:, :2].transpose(1, 0, 2))  # δa_f, δa_i
        np.multiply(S[2], dh, out=da[:, 2])  # δa_o = δh ⊙ tanh c ⊙ σ'(a_o)
        dc *= f

    def generate(self, theta: np.ndarray, prompt: str, n: int, rng: np.random.Generator,
                 temperature: float = 1.0) -> str:
        """Read ``prompt``, then sample ``n`` characters from softmax(logits / temperature)."""
        unknown = sorted(set(prompt) - set(self.code))
        if not prompt or unknown:
            raise ValueError(f"lstm: the prompt must be non-empty text over the vocabulary; "
                             f"unknown characters: {unknown!r}")
        W, b, W_v, b_v = self.unpack(np.asarray(theta, dtype=float))
        Whs, table = self._scaled(W, b)
        c, h, tc, tmp = np.zeros((4, 1, self.hidden))
        Z, g = np.empty((1, 4 * self.hidden)), np.empty((4, 1, self.hidden))

        def read(k: int) -> np.ndarray:  # one step on character k; the next logits
            np.add(table[k], h @ Whs.T, out=Z)
            self._cell(Z, g, c, c, tc, h, tmp)
            return (W_v @ h[0] + b_v) / temperature

        out = []
        for ch in prompt[:-1]:
            read(self.code[ch])
        k = self.code[prompt[-1]]
        for _ in range(n):
            logits = read(k)
            p = np.exp(logits - logits.max())
            k = int(rng.choice(self.V, p=p / p.sum()))
            out.append(self.vocab[k])
        return "".join(out)

    def describe(self) -> str:
        return (f"LSTM char model H={self.hidden}, V={self.V}, T={self.seq_len}, "
                f"B={self.batch} (dim {self.dim})")
