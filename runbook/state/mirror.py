"""The database's audit trail, mirrored to a local JSONL log (``--audit-log`` with ``--state``).

The database is the record: its append must succeed first. Each event is then
appended to the local file too, which keeps a hash chain of its own (its
``seq`` counts this machine's events), so an operator keeps verifiable local
evidence of what was run from their machine.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runbook.state.base import AuditSink


class MirroredAudit:
    """``AuditSink``: the primary (database) sink, then the local mirror."""

    def __init__(self, primary: AuditSink, mirror: AuditSink) -> None:
        self.primary = primary
        self.mirror = mirror

    def append(self, fields: Mapping[str, Any], *, durable: bool) -> dict[str, Any]:
        event = self.primary.append(fields, durable=durable)
        self.mirror.append(fields, durable=durable)
        return event

    def sync(self) -> None:
        self.primary.sync()
        self.mirror.sync()

    def close(self) -> None:
        self.primary.close()
        self.mirror.close()
