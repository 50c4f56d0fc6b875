"""Token parameters: codes with their systems (Coding, CodeableConcept, Identifier, ContactPoint,
code, boolean, …); ``:not``, ``:text`` (display and text), ``:of-type`` (Identifier.type)."""

from __future__ import annotations

from typing import Any

from fhir_server.errors import Invalid, TooCostly
from fhir_server.search.conditions import ALWAYS, Condition, Eq, all_of
from fhir_server.search.params.escapes import split_escaped, unescape
from fhir_server.search.params.modifiers import check_modifier
from fhir_server.search.params.string import normalize
from fhir_server.search.terms import ANY, Filter, StringValue, TokenValue

Row = tuple[str, str | None, str]


def _codings(param: str, value: Any, rows: list[Row], texts: list[str]) -> None:
    if isinstance(value, bool):
        rows.append((param, None, "true" if value else "false"))
    elif isinstance(value, str | int) and not isinstance(value, bool):
        rows.append((param, None, str(value)))
    elif isinstance(value, dict):
        for coding in value.get("coding") or []:
            _codings(param, coding, rows, texts)
        if isinstance(value.get("text"), str):
            texts.append(value["text"])
        if isinstance(value.get("display"), str):
            texts.append(value["display"])
        system = value.get("system") if isinstance(value.get("system"), str) else None
        code = value.get("code", value.get("value"))
        if isinstance(code, str | int) and not isinstance(code, bool):
            rows.append((param, system, str(code)))
            _of_type(param, value, str(code), rows, texts)


def _of_type(
    param: str, identifier: dict[str, Any], value: str, rows: list[Row], texts: list[str]
) -> None:
    """``identifier:of-type=typeSystem|typeCode|value`` rows: (param:of-type, typeSystem,
    typeCode|value); and ``Identifier.type.text`` for ``:text``."""
    kind = identifier.get("type")
    if isinstance(kind, dict):
        if isinstance(kind.get("text"), str):
            texts.append(kind["text"])
        for coding in kind.get("coding") or []:
            if isinstance(coding, dict) and isinstance(coding.get("code"), str):
                system = coding.get("system") if isinstance(coding.get("system"), str) else None
                rows.append((f"{param}:of-type", system, f"{coding['code']}|{value}"))


def index(param: str, values: list[Any]) -> tuple[list[Row], list[tuple[str, str, str]]]:
    rows: list[Row] = []
    texts: list[str] = []
    for value in values:
        _codings(param, value, rows, texts)
    return rows, [(f"{param}:text", normalize(t), t) for t in texts]


def token_value(raw: str) -> TokenValue:
    """``[system]|[code]`` or ``code``, from a value already unescaped (a reference's
    ``:identifier``)."""
    if "|" not in raw:
        return TokenValue(ANY, raw)
    system, code = raw.split("|", 1)
    return TokenValue(system or None, code or None)


def escaped_token_value(raw: str) -> TokenValue:
    """``token_value`` of a value as written in the query: it splits on the first unescaped
    ``|`` and unescapes each side, so ``a\\|b`` is the code ``a|b`` (search.html#escaping)."""
    parts = split_escaped(raw, "|")
    if len(parts) == 1:
        return TokenValue(ANY, unescape(raw))
    system, code = unescape(parts[0]), unescape(raw[len(parts[0]) + 1 :])
    return TokenValue(system or None, code or None)


def condition(v: TokenValue) -> Condition:
    """An entry's ``code`` and ``system``: ``|code`` asks for no system, ``code`` for any."""
    parts: list[Condition] = []
    if v.code is not None:
        parts.append(Eq("code", v.code))
    if v.system != ANY:
        parts.append(Eq("system", v.system))
    return all_of(*parts) if parts else ALWAYS


def parse(param: str, modifier: str | None, values: list[str]) -> Filter:
    """``values`` as written, escapes kept: a ``|`` splits only where it is not escaped."""
    if modifier == "text":
        text = (StringValue(normalize(unescape(v))) for v in values)
        return Filter(f"{param}:text", "string", tuple(text))
    if modifier == "of-type":
        out = []
        for v in values:
            parts = [unescape(p) for p in split_escaped(v, "|")]
            if len(parts) != 3 or not all(parts[1:]):
                raise Invalid(f"{param}:of-type takes system|code|value, not {v!r}", [param])
            out.append(TokenValue(parts[0] or None, f"{parts[1]}|{parts[2]}"))
        return Filter(f"{param}:of-type", "token", tuple(out))
    if modifier in ("in", "not-in"):
        codes = tuple(c for url in values for c in _value_set_codes(param, unescape(url)))
        return Filter(param, "token", codes, "not" if modifier == "not-in" else None)
    check_modifier("token", param, modifier, ("not",))
    return Filter(param, "token", tuple(escaped_token_value(v) for v in values), modifier)


MAX_VALUE_SET_CODES = 500
"""``:in`` becomes an OR of the ValueSet's codes; a larger ValueSet is refused as too costly."""


def _value_set_codes(param: str, url: str) -> list[TokenValue]:
    """The codes of a ValueSet the server's terminology knows (the bundled R4 and Danish
    ones), for ``:in`` and ``:not-in``."""
    from profiles.terminology import TerminologyError
    from profiles.validation import Validator

    try:
        expansion = Validator.default().terminology.expand(url)
    except TerminologyError as err:
        raise Invalid(f"{param}:in — {err}", [param]) from None
    contains = _flatten(expansion["expansion"].get("contains", []))
    if len(contains) > MAX_VALUE_SET_CODES:
        raise TooCostly(
            f"{param}:in — ValueSet {url} has {len(contains)} codes"
            f" (at most {MAX_VALUE_SET_CODES})",
            [param],
        )
    # a plain ``code`` element (Patient.gender) is indexed without a system: match it too
    return [
        TokenValue(system, c["code"])
        for c in contains
        if "code" in c
        for system in dict.fromkeys((c.get("system"), None))
    ]


def _flatten(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for e in entries:
        out.append(e)
        out += _flatten(e.get("contains", []))
    return out
