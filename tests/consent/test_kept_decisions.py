"""What a decision keeps between requests (a patient's Consents, `ConsentAccess`; the current
versions a SQLite process keeps) is never used once the data it came from changed: a Consent
written, changed or ended between two reads decides the second one — also when AuditEvents
(every audited read writes some) were committed in between. Both stores, real HTTP."""

from __future__ import annotations

from tests.auth.conftest import Server, bearer, mint
from tests.consent.support import get
from tests.consent.world import ADMIN, actor, consent, period, ref

NURSE = mint("openid fhirUser user/*.rs", fhirUser="PractitionerRole/nurse-role")
REVOKE = [{"op": "replace", "path": "/status", "value": "inactive"}]


async def test_a_consent_decides_the_next_read_after_it(fresh_world: Server) -> None:
    for _ in range(3):  # kept: the reads (and their AuditEvents) change nothing
        assert (await get(fresh_world, "CarePlan/cp-anna", NURSE)).status_code == 200
    block = consent(
        "block-anna-home",
        "anna",
        "block",
        {
            "type": "deny",
            "period": period("2024-01-01"),
            "actor": [actor(ref("Organization/kom-home"))],
        },
    )
    resp = await fresh_world.client.put(
        "Consent/block-anna-home", json=block, headers=bearer(ADMIN)
    )
    assert resp.status_code == 201, resp.text[:300]
    for _ in range(2):
        assert (await get(fresh_world, "CarePlan/cp-anna", NURSE)).status_code == 404
    resp = await fresh_world.client.patch(
        "Consent/block-anna-home",
        json=REVOKE,
        headers={**bearer(ADMIN), "Content-Type": "application/json-patch+json"},
    )
    assert resp.status_code == 200, resp.text[:300]
    assert (await get(fresh_world, "CarePlan/cp-anna", NURSE)).status_code == 200
