"""JSON Patch (RFC 6902) on a resource, with the `jsonpatch` library doing the RFC's work."""

from __future__ import annotations

import copy
from typing import Any

import jsonpatch
import jsonpointer

from fhir_server.errors import Invalid, Unprocessable


def apply_json_patch(resource: dict[str, Any], operations: Any) -> dict[str, Any]:
    if not isinstance(operations, list) or not all(isinstance(op, dict) for op in operations):
        raise Invalid("A JSON Patch document is a JSON array of operation objects")
    for op in operations:  # a malformed pointer is a malformed document (400), not a conflict
        for key in ("path", "from"):
            if isinstance(op.get(key), str):
                try:
                    jsonpointer.JsonPointer(op[key])
                except jsonpointer.JsonPointerException as err:
                    raise Invalid(f"Invalid JSON Patch: {key} {op[key]!r}: {err}") from err
    try:
        patch = jsonpatch.JsonPatch(operations)
        return patch.apply(copy.deepcopy(resource))
    except jsonpatch.InvalidJsonPatch as err:
        raise Invalid(f"Invalid JSON Patch: {err}") from err
    except jsonpatch.JsonPatchTestFailed as err:
        raise Unprocessable(f"JSON Patch test failed: {err}") from err
    except (jsonpatch.JsonPatchConflict, jsonpointer.JsonPointerException) as err:
        raise Unprocessable(f"JSON Patch cannot be applied: {err}") from err
