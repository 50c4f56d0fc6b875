"""FHIR operations (``$name``): one module per operation, each defining its `Operation`s; the
server's router is built from an explicit tuple of them (`fhir_server.interactions.routes`).

An operation is called with GET (simple parameters in the query) or POST (a Parameters resource,
or for some operations the resource itself); `inputs.Inputs` gives handlers one view of both.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fhir_server.interactions.context import Context, FhirResult
from fhir_server.operations.inputs import Inputs

Handler = Callable[[Context, Inputs, str | None, str | None], Awaitable[FhirResult]]
"""(context, inputs, type, id) → result; type and id are None at the levels above them."""


@dataclass(frozen=True, slots=True)
class Operation:
    name: str
    levels: frozenset[str]
    """``system``, ``type``, ``instance``."""
    types: frozenset[str] | None
    """The types it applies to (None: every served type)."""
    handler: Handler
    affects_state: bool = False
    definition: str | None = None
    """Canonical URL of the OperationDefinition (for the CapabilityStatement)."""
    scope_letters: str = "r"
    """The SMART permissions (any of them) on the type that let a caller run it."""
    methods: frozenset[str] = frozenset({"GET", "POST"})
    """The HTTP methods it answers (a bulk export's status URL also takes ``DELETE``)."""
    declared: bool = True
    """Whether the CapabilityStatement lists it: False for the URLs of an asynchronous
    operation's status and files, which are no operations of their own."""
    type_definitions: tuple[tuple[str, str], ...] = ()
    """(type, canonical) where the OperationDefinition differs by type (``Patient/$export`` is
    the Bulk Data IG's ``patient-export``)."""
    instantiates: str | None = None
    """A CapabilityStatement the server instantiates when it offers this operation."""


def find(
    operations: tuple[Operation, ...], name: str, level: str, type_: str | None
) -> Operation | None:
    """The operation of ``operations`` called ``name`` that runs at ``level`` on ``type_`` (one
    name may be several operations on disjoint types, each with its own definition:
    ``Patient/$everything``, ``Encounter/$everything``)."""
    for op in operations:
        if op.name != name or level not in op.levels:
            continue
        if type_ is None or op.types is None or type_ in op.types:
            return op
    return None


def clashing(operations: tuple[Operation, ...]) -> list[str]:
    """The names listed twice for a type they share (or both for every type): which of the two
    answers would be a matter of order."""
    out = []
    for i, op in enumerate(operations):
        for other in operations[i + 1 :]:
            if op.name != other.name:
                continue
            if op.types is None or other.types is None or op.types & other.types:
                out.append(op.name)
    return out
