"""The current versions a process has read, kept until the database next changes.

``PRAGMA data_version`` at the start of each read snapshot tells whether any connection, in any
process, has committed since the last one; ``data_change.n`` (`schema.DATA_CHANGE`) whether
the commit changed anything but add AuditEvents; then everything kept is dropped (`since`). So
a read-mostly server answers most reads without a query — each audited read commits an
AuditEvent, which leaves what is kept — and never from a stale copy."""

from __future__ import annotations

from fhir_server.stored import StoredResource

KEPT_BYTES = 64 * 1024 * 1024
"""At most this much resource content is kept for reads, however many versions that is."""


class CurrentVersions:
    """Current versions by (type, id), at most ``kept`` of them and `KEPT_BYTES` of content; when
    full, all are dropped (cheaper than tracking which to evict, and refilled by the next reads)."""

    def __init__(self, kept: int) -> None:
        """``kept``: versions kept at most; 0 keeps none."""
        self.kept = kept
        self.found: dict[tuple[str, str], StoredResource] = {}
        self.bytes = 0
        self.as_of = -1

    def __len__(self) -> int:
        return len(self.found)

    def since(self, as_of: int) -> None:
        """The database's ``data_change.n`` now: if it changed, nothing kept is current."""
        if as_of != self.as_of:
            self.found.clear()
            self.bytes = 0
            self.as_of = as_of

    def get(self, key: tuple[str, str]) -> StoredResource | None:
        return self.found.get(key)

    def keep(self, key: tuple[str, str], found: StoredResource) -> None:
        if not self.kept:
            return
        size = len(found.content or b"")
        if len(self.found) >= self.kept or self.bytes + size > KEPT_BYTES:
            self.found.clear()
            self.bytes = 0
        self.found[key] = found
        self.bytes += size
