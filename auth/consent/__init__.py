"""The citizen's consents (issue 12 item 3): blocks and permits as a pure, table-driven decision.

- `view.view(actor, consents, now) -> View`: what one actor may see of one citizen's data,
  as `View.admits(type, resource)` and, for the stores, `View.filters(type)` (`Restriction`s);
- `management`: who may write a Consent (`consent_write_problem`), age (`age_on`), custody and a
  parent's read access (`guardian_may_read`), the server-set recorder (`recorded`);
- `rules`: parsing a Consent (profile ff-consent) and whether it is in force.

The rules, their legal basis and the tests that prove them: docs/consent.md.
"""

from auth.consent.management import (
    age_on,
    consent_write_problem,
    guardian_may_read,
    has_custody,
    recorded,
)
from auth.consent.view import Actor, Match, Restriction, View, view

__all__ = [
    "Actor",
    "Match",
    "Restriction",
    "View",
    "age_on",
    "consent_write_problem",
    "guardian_may_read",
    "has_custody",
    "recorded",
    "view",
]
