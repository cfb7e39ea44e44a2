"""The audit log as a PostgreSQL table: the same events, fields and hash chain.

Each row keeps the event exactly as the JSONL log would have the line
(``line``, canonical JSON with ``seq``, ``prev`` and ``hash``), plus ``seq``,
``run_id``, ``event`` and ``hash`` as columns to query. Appends from every
runner are serialised by a transaction-level advisory lock, so there is one
chain with no gaps in ``seq``; an append before a mutating command commits
synchronously, the others with ``synchronous_commit = off`` (on the server,
not yet fsynced: the JSONL log's ``write`` without ``fsync``). A trigger keeps
the table append-only against mistakes; ``verify`` names a row that was edited,
deleted or moved anyway.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from runbook.audit import GENESIS, VerifyReport, _add_ts, _canonical, _check, _complete, _digest
from runbook.errors import AuditError
from runbook.state.pg_schema import AUDIT_LOCK

if TYPE_CHECKING:
    import psycopg

    from runbook.state.pg_conn import Connector


class PgAuditLog:
    """``AuditSink`` on the ``audit`` table."""

    def __init__(self, db: Connector) -> None:
        self.db = db

    def append(self, fields: Mapping[str, Any], *, durable: bool) -> dict[str, Any]:
        kw = dict(fields)
        name = kw.pop("event", None)
        if not isinstance(name, str):
            raise AuditError(f"audit event needs an 'event' name, got {name!r}")
        event: dict[str, Any] = {"event": name, **kw}
        _complete(None, "append", _add_ts(None, "append", event))
        for key in ("seq", "prev", "hash"):
            event.pop(key, None)
        token = uuid.uuid4().hex

        def write(conn: psycopg.Connection[Any]) -> dict[str, Any]:
            if not durable:
                conn.execute("SET LOCAL synchronous_commit = off")
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (AUDIT_LOCK,))
            done = conn.execute("SELECT line FROM audit WHERE token=%s", (token,)).fetchone()
            if done is not None:  # a retried transaction whose commit had gone through
                return dict(json.loads(done["line"]))
            last = conn.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1"
                                ).fetchone()
            chained = {**event, "seq": (last["seq"] if last else 0) + 1,
                       "prev": last["hash"] if last else GENESIS}
            chained["hash"] = _digest(chained)
            conn.execute("INSERT INTO audit (seq, run_id, event, hash, line, token) "
                         "VALUES (%s,%s,%s,%s,%s,%s)",
                         (chained["seq"], chained.get("run_id"), name, chained["hash"],
                          _canonical(chained), token))
            return chained
        try:
            return dict(self.db.tx(write))
        except (TypeError, ValueError) as exc:
            raise AuditError(f"audit event {name!r} cannot be written as JSON: {exc}") from exc

    def sync(self) -> None:
        """Make the asynchronous commits durable: one synchronous commit flushes the WAL
        up to it, theirs included."""
        self.db.tx(lambda c: c.execute("SELECT 1"))

    def close(self) -> None:
        return None


def verify_table(db: Connector) -> VerifyReport:
    """Recompute the chain row by row in ``seq`` order; name the first row that does not
    fit (``first_bad_line`` is the row's position, 1-based)."""
    rows = db.tx(lambda c: c.execute("SELECT seq, line FROM audit ORDER BY seq").fetchall())
    prev_seq, prev_hash = 0, GENESIS
    for position, row in enumerate(rows, 1):
        obj, seq, reason = _check((row["line"] + "\n").encode("utf-8"), prev_seq, prev_hash)
        if seq is not None and seq != row["seq"]:
            reason = (f"row seq {row['seq']} holds the event of seq {seq} (rows reordered "
                      "or renumbered)")
        if reason is not None or obj is None or seq is None:
            return VerifyReport(False, position - 1, position, row["seq"], reason)
        prev_seq, prev_hash = seq, obj["hash"]
    return VerifyReport(True, len(rows))


def read_events(db: Connector, run_id: str | None) -> list[dict[str, Any]]:
    """The events of one run (a unique prefix, or the newest run when None)."""
    if not run_id:
        row = db.tx(lambda c: c.execute(
            "SELECT run_id FROM audit WHERE event='run.started' ORDER BY seq DESC LIMIT 1"
        ).fetchone())
        if row is None:
            raise AuditError("no run in the audit table")
        run_id = str(row["run_id"])
    pattern = run_id.replace("%", "\\%").replace("_", "\\_") + "%"
    rows = db.tx(lambda c: c.execute("SELECT run_id, line FROM audit WHERE run_id LIKE %s "
                                     "ORDER BY seq", (pattern,)).fetchall())
    ids = sorted({r["run_id"] for r in rows})
    if run_id in ids:
        ids = [run_id]
    if not ids:
        raise AuditError(f"run {run_id!r} not found in the audit table")
    if len(ids) > 1:
        raise AuditError(f"run id prefix {run_id!r} is ambiguous: matches {', '.join(ids[:10])}")
    return [json.loads(r["line"]) for r in rows if r["run_id"] == ids[0]]
