"""The audit trail (issue 12 items 7-8): every access to a citizen's data recorded as IHE BALP
AuditEvents (`events`), CPR numbers masked (`mask`), writes' events in the write's unit of work
and reads' through the durable journal (`journal`), by `AuditingAccess` (`access`) around the
decisions `auth.access` composes; the citizen's view of it (`min_log`). docs/audit.md."""

from auth.audit.access import AuditingAccess
from auth.audit.journal import AuditJournal, journal_for

__all__ = ["AuditJournal", "AuditingAccess", "journal_for"]
