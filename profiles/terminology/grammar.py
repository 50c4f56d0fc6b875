"""Code systems defined by a grammar rather than a list, checked by syntax only.

R4 binds mime types (``urn:ietf:bcp:13``) and currencies (``urn:iso:std:iso:4217``) ``required``
but neither system is enumerable from the FHIR definitions. A syntax check still rejects what can
never be a member (``pdf`` as a content type); a well-formed code that the registry does not know
(``application/x-made-up``) passes. BCP-47 language tags are here for our own ValueSets.
"""

from __future__ import annotations

import re

# RFC 6838 §4.2 type/subtype names, RFC 2045 parameters (``text/plain; charset=UTF-8``)
_TOKEN = r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}"
_MIME = re.compile(rf"{_TOKEN}/{_TOKEN}(\s*;\s*[A-Za-z0-9!#$&^_.+-]+=(\"[^\"]*\"|[^\s;\"]+))*")
# ISO 4217: three upper-case letters
_CURRENCY = re.compile(r"[A-Z]{3}")
# RFC 5646 language tag, simplified: primary subtag then subtags of 1-8 alphanumerics
_LANGUAGE = re.compile(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*")

GRAMMARS: dict[str, re.Pattern[str]] = {
    "urn:ietf:bcp:13": _MIME,
    "urn:iso:std:iso:4217": _CURRENCY,
    "urn:ietf:bcp:47": _LANGUAGE,
}


def grammar_accepts(system: str, code: str) -> bool | None:
    """True/False for a grammar-defined system, None for any other system."""
    pattern = GRAMMARS.get(system)
    if pattern is None:
        return None
    return pattern.fullmatch(code) is not None
