"""The audit log as a PostgreSQL table: the same events, fields and hash chain.

Each row keeps the event exactly as the JSONL log would have the line
(``line``, canonical JSON with ``seq``, ``prev`` and ``hash``), plus ``seq``,
``run_id``, ``event`` and ``hash`` as columns to query. Appends from every
runner are serialised by a transaction-level advisory lock, so there is one
chain with no gaps in ``seq``. The event before a mutating command (and a
rollback's, and the end of a run) is committed before ``append`` returns, with
the events that came since the last commit, in one transaction. A trigger keeps
the table append-only against mistakes; ``verify`` names a row that was edited,
deleted or moved anyway.
"""

from __future__ import annotations

import functools
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
    """``AuditSink`` on the ``audit`` table.

    An event that needs no durability (everything but the one before a mutating
    command, a rollback and the end of a run) waits in memory and is written, in
    order and in the same transaction, with the next durable one or ``sync()``:
    one commit per mutating step, as the journal batches a command's outcome with
    the next transition."""

    def __init__(self, db: Connector) -> None:
        self.db = db
        self._pending: list[tuple[str, dict[str, Any]]] = []
        self._last: tuple[int, str] | None = None
        db.audit_rider = True  # the journal's queued transitions ride with our writes

    def append(self, fields: Mapping[str, Any], *, durable: bool) -> dict[str, Any]:
        kw = dict(fields)
        name = kw.pop("event", None)
        if not isinstance(name, str):
            raise AuditError(f"audit event needs an 'event' name, got {name!r}")
        event: dict[str, Any] = {"event": name, **kw}
        _complete(None, "append", _add_ts(None, "append", event))
        for key in ("seq", "prev", "hash"):
            event.pop(key, None)
        try:
            _canonical(event)
        except (TypeError, ValueError) as exc:
            raise AuditError(f"audit event {name!r} cannot be written as JSON: {exc}") from exc
        with self.db.lock:
            self._pending.append((uuid.uuid4().hex, event))
            if not durable:
                return event
            return self._write()[-1]

    def _write(self) -> list[dict[str, Any]]:
        """Chain and insert every pending event in one transaction, serialised with every
        other runner by the advisory lock. Chained first from the link this process
        wrote last (one round trip); when another runner wrote since, ``seq`` clashes
        with its row and the transaction runs again from the table's last row."""
        import psycopg

        batch = list(self._pending)
        if not batch:
            return []
        journal = self.db.journal_rider
        queued = journal.queued() if journal is not None else []
        try:
            written = self.db.tx(functools.partial(self._insert, batch, self._last, queued))
        except psycopg.errors.UniqueViolation:
            written = self.db.tx(functools.partial(self._insert, batch, None, queued))
        del self._pending[:len(batch)]
        if journal is not None:
            journal.committed(len(queued))
        if written:
            self._last = (written[-1]["seq"], written[-1]["hash"])
        return written or [event for _token, event in batch]

    def _insert(self, batch: list[tuple[str, dict[str, Any]]], last: tuple[int, str] | None,
                queued: list[Any], conn: psycopg.Connection[Any]) -> list[dict[str, Any]]:
        """The journal's ``queued`` transitions (a step's "running" before its command)
        go in the same transaction: one commit makes both durable."""
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (AUDIT_LOCK,))
        if self.db.retried:  # a retried transaction whose commit may have gone through
            done = conn.execute("SELECT seq FROM audit WHERE token=%s",
                                (batch[0][0],)).fetchone()
            if done is not None:
                return []
            last = None
        if queued and self.db.journal_rider is not None:
            self.db.journal_rider.write_queued(conn, queued)
        if last is None:
            row = conn.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1"
                               ).fetchone()
            last = (row["seq"], row["hash"]) if row else (0, GENESIS)
        seq, prev = last
        rows, out = [], []
        for token, event in batch:
            seq += 1
            chained = {**event, "seq": seq, "prev": prev}
            chained["hash"] = prev = _digest(chained)
            rows.append((seq, chained.get("run_id"), chained["event"], prev,
                         _canonical(chained), token))
            out.append(chained)
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO audit (seq, run_id, event, hash, line, token) "
                            "VALUES (%s,%s,%s,%s,%s,%s)", rows)
        return out

    def sync(self) -> None:
        """Write what is pending (one transaction, committed durably)."""
        with self.db.lock:
            if self._pending:
                self._write()

    def close(self) -> None:
        self.sync()


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
