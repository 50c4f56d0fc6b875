"""The shapes shared by the FHIRPath compiler's parts: evaluation context, compiled closures,
added functions and the bits of the FHIR model navigation needs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Items = list[Any]


class Env:
    """The evaluation context: %resource, %rootResource, %context and $this/$index."""

    __slots__ = ("context", "index", "resource", "root", "this")

    def __init__(self, resource: Any, root: Any, context: Any, this: Any = None, index: int = 0):
        self.resource = resource
        self.root = root
        self.context = context
        self.this = context if this is None else this
        self.index = index

    def at(self, item: Any, index: int) -> Env:
        return Env(self.resource, self.root, self.context, item, index)


Fn = Callable[[Items, Env], Items]


@dataclass(frozen=True, slots=True)
class UserFunction:
    """A function added to FHIRPath (``dkCprValid()``): input collection, argument values."""

    impl: Callable[..., Items]
    arity: tuple[int, ...] = (0,)


@dataclass(frozen=True, slots=True)
class Model:
    """What navigation needs to know of FHIR: choice elements and their type suffixes."""

    choice_names: frozenset[str]
    type_suffixes: frozenset[str]
