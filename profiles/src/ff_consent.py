"""Consent for Danish blocks ("spærring") and permits (DOMAIN.md §6).

A block is a Consent whose top provision denies; a permit (for a named health actor, or for a
non-health party such as PPR or the job centre) is one whose top provision permits. Nested
provisions are exceptions to their parent. The Danish legal basis is the ``policyRule``
(CodeSystem ff-consent-policy), which also satisfies the base rule ppc-1 (policy or policyRule).
"""

from __future__ import annotations

from profiles.src import canon
from profiles.src.dsl import FF, Json, binding, el, inv, profile, ref
from profiles.src.terminology_ff import CONSENT_POLICY_CS, CONSENT_POLICY_VS


def _policy(code: str) -> str:
    return f"policyRule.coding.where(system = '{CONSENT_POLICY_CS}' and code = '{code}').exists()"


BLOCK_START_RULE = inv(
    "ff-consent-1",
    "A block (deny provision) needs a start date (provision.period.start)",
    "provision.where(type = 'deny').all(period.start.exists())",
)
POLICY_MATCHES_TYPE_RULE = inv(
    "ff-consent-2",
    "A block (policy block) denies at its top provision; a permit policy permits",
    f"({_policy('block')} implies provision.type = 'deny') and "
    f"(({_policy('treatment-permit')} or {_policy('disclosure-permit')}) implies "
    "provision.type = 'permit')",
)
DISCLOSURE_YEAR_RULE = inv(
    "ff-consent-3",
    "Consent to disclose to non-health parties is time-limited: provision.period needs a start "
    "and an end at most one year later",
    f"{_policy('disclosure-permit')} implies (provision.period.start.exists() and "
    "provision.period.end.exists() and provision.period.end <= provision.period.start + 1 year)",
)

ACTORS = (
    canon.DK_PRACTITIONER,
    canon.DK_PRACTITIONER_ROLE,
    canon.DK_ORGANIZATION,
    canon.DK_RELATED_PERSON,
    canon.DK_PATIENT,
    canon.FF_CARETEAM,
)


def consent() -> Json:
    c = "Consent"
    p = f"{c}.provision"
    return profile(
        FF,
        "ff-consent",
        c,
        "FfConsent",
        "Danish privacy consent (block or permit)",
        "A citizen's block of, or permission for, access to own health data: which clinician "
        "(authorisation id), treatment site (SOR organisation), data period or data category it "
        "concerns, from when and until when. Blocks override the care relationship; a permit for "
        "a named actor overrides a block for that actor; non-health parties see only what a "
        "permit allows.",
        [
            el(c, constraint=[BLOCK_START_RULE, POLICY_MATCHES_TYPE_RULE, DISCLOSURE_YEAR_RULE]),
            el(
                f"{c}.scope",
                patternCodeableConcept={
                    "coding": [{"system": canon.CONSENT_SCOPE, "code": "patient-privacy"}]
                },
            ),
            el(f"{c}.patient", min=1, type=ref(canon.DK_PATIENT)),
            el(f"{c}.dateTime", min=1, short="When the citizen gave or registered the consent"),
            el(
                f"{c}.performer",
                short="Who gave the consent: the citizen, or a parent or proxy acting for them",
                type=ref(
                    canon.DK_PATIENT,
                    canon.DK_RELATED_PERSON,
                    canon.DK_PRACTITIONER,
                    canon.DK_PRACTITIONER_ROLE,
                    canon.DK_ORGANIZATION,
                ),
            ),
            el(f"{c}.organization", type=ref(canon.DK_ORGANIZATION)),
            el(
                f"{c}.policyRule",
                min=1,
                short="block | treatment-permit | disclosure-permit (Danish legal basis)",
                binding=binding("required", CONSENT_POLICY_VS, "Danish consent policy"),
            ),
            el(p, min=1, short="The block or permit; nested provisions are exceptions"),
            el(f"{p}.type", min=1, short="deny = a block (spærring); permit = a consent"),
            el(f"{p}.period", short="From when (required for a block) and until when"),
            el(
                f"{p}.actor.reference",
                type=ref(*ACTORS),
                short="The clinician (with authorisation id), site (with SOR id) or party the "
                "provision concerns",
            ),
        ],
    )


def all_resources() -> list[Json]:
    return [consent()]
