"""The one check every parameter type makes: is this modifier one it understands?"""

from __future__ import annotations

from fhir_server.errors import Invalid


def check_modifier(
    kind: str, param: str, modifier: str | None, allowed: tuple[str, ...] = ()
) -> None:
    if modifier is not None and modifier not in allowed:
        raise Invalid(
            f"Modifier :{modifier} is not supported on {kind} parameter {param!r}", [param]
        )
