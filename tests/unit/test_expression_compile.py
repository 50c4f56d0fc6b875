"""Compiling a search parameter's expression costs its length: a 19 KB expression of nested
parentheses once took 15 s (`_strip_parens` re-scanned the whole rest at every level). The work
is counted, not timed: the Python lines run while stripping an expression nested twice as deep
grow about twice, not four times."""

from __future__ import annotations

import sys
from types import FrameType
from typing import Any

from fhir_server.search import fhirpath
from fhir_server.search.fhirpath import _strip_parens, union_parts


def _lines_run(expr: str) -> int:
    count = 0

    def trace(frame: FrameType, event: str, arg: Any) -> Any:
        nonlocal count
        if event == "line" and frame.f_code.co_filename == fhirpath.__file__:
            count += 1
        return trace

    sys.settrace(trace)
    try:
        _strip_parens(expr)
    finally:
        sys.settrace(None)
    return count


def _nested(depth: int) -> str:
    return "(" * depth + "Patient.name" + ")" * depth


def test_stripping_parentheses_is_linear_in_the_depth() -> None:
    small, large = _lines_run(_nested(400)), _lines_run(_nested(800))
    assert large < 2.5 * small, (small, large)


def test_stripping_keeps_what_the_parentheses_mean() -> None:
    assert _strip_parens(_nested(5000)) == "Patient.name"
    assert _strip_parens("( ( Patient.name ) )") == "Patient.name"
    assert _strip_parens("((a | b))") == "(a | b)"  # a union stays one part
    assert _strip_parens("(a).b") == "(a).b"
    assert _strip_parens("(a.where(x = 'y')).b") == "(a.where(x = 'y')).b"
    assert union_parts("(a) | ((b.c)) | (d | e)") == ["a", "b.c", "(d | e)"]
