"""The narrative verdicts kept by digest (profiles.validation.narrative): a narrative checked a
second time gets the same verdict as the first, broken or not, and the "on" shortcut for
attributes never hides an event handler attribute."""

from __future__ import annotations

from profiles.validation.narrative import has_content, xhtml_problem

GOOD = '<div xmlns="http://www.w3.org/1999/xhtml"><p style="display: none">Tekst</p></div>'
BAD = '<div xmlns="http://www.w3.org/1999/xhtml"><p ONclick="x()">Tekst</p></div>'
EMPTY = '<div xmlns="http://www.w3.org/1999/xhtml"><p style="margin: 0"> </p></div>'


def test_a_narrative_checked_twice_gets_the_same_verdict() -> None:
    for _ in range(2):
        assert xhtml_problem(GOOD) is None
        assert xhtml_problem(BAD) == "event attribute ONclick is not allowed in narrative"
        assert has_content(GOOD) is True
        assert has_content(EMPTY) is False
        assert xhtml_problem(EMPTY) is None


def test_an_event_attribute_is_found_beside_other_attributes() -> None:
    div = '<div xmlns="http://www.w3.org/1999/xhtml"><a name="x" onmouseover="y">z</a></div>'
    assert xhtml_problem(div) == "event attribute onmouseover is not allowed in narrative"
