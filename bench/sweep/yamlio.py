"""YAML as people write it: ``1e-4`` is a number, and a key given twice is an error.

PyYAML follows YAML 1.1, where a float needs a dot (``1.0e-4``) and ``1e-4`` is a string; YAML
1.2, and everyone typing a learning rate, reads both as floats. This loader adds the 1.2 rule.

PyYAML also keeps the last of two equal keys (``adam: {lr: 0.1, lr: 0.2}`` runs lr = 0.2)
although YAML requires keys to be unique; this loader refuses them, naming the key's path.
And it refuses a document whose aliases would expand it past ``ALIAS_LIMIT`` values (a few
hundred bytes of nested aliases can stand for billions), before anything walks the expansion.
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode


class DuplicateKeyError(ConstructorError):
    """A mapping gives one key twice; ``key_path`` is like ``optimizers[0].adam.lr``."""

    def __init__(self, key_path: str, first: yaml.Mark, again: yaml.Mark):
        self.key_path = key_path
        super().__init__(
            None, None,
            f"duplicate key {key_path} (first given on line {first.line + 1}); "
            "each key may appear once in a mapping",
            again,
        )


class TooLarge(yaml.YAMLError):
    """A document that aliases (or nesting) would blow up: refused before it is constructed."""

    def __init__(self, problem: str):
        super().__init__(problem)
        self.problem = problem


# What aliases (``*name``, ``<<: *name``) may add to a document, counting each as a copy of
# what it names. A sweep's reuse of a schedule or a base entry adds tens; a 700-byte "billion
# laughs" document adds billions, which validation and its messages would then walk.
ALIAS_LIMIT = 100_000


class Loader(yaml.SafeLoader):
    def construct_document(self, node: Node) -> Any:
        # checked on the composed tree, before constructing: only there are both keys still
        # visible (construction keeps the last), and the tree gives each key its path
        _refuse_bombs(node)
        _refuse_duplicates(self, node, "", set())
        return super().construct_document(node)


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return node.value
    if isinstance(node, MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def _refuse_bombs(root: Node) -> None:
    """Refuse a tree whose aliases add more than ALIAS_LIMIT nodes, or that contains itself.

    The composed tree shares each anchored node among its aliases, so its expanded size is
    counted in one pass over the distinct nodes (each node's size is computed once).
    """
    cap = 10 * ALIAS_LIMIT  # sizes saturate here: past the limit, the exact count is moot
    sizes: dict[int, int] = {}
    path: set[int] = set()  # the nodes being counted, from the root down to the current one
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, counted = stack.pop()
        key = id(node)
        if counted:
            sizes[key] = min(cap, 1 + sum(sizes[id(c)] for c in _children(node)))
            path.discard(key)
            continue
        if key in sizes:
            continue
        path.add(key)
        stack.append((node, True))
        for child in _children(node):
            if id(child) in path:
                raise TooLarge(f"line {child.start_mark.line + 1}: an alias refers to a node "
                               "that contains it (a recursive anchor); a config cannot hold one")
            if id(child) not in sizes:
                stack.append((child, False))
    added = sizes[id(root)] - len(sizes)
    if added > ALIAS_LIMIT:
        raise TooLarge(f"its aliases (*name) expand it by more than {ALIAS_LIMIT:,} values "
                       f"(an alias bomb?); refused before it is read")


_MERGE = "tag:yaml.org,2002:merge"


def _refuse_duplicates(loader: Loader, node: Node, where: str, seen: set[int]) -> None:
    if id(node) in seen:  # an alias met again (or a recursive anchor): checked already
        return
    seen.add(id(node))
    if isinstance(node, SequenceNode):
        for i, item in enumerate(node.value):
            _refuse_duplicates(loader, item, f"{where}[{i}]", seen)
    elif isinstance(node, MappingNode):
        first: dict[Any, yaml.Mark] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:  # `<<: *base` keys may be overridden: that is the point
                _refuse_duplicates(loader, value_node, where, seen)
                continue
            key = loader.construct_object(key_node) if isinstance(key_node, ScalarNode) \
                else None
            path = f"{where}.{key}" if where else str(key)
            try:
                if key is not None and key in first:
                    raise DuplicateKeyError(path, first[key], key_node.start_mark)
                if key is not None:
                    first[key] = key_node.start_mark
            except TypeError:  # an unhashable key: construction reports it
                pass
            _refuse_duplicates(loader, value_node, path, seen)


Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
        |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+0123456789."),
)


def load(text: str) -> Any:
    """Parse one YAML document safely (no Python objects), with YAML 1.2 floats and unique
    keys; raises ``yaml.YAMLError`` (``DuplicateKeyError`` for a repeated key, ``TooLarge``
    for an alias bomb or nesting deeper than Python's recursion allows)."""
    try:
        return yaml.load(text, Loader=Loader)  # safe: Loader derives from SafeLoader
    except RecursionError:  # PyYAML composes nested nodes recursively
        raise TooLarge("it is nested too deeply to read (thousands of levels)") from None
