"""What one "must not call" rule forbids, as the grader's own torch answers it.

A name is forbidden when it denotes the same object as a forbidden one (`torch.conv2d`, `F.conv2d`), a
subclass of a forbidden class, or a routine of a forbidden family in an array library (`numpy.convolve`);
on a base the reader cannot follow (`make()().conv2d`), when its last part is a forbidden name's or looks
like its family's. torch is imported only when a rule is read, never at the top.
"""

from __future__ import annotations

import ast
import functools
import re
from collections.abc import Sequence
from typing import Any

from ..families import (
    ARRAY_LIBRARIES,
    ARRAY_ROUTINES,
    OPERATORS,
    PYTHON_EXTRAS,
    PYTHON_NAMESPACES,
    array_routine_family,
)
from .syntax import getattr_literal

_FAMILY_NAME = re.compile(r"^[A-Z]\w*(Conv|Pool)|(conv|pool)\w*\dd(_|$)|^(LP|Lp)Pool")  # ConvReLU2d, max_pool2d


class Rule:
    """What one rule forbids: objects by identity (id -> first name), families, and the names they go by."""

    def __init__(self, names: tuple[str, ...], families: frozenset[str]) -> None:
        self.families = families
        every = (*names, *family_names(families))
        self.targets = _forbidden_objects(every)
        self.leaves = _leaves(every)
        self.classes = tuple(t for t in map(lookup, every) if isinstance(t, type))
        self.holders = {".".join(n.split(".")[:i]) for n in every for i in range(1, n.count(".") + 1)}  # torch.nn

    def holder(self, path: str) -> str | None:
        """`path` as a module that holds forbidden names (torch.nn.functional, numpy, scipy.signal), or None."""
        parts = path.split(".")
        if path in self.holders or (parts[0] in ARRAY_LIBRARIES and (len(parts) == 1 or parts[-1] in _SUBMODULES)):
            return f"{path} (a module that holds what the rule forbids)"
        return None

    def name_of(self, path: str) -> str | None:
        """The forbidden name `path` denotes (a torch object or a routine of a family), or None."""
        routine = array_routine_family(path, set(self.families))
        if routine is not None:
            return f"{path}, a routine that computes the {routine} itself"
        target = lookup(path)
        if target is None:
            return None
        if id(target) in self.targets:
            return self.targets[id(target)]
        if isinstance(target, type) and any(issubclass(target, forbidden) for forbidden in self.classes):
            return f"{path}, a kind of {self.targets[id(next(c for c in self.classes if issubclass(target, c)))]}"
        last = path.rsplit(".", 1)[-1]
        family = next((f for f in self.families if OPERATORS[f].search(last.lower())), None)
        return f"{path}, a {family} by its name" if family and _FAMILY_NAME.search(last) else None

    def leaf(self, node: ast.AST) -> str | None:
        """The forbidden name an attribute (or a literal getattr) is called by, whatever it is attached to."""
        name = node.attr if isinstance(node, ast.Attribute) else (getattr_literal(node) or (None, ""))[1]
        if not name:
            return None
        family = next((f for f in self.families if ARRAY_ROUTINES[f].match(name.lower())), None)
        if family is None and _FAMILY_NAME.search(name):
            family = next((f for f in self.families if OPERATORS[f].search(name.lower())), None)
        return self.leaves.get(name) or (f"{name}, a {family} by its name" if family else None)


_SUBMODULES = frozenset({"signal", "ndimage", "lib", "stride_tricks", "filters", "pylab", "pyplot", "io"})


def _leaves(names: Sequence[str]) -> dict[str, str]:
    """Each forbidden name's last part -> the name; not the parts that are also allowed Tensor methods (unfold)."""
    import torch

    found: dict[str, str] = {}
    for name in names:
        leaf = name.rsplit(".", 1)[-1]
        if not hasattr(torch.Tensor, leaf):
            found.setdefault(leaf, name)
    return found


def _forbidden_objects(names: Sequence[str]) -> dict[int, str]:
    """id of each forbidden object -> the first name that denotes it."""
    found: dict[int, str] = {}
    for name in names:
        target = lookup(name)
        if target is not None:
            found.setdefault(id(target), name)
    return found


@functools.lru_cache(maxsize=8)
def family_names(families: frozenset[str]) -> tuple[str, ...]:
    """torch's public functions and classes of `families`, by name, in every namespace that has them."""
    found = [name for family in sorted(families) for name in PYTHON_EXTRAS[family]]
    for namespace in PYTHON_NAMESPACES:
        value = lookup(namespace)
        for attribute in dir(value) if value is not None else ():
            if not attribute.startswith("_") and any(OPERATORS[f].search(attribute.lower()) for f in families):
                found.append(f"{namespace}.{attribute}")
    return tuple(found)


def lookup(path: str) -> Any:
    """The object a dotted path from `torch` denotes in the grader's own torch, else None."""
    parts = path.split(".")
    if parts[0] != "torch":
        return None
    import torch

    value: Any = torch
    for part in parts[1:]:
        try:
            value = getattr(value, part)
        except Exception:  # an attribute torch does not have cannot be called either
            return None
    return value
