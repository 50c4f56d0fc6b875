"""A judged view remembered between requests (`auth.access.consent.remembered_view`) is the
view `view` gives at every moment: reused only while ``now`` stays between the same Consent
period bounds, and never for other Consent contents or another actor."""

from __future__ import annotations

from datetime import UTC, datetime

from auth.access.consent import remembered_view
from auth.consent import view
from tests.consent.rules_support import BERG, HANSEN, block, ref


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_it_follows_the_period_bounds_both_ways() -> None:
    """A block of Hansen from July to September: judged first in June (not in force), then
    in July, back in June, in October — each as `view` says at that moment."""
    timed = block(ref("Practitioner/hansen"), start="2026-07-01")
    timed["provision"]["period"]["end"] = "2026-09-30"
    moments = [
        "2026-06-15T00:00:00",
        "2026-06-30T23:59:59",
        "2026-07-01T00:00:00",
        "2026-08-01T00:00:00",
        "2026-06-20T00:00:00",
        "2026-09-30T23:59:59",
        "2026-10-01T00:00:00",
        "2026-08-02T00:00:00",
    ]
    answers = []
    for moment in moments:
        remembered = remembered_view(HANSEN, [timed], at(moment))
        assert remembered == view(HANSEN, [timed], at(moment)), moment
        answers.append(remembered.everything)
    assert answers == [True, True, False, False, True, False, True, False]


def test_it_is_per_actor_and_per_consent_content() -> None:
    hansen_blocked = block(ref("Practitioner/hansen"))
    moment = at("2026-06-01T12:00:00")
    assert not remembered_view(HANSEN, [hansen_blocked], moment).everything
    assert remembered_view(BERG, [hansen_blocked], moment).everything  # another actor
    changed = block(ref("Practitioner/berg"))  # the same Consent id, rewritten
    assert remembered_view(HANSEN, [changed], moment).everything
    assert not remembered_view(BERG, [changed], moment).everything
