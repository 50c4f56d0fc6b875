"""Checks of FHIR primitive values in JSON (R4 datatypes.html §2.24.0.1, json.html §2.6.2).

A check returns None or (issue code, message): ``structure`` when the JSON kind is wrong (a string
where a boolean belongs), ``value`` when the lexical form is (the regex of the type's
StructureDefinition, a 32-bit range, a real calendar date). Regexes come from the bundled R4
definitions and are matched in ASCII mode, as the reference (Java) validator reads ``\\s``/``\\S``.
"""

from __future__ import annotations

import re
from calendar import monthrange
from collections.abc import Callable
from typing import Any

from profiles.validation.issues import STRUCTURE, VALUE

Problem = tuple[str, str] | None
Check = Callable[[Any], Problem]

REGEX_EXTENSION = "http://hl7.org/fhir/StructureDefinition/regex"
INT32 = (-(2**31), 2**31 - 1)
MAX_STRING = 1024 * 1024
_B64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")
_WS = re.compile(r"\s+")


def _show(value: str) -> str:
    return value if len(value) <= 40 else value[:37] + "..."


def _boolean(value: Any) -> Problem:
    if type(value) is bool:
        return None
    return STRUCTURE, "must be a JSON boolean (true or false)"


def _integer(low: int, high: int, name: str) -> Check:
    def check(value: Any) -> Problem:
        if type(value) is not int:
            return STRUCTURE, f"must be a JSON number without a fraction ({name})"
        if not low <= value <= high:
            return VALUE, f"{value} is out of range for {name}"
        return None

    return check


def _decimal(value: Any) -> Problem:
    if isinstance(value, int | float) and type(value) is not bool:  # a float subclass keeps
        # the text it was written as (fhir_server.fhir_json.ExactNumber)
        return None
    return STRUCTURE, "must be a JSON number (decimal)"


def _string(value: Any) -> Problem:
    if type(value) is not str:
        return STRUCTURE, "must be a JSON string"
    if not value:
        return VALUE, "must not be empty"
    if "\x0b" in value or "\x0c" in value or len(value) > MAX_STRING:
        return VALUE, "is not a valid string (control characters or longer than 1 MB)"
    return None


def _base64(value: Any) -> Problem:
    if type(value) is not str:
        return STRUCTURE, "must be a JSON string"
    compact = _WS.sub("", value)
    if not compact or len(compact) % 4 or _B64.fullmatch(compact) is None:
        return VALUE, "is not valid base64"
    return None


def _regex(code: str, pattern: str, dated: bool) -> Check:
    compiled = re.compile(pattern, re.ASCII)

    def check(value: Any) -> Problem:
        if type(value) is not str:
            return STRUCTURE, "must be a JSON string"
        if not value:
            return VALUE, "must not be empty"
        if compiled.fullmatch(value) is None or (dated and not _real_date(value)):
            return VALUE, f"'{_show(value)}' is not a valid {code}"
        return None

    return check


def _real_date(value: str) -> bool:
    """The regex allows 2021-02-30; the calendar does not."""
    if len(value) < 10:
        return True
    year, month, day = int(value[0:4]), int(value[5:7]), int(value[8:10])
    return day <= monthrange(year, month)[1]


SPECIAL: dict[str, Check] = {
    "boolean": _boolean,
    "integer": _integer(*INT32, "integer"),
    "positiveInt": _integer(1, INT32[1], "positiveInt"),
    "unsignedInt": _integer(0, INT32[1], "unsignedInt"),
    "decimal": _decimal,
    "string": _string,
    "markdown": _string,
    "xhtml": _string,
    "base64Binary": _base64,
}


def build_checks(primitive_definitions: dict[str, dict[str, Any]]) -> dict[str, Check]:
    """Type code → check, for every primitive StructureDefinition (``kind`` primitive-type)."""
    checks = dict(SPECIAL)
    for code, sd in primitive_definitions.items():
        if code in checks:
            continue
        pattern = _value_regex(sd)
        checks[code] = (
            _regex(code, pattern, code in ("date", "dateTime", "instant")) if pattern else _string
        )
    return checks


def _value_regex(sd: dict[str, Any]) -> str | None:
    for element in sd.get("snapshot", {}).get("element", []):
        if element["path"] == f"{sd['type']}.value":
            for type_ in element.get("type", []):
                for ext in type_.get("extension", []):
                    if ext.get("url") == REGEX_EXTENSION:
                        return str(ext["valueString"])
    return None
