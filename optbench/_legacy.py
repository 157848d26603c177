"""Plugins written for optbench 0.1 import ``problems``, ``optimizers`` and
``optbench_registry`` as top-level modules; those names now live under ``optbench.``.

A finder placed last on ``sys.meta_path`` answers those three names with the ``optbench``
modules, and only when nothing else on ``sys.path`` provides them: a user's own ``problems.py``
still wins, for the user and for a plugin beside it.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import sys

ALIASES = {"problems": "optbench.problems", "optimizers": "optbench.optimizers",
           "optbench_registry": "optbench.registry"}


class _Alias:  # a meta path finder and its loader (duck-typed: importlib.abc costs 5 ms)
    def find_spec(self, fullname, path=None, target=None):
        if fullname.partition(".")[0] not in ALIASES:
            return None
        return importlib.machinery.ModuleSpec(fullname, self)

    def create_module(self, spec):
        top, dot, rest = spec.name.partition(".")
        module = importlib.import_module(ALIASES[top] + dot + rest)  # the same module object
        # the import system stamps the alias's spec on the module it gets: keep its own
        _OWN[id(module)] = {a: vars(module)[a] for a in _STAMPED if a in vars(module)}
        return module

    def exec_module(self, module):
        vars(module).update(_OWN.pop(id(module), {}))  # executed already, under its own name


_OWN: dict[int, dict] = {}
_STAMPED = ("__name__", "__spec__", "__loader__", "__package__", "__path__", "__file__",
            "__cached__")


def install() -> None:
    if not any(isinstance(f, _Alias) for f in sys.meta_path):
        sys.meta_path.append(_Alias())
