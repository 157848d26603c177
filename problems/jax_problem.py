"""A JAX loss as a problem: value and exact gradient from jax.value_and_grad (optbench[jax]).

Write the loss once, as a function of a pytree of parameters (a dict of arrays, a list, a
NamedTuple...), and the optimizers get its gradient by automatic differentiation::

    import jax.numpy as jnp, optbench

    def loss(p):
        return jnp.mean((X @ p["w"] + p["b"] - y) ** 2)

    prob = optbench.jax_problem(loss, {"w": jnp.zeros(3), "b": 0.0})
    optbench.check_gradient(prob)          # one block per leaf: w, b
    optbench.run(prob, "lbfgsb")

The pytree is flattened into one float64 vector x with ``jax.flatten_util.ravel_pytree`` (leaves
in the pytree's order, each row-major: a dict's keys sorted); ``loss`` sees the pytree. Value and
gradient are one jit-compiled ``jax.value_and_grad`` call, value alone a jit-compiled ``loss``.
Computation is in float64: building a jax_problem turns on ``jax_enable_x64`` for the process
(JAX's default is float32, whose rounding would drown the gradient check and the comparison of
optimizers), and the parameters are cast to float64. Each leaf is a block of the gradient check,
named by its key path (``w``, ``layers.0.W``).

The start is ``params0`` (the same for every seed) unless ``x0`` says otherwise: a pytree like
``params0``, a flat vector, or a function of a ``numpy.random.Generator`` giving either.
"""

from __future__ import annotations

import reprlib
from collections.abc import Callable
from typing import Any

import numpy as np

from optbench.errors import ParameterError, UsageError

from .base import Problem

__all__ = ["JaxLoss", "JaxProblem", "jax_problem"]

EXTRA = "jax_problem needs jax: pip install 'optbench[jax]'"


def _jax():
    try:
        import jax
        import jax.flatten_util
    except ImportError:
        raise UsageError(EXTRA) from None
    jax.config.update("jax_enable_x64", True)
    return jax


class JaxProblem(Problem):
    """A JAX loss of a pytree of parameters; see ``jax_problem()`` for its arguments."""

    def __init__(self, loss: Callable, params0: Any, *, x0: Any = None,
                 name: str | None = None, bounds: Any = None, f_opt: float | None = None,
                 x_opt: Any = None):
        jax = _jax()
        self.name = name or getattr(loss, "__name__", "") or "jax_loss"
        if self.name == "<lambda>":
            self.name = "jax_loss"
        owner = f"problem {self.name!r}"
        if not callable(loss):
            raise ParameterError(f"{owner}: loss must be callable, got {type(loss).__name__}",
                                 "loss")
        self._args = (loss, params0, x0, name, bounds, f_opt, x_opt)  # to rebuild in a worker
        leaves = jax.tree_util.tree_flatten_with_path(params0)[0]
        for path, leaf in leaves:
            kind = np.asarray(leaf).dtype
            if not (np.issubdtype(kind, np.floating) or np.issubdtype(kind, np.integer)):
                what = f"{reprlib.repr(leaf)} ({kind})"
                raise ParameterError(f"{owner}: params0 must be a pytree of number arrays; its "
                                     f"leaf {_path_name(path)!r} is {what}", "params0")
        if not any(np.size(leaf) for _, leaf in leaves):
            raise ParameterError(f"{owner}: params0 holds no parameters (no leaf with a "
                                 f"number), got {reprlib.repr(params0)}", "params0")
        params0 = jax.tree_util.tree_map(lambda a: jax.numpy.asarray(a, dtype="float64"),
                                         params0)
        flat, self._unravel = jax.flatten_util.ravel_pytree(params0)
        self.dim = int(flat.size)
        self._x_params0 = np.array(flat, dtype=float)
        self._blocks = _blocks(leaves)

        def flat_loss(theta):
            return loss(self._unravel(theta))

        self._value = jax.jit(flat_loss)
        self._value_and_grad = jax.jit(jax.value_and_grad(flat_loss))
        self._x0 = x0
        self.bounds = None if bounds is None else tuple(
            np.broadcast_to(np.asarray(b, dtype=float), (self.dim,)).copy() for b in bounds)
        self.f_opt = None if f_opt is None else float(f_opt)
        self.x_opt = None if x_opt is None else self.flatten(x_opt)

    # -- the contract ------------------------------------------------------------------------
    def value(self, x: np.ndarray) -> float:
        return float(self._value(self.as_point(x)))

    def value_and_grad(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        f, g = self._value_and_grad(self.as_point(x))
        return float(f), np.array(g, dtype=float)

    def initial_point(self, rng: np.random.Generator) -> np.ndarray:
        if self._x0 is None:
            return self._x_params0.copy()
        return self.flatten(self._x0(rng) if callable(self._x0) else self._x0)

    @property
    def blocks(self) -> dict[str, slice]:
        return self._blocks

    # -- between the flat vector and the pytree ------------------------------------------------
    def flatten(self, params: Any) -> np.ndarray:
        """A pytree like ``params0`` (or a flat vector) as the float64 vector x."""
        if isinstance(params, np.ndarray) and params.ndim == 1 and params.size == self.dim:
            return params.astype(float)
        jax = _jax()
        flat = np.array(jax.flatten_util.ravel_pytree(params)[0], dtype=float)
        if flat.shape != (self.dim,):
            raise ParameterError(f"problem {self.name!r}: expected a pytree like params0 "
                                 f"({self.dim} numbers), got {flat.size}", "x0")
        return flat

    def unflatten(self, x: np.ndarray) -> Any:
        """The pytree of parameters a vector x stands for (e.g. a run's final x)."""
        return self._unravel(self.as_point(x))

    def __reduce__(self):  # compiled functions do not pickle: a worker rebuilds them
        loss, params0, x0, name, bounds, f_opt, x_opt = self._args
        return _rebuild, (loss, _as_numpy(params0), x0, name, bounds, f_opt, x_opt)


class JaxLoss(JaxProblem):
    """A JAX loss named in a sweep config: ``- jax: {loss: losses.py:loss, params0: ...}``.

    ``loss`` names a function ``loss(params) -> scalar`` as ``module:name`` or ``file.py:name``
    (relative to the config, as file plugins are); ``params0`` a pytree of arrays the same way
    (or a function of no arguments giving one), or is written out as a mapping of numbers and
    lists. ``x0`` and ``x_opt`` take a name or a flat list. The harness imports what they name
    (``object_params``); value and gradient are ``jax_problem``'s.
    """

    name = "jax"
    object_params = ("loss", "params0", "x0", "x_opt")
    list_params = {"x0": 1, "x_opt": 1}
    param_docs = {
        "loss": "module:function or file.py:function: loss(params) -> scalar, in jax.numpy",
        "params0": "module:name or file.py:name of the parameters' pytree (or of a function "
                   "of no arguments giving it), or a mapping of numbers and lists",
        "x0": "the start (default params0): a name, as params0, or a flat list",
        "x_opt": "the known minimizer, if any: a name or a flat list",
        "f_opt": "the known minimum, if any",
        "name": "the problem's name in tables and figures (default jax(loss=..., ...))",
    }

    def __init__(self, loss: Any, params0: Any, x0: Any = None, x_opt: Any = None,
                 f_opt: float | None = None, name: str | None = None):
        for param, value in (("loss", loss), ("params0", params0), ("x0", x0)):
            if isinstance(value, str):
                raise ParameterError(f"problem 'jax': {param} {value!r} is a name: only a "
                                     "sweep config or `optbench check` imports what it names; "
                                     "from Python pass the object", param)
        if not callable(loss):
            raise ParameterError(f"problem 'jax': loss must be a function of the parameters, "
                                 f"got {type(loss).__name__} {reprlib.repr(loss)}", "loss")
        if callable(params0) and not hasattr(params0, "shape"):
            params0 = _call(params0, "params0")
        super().__init__(loss, _arrays(params0), x0=x0, name=name or "jax", f_opt=f_opt,
                         x_opt=x_opt)
        _check_scalar(loss, self._unravel(np.asarray(self._x_params0)))

    @classmethod
    def title(cls, params: dict[str, Any]) -> str | None:
        return params.get("name") or None


def _arrays(tree: Any) -> Any:
    """Parameters as written in YAML: each list of numbers (nested or not) is one array."""
    if isinstance(tree, dict):
        return {k: _arrays(v) for k, v in tree.items()}
    if isinstance(tree, list):
        try:
            array = np.asarray(tree, dtype=float)
        except (TypeError, ValueError):  # not numbers alone, or ragged: a list of leaves
            return [_arrays(v) for v in tree]
        return array
    return tree


def _call(make: Callable, param: str) -> Any:
    try:
        return make()
    except Exception as e:
        raise ParameterError(f"problem 'jax': {param}() raised {type(e).__name__}: {e}",
                             param) from None


def _check_scalar(loss: Callable, params: Any) -> None:
    """``loss(params0)`` traced (not run): it must give one number."""
    jax = _jax()
    try:
        out = jax.eval_shape(loss, params)
    except Exception as e:
        first = (str(e).splitlines() or [""])[0]
        raise ParameterError(f"problem 'jax': loss(params0) raised {type(e).__name__}: "
                             f"{first}", "loss") from None
    shape = getattr(out, "shape", None)
    if shape is None or tuple(shape) != ():
        got = f"shape {tuple(shape)}" if shape is not None else type(out).__name__
        raise ParameterError(f"problem 'jax': loss must return a scalar, got {got}", "loss")


def _rebuild(loss, params0, x0, name, bounds, f_opt, x_opt) -> JaxProblem:
    return JaxProblem(loss, params0, x0=x0, name=name, bounds=bounds, f_opt=f_opt, x_opt=x_opt)


def _as_numpy(tree: Any) -> Any:
    jax = _jax()
    return jax.tree_util.tree_map(np.asarray, tree)


def _path_name(path: tuple) -> str:
    """``w``, ``layers.0.W``: a leaf's key path as the gradient check names its block."""
    parts = []
    for key in path:
        for attr in ("key", "idx", "name"):  # DictKey / FlattenedIndexKey, SequenceKey, GetAttr
            if hasattr(key, attr):
                parts.append(str(getattr(key, attr)))
                break
        else:
            parts.append(str(key))
    return ".".join(parts) or "x"


def _blocks(leaves: list[tuple[tuple, Any]]) -> dict[str, slice]:
    out, at = {}, 0
    for path, leaf in leaves:
        size = int(np.size(leaf))
        if size:
            out[_path_name(path)] = slice(at, at + size)
        at += size
    return out or {"x": slice(0, 0)}


def jax_problem(loss: Callable, params0: Any, *, x0: Any = None, name: str | None = None,
                bounds: Any = None, f_opt: float | None = None,
                x_opt: Any = None) -> JaxProblem:
    """A problem from a JAX loss of a pytree of parameters, with its exact gradient.

    Args:
        loss: ``loss(params) -> scalar``, written with ``jax.numpy``, for a pytree ``params``
            shaped like ``params0``.
        params0: the parameters' pytree (arrays or numbers as leaves); its structure fixes the
            flattening, and it is the start unless ``x0`` is given.
        x0: the start: a pytree like ``params0``, a flat vector, or a function of a
            ``numpy.random.Generator`` giving either (each run's seed its own start).
        name: the name tables and figures show (default: the loss's ``__name__``).
        bounds: ``(low, high)``, numbers or flat vectors; f_opt, x_opt (a pytree or a flat
            vector): the known minimum and minimizer, when known.

    Turns on ``jax_enable_x64`` for the process (float64, see the module's doc).
    """
    return JaxProblem(loss, params0, x0=x0, name=name, bounds=bounds, f_opt=f_opt, x_opt=x_opt)
