"""FHIRPath for invariants: compiled to Python closures once, fhirpathpy where we cannot.

fhirpathpy costs ~50 µs even for ``value.empty() or system.exists()``; invariants run on every
element of every write, so the common shapes (paths, existence, boolean logic, comparisons,
string functions, where/select/all, iif, choice-type tests) compile to closures that cost a few
microseconds. Expressions (or inputs) outside that subset run in fhirpathpy with the same added
functions, so behaviour does not depend on which engine ran.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

import fhirpathpy
from fhirpathpy.engine.nodes import ResourceNode
from fhirpathpy.models import models

from profiles.validation.fhirpath.compiler import Compiler
from profiles.validation.fhirpath.runtime import Env, Fn, Model, UserFunction
from profiles.validation.fhirpath.values import EvaluationError, Unsupported

__all__ = [
    "EvaluationError",
    "Expression",
    "FhirPathEngine",
    "Model",
    "Unsupported",
    "UserFunction",
]


class Expression:
    """One compiled FHIRPath expression. ``native`` says whether the closures compile held."""

    __slots__ = ("_base", "_engine", "_fallback", "_native", "text")

    def __init__(self, text: str, native: Fn | None, base: str | None, engine: FhirPathEngine):
        self.text = text
        self._native = native
        self._base = base
        self._engine = engine
        self._fallback: Any = None

    @property
    def native(self) -> bool:
        return self._native is not None

    def evaluate(self, focus: Any, resource: Any = None, root: Any = None) -> list[Any]:
        """The result collection for one focus item; raises EvaluationError on a bad input."""
        resource = focus if resource is None else resource
        root = resource if root is None else root
        if self._native is not None:
            try:
                return self._native([focus], Env(resource, root, focus))
            except Unsupported:
                pass
        return self._run_fallback(focus, resource, root)

    def _run_fallback(self, focus: Any, resource: Any, root: Any) -> list[Any]:
        if self._fallback is None:
            self._fallback = self._engine.fallback(self.text)
        node = focus
        if self._base and isinstance(focus, dict) and "resourceType" not in focus:
            node = ResourceNode.create_node(focus, self._base)
        try:
            result = self._fallback(node, {"resource": resource, "rootResource": root})
        except Exception as exc:  # fhirpathpy raises plain Exceptions for bad input
            raise EvaluationError(str(exc)) from exc
        return list(result)


class FhirPathEngine:
    """Compiles expressions with a fixed set of added functions; caches by (text, base type)."""

    def __init__(self, model: Model, functions: Mapping[str, UserFunction] | None = None):
        self.model = model
        self._functions = dict(functions or {})
        self._compiler = Compiler(model, self._functions)
        self._cache: dict[tuple[str, str | None], Expression] = {}
        self._lock = threading.Lock()

    def compile(self, text: str, base: str | None = None) -> Expression:
        """``base`` names the focus type (``Period``, ``Observation.component``) for fhirpathpy."""
        key = (text, base)
        found = self._cache.get(key)
        if found is not None:
            return found
        try:
            native: Fn | None = self._compiler.compile(text)
        except Unsupported:
            native = None
        expression = Expression(text, native, base, self)
        with self._lock:
            return self._cache.setdefault(key, expression)

    def fallback(self, text: str) -> Any:
        table = {
            name: {"fn": _adapt(fn), "arity": {n: ["AnyAtRoot"] * n for n in fn.arity}}
            for name, fn in self._functions.items()
        }
        table.setdefault("hasValue", {"fn": _has_value, "arity": {0: []}})
        try:
            return fhirpathpy.compile(
                text, model=models["r4"], options={"userInvocationTable": table}
            )
        except Exception as exc:
            raise EvaluationError(f"cannot compile {text!r}: {exc}") from exc


def _has_value(inputs: list[Any]) -> list[bool]:
    return [len(inputs) == 1 and not isinstance(inputs[0], dict | list)]


def _adapt(fn: UserFunction) -> Any:
    """fhirpathpy hands user functions the input items and each argument's items."""

    def call(inputs: list[Any], *args: Any) -> list[Any]:
        return fn.impl(list(inputs), *([a] if not isinstance(a, list) else a for a in args))

    return call
