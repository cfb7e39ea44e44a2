"""The journal and the locks in PostgreSQL: the team's shared memory of runs.

Same records and transitions as the SQLite journal (``runbook.journal``),
each one transaction, deferred step outcomes committed with the next one.
A lock is a session-level advisory lock keyed by a 64-bit hash of the full
lock key, plus a ``locks`` row saying who holds it; the server frees the
advisory lock when the holder's connection dies, so a machine that dies
leaves no stale lock behind. A heartbeat thread stamps the holder's row and
its run every ``$RUNBOOK_HEARTBEAT`` seconds (default 10).
"""

from __future__ import annotations

import functools
import hashlib
import os
import socket
import threading
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from runbook.errors import LockedError
from runbook.events import utcnow
from runbook.journal import RollbackRecord, StepRecord, _dumps, _loads, runs_query
from runbook.state.liveness import heartbeat_interval
from runbook.state.pg_conn import Connector

if TYPE_CHECKING:
    import psycopg

_JSON = ("params", "secret_params", "targets")


def lock_id(key: str) -> int:
    """The advisory lock number of a lock key: 64 bits of its sha256, signed."""
    return int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:8], "big", signed=True)


_HELD_SQL = ("SELECT pid FROM pg_locks WHERE locktype='advisory' AND granted AND objsubid=1 "
             "AND classid::bigint=%s AND objid::bigint=%s")


def _split(lid: int) -> tuple[int, int]:
    unsigned = lid & 0xFFFFFFFFFFFFFFFF
    return unsigned >> 32, unsigned & 0xFFFFFFFF


class PgJournal:
    """``JournalStore`` on a shared PostgreSQL database."""

    def __init__(self, db: Connector) -> None:
        self.db = db
        self._queue: list[tuple[tuple[str, str], dict[str, Any]]] = []
        self._held: dict[str, tuple[int, str]] = {}  # key -> (advisory id, run id)
        self._beat: threading.Thread | None = None
        self._stop = threading.Event()
        db.on_reconnect = self._retake
        db.journal_rider = self

    # --- transactions --------------------------------------------------------------

    def _tx(self, work: Any) -> Any:
        """One transaction: the deferred step updates first, then ``work(conn)``."""
        with self.db.lock:
            queued = list(self._queue)

            def body(conn: psycopg.Connection[Any]) -> Any:
                for args, kwargs in queued:
                    self._write_step(conn, *args, **kwargs)
                return work(conn)
            out = self.db.tx(body)
            del self._queue[:len(queued)]
            return out

    def flush(self) -> None:
        if self._queue:
            self._tx(lambda conn: None)

    @property
    def rides_with_audit(self) -> bool:
        """A queued transition is committed by the audit's next durable write (one
        transaction for both, see ``PgAuditLog``): the run may defer "running" to it."""
        return self.db.audit_rider

    def queued(self) -> list[tuple[tuple[str, str], dict[str, Any]]]:
        """The deferred transitions now queued (call with ``db.lock`` held)."""
        return list(self._queue)

    def write_queued(self, conn: psycopg.Connection[Any],
                     queued: list[tuple[tuple[str, str], dict[str, Any]]]) -> None:
        """Write ``queued`` inside another transaction (the audit's)."""
        for args, kwargs in queued:
            self._write_step(conn, *args, **kwargs)

    def committed(self, count: int) -> None:
        """The first ``count`` queued transitions were committed by another transaction."""
        del self._queue[:count]

    def close(self) -> None:
        self._stop.set()
        if self._beat is not None:
            self._beat.join(timeout=5)
            self._beat = None
        self.db.close()

    # --- runs --------------------------------------------------------------------------

    def start_run(self, *, run_id: str, playbook: str, playbook_path: str, sha256: str,
                  text: str | None, params: dict[str, Any], secret_params: list[str],
                  targets: list[str], actor: str, reason: str | None,
                  audit_log: str | None, lock_key: str | None,
                  options: dict[str, Any] | None = None) -> None:
        now = utcnow()
        row = (run_id, playbook, playbook_path, sha256, text, _dumps(params),
               _dumps(secret_params), _dumps(targets), actor, reason, socket.gethostname(),
               os.getpid(), audit_log, now, "running", lock_key, _dumps(options or {}), now)
        self._tx(lambda c: c.execute(
            "INSERT INTO runs (run_id, playbook, playbook_path, playbook_sha256, "
            "playbook_text, params, secret_params, targets, actor, reason, host, pid, "
            "audit_log, started, status, lock_key, options, heartbeat) VALUES "
            "(%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s) "
            "ON CONFLICT (run_id) DO NOTHING", row))

    def reopen_run(self, run_id: str) -> None:
        self._tx(lambda c: c.execute(
            "UPDATE runs SET status='running', pid=%s, host=%s, finished=NULL, "
            "exit_code=NULL, heartbeat=%s WHERE run_id=%s",
            (os.getpid(), socket.gethostname(), utcnow(), run_id)))

    def finish_run(self, run_id: str, status: str, exit_code: int | None) -> None:
        self._tx(lambda c: c.execute(
            "UPDATE runs SET status=%s, exit_code=%s, finished=%s WHERE run_id=%s",
            (status, exit_code, utcnow(), run_id)))

    def _select(self, sql: str, args: Any = ()) -> list[dict[str, Any]]:
        return list(self.db.tx(lambda c: c.execute(sql, args).fetchall()))

    def run(self, run_id: str) -> dict[str, Any] | None:
        rows = self._select("SELECT * FROM runs WHERE run_id LIKE %s ORDER BY started",
                            (_like(run_id),))
        if len(rows) != 1:
            rows = [r for r in rows if r["run_id"] == run_id]
            if len(rows) != 1:
                return None
        return _run_dict(rows[0])

    def ambiguous(self, prefix: str) -> list[str]:
        return [r["run_id"] for r in self._select(
            "SELECT run_id FROM runs WHERE run_id LIKE %s", (_like(prefix),))]

    def runs(self, *, playbook: str | None = None, status: str | None = None,
             limit: int = 20) -> list[dict[str, Any]]:
        sql, args = runs_query("%s", playbook=playbook, status=status, limit=limit)
        return [_run_dict(r) for r in self._select(sql, args)]

    # --- steps -------------------------------------------------------------------------

    def step(self, run_id: str, step_id: str, *, host: str = "", state: str,
             seq: int | None = None, attempts: int | None = None, rc: int | None = None,
             result: Any = None, captured: Any = None, error: str | None = None,
             duration_ms: float | None = None, defer: bool = False) -> None:
        kwargs = {"host": host, "state": state, "seq": seq, "attempts": attempts, "rc": rc,
                  "result": result, "captured": captured, "error": error,
                  "duration_ms": duration_ms}
        if defer:
            with self.db.lock:
                self._queue.append(((run_id, step_id), kwargs))
            return
        self._tx(lambda c: self._write_step(c, run_id, step_id, **kwargs))

    @staticmethod
    def _write_step(conn: psycopg.Connection[Any], run_id: str, step_id: str, *, host: str,
                    state: str, seq: int | None, attempts: int | None, rc: int | None,
                    result: Any, captured: Any, error: str | None,
                    duration_ms: float | None) -> None:
        now = utcnow()
        res = _dumps(result) if result is not None else None
        cap = _dumps(captured) if captured is not None else None
        conn.execute(
            "INSERT INTO steps AS s (run_id, step_id, host, seq, state, attempts, rc, result, "
            "captured, error, started, updated, duration_ms) "
            "VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s) "
            "ON CONFLICT (run_id, step_id, host) DO UPDATE SET state=EXCLUDED.state, "
            "updated=EXCLUDED.updated, attempts=COALESCE(%s, s.attempts), "
            "rc=COALESCE(EXCLUDED.rc, s.rc), error=COALESCE(EXCLUDED.error, s.error), "
            "duration_ms=COALESCE(EXCLUDED.duration_ms, s.duration_ms), "
            "result=COALESCE(EXCLUDED.result, s.result), "
            "captured=COALESCE(EXCLUDED.captured, s.captured)",
            (run_id, step_id, host, seq or 0, state, attempts or 0, rc, res, cap, error, now,
             now, duration_ms, attempts))

    def steps(self, run_id: str) -> list[StepRecord]:
        self.flush()
        rows = self._select("SELECT * FROM steps WHERE run_id=%s ORDER BY seq, host",
                            (run_id,))
        return [StepRecord.from_row(r) for r in rows]

    # --- rollback stack ----------------------------------------------------------------

    def push_rollback(self, run_id: str, *, step_id: str, target: str, action: str,
                      args: dict[str, Any], commands: list[str]) -> int:
        def push(conn: psycopg.Connection[Any]) -> int:
            row = conn.execute("SELECT COALESCE(MAX(seq), 0) + 1 AS n FROM rollbacks "
                               "WHERE run_id=%s", (run_id,)).fetchone()
            seq = int(row["n"]) if row else 1
            conn.execute("INSERT INTO rollbacks VALUES (%s,%s,%s,%s,%s,%s,%s,%s)",
                         (run_id, seq, step_id, target, action, _dumps(args),
                          _dumps(commands), "pending"))
            return seq
        return int(self._tx(push))

    def set_rollback(self, run_id: str, seq: int, state: str) -> None:
        self._tx(lambda c: c.execute(
            "UPDATE rollbacks SET state=%s WHERE run_id=%s AND seq=%s", (state, run_id, seq)))

    def discharge(self, run_id: str, step_id: str) -> None:
        self._tx(lambda c: c.execute(
            "UPDATE rollbacks SET state='discharged' WHERE run_id=%s AND step_id=%s "
            "AND state='pending'", (run_id, step_id)))

    def rollbacks(self, run_id: str, state: str | None = None) -> list[RollbackRecord]:
        sql, args = "SELECT * FROM rollbacks WHERE run_id=%s", [run_id]
        if state:
            sql += " AND state=%s"
            args.append(state)
        return [RollbackRecord(r["seq"], r["step_id"], r["target"], r["action"],
                               _loads(r["args"]), _loads(r["commands"]), r["state"])
                for r in self._select(sql + " ORDER BY seq", args)]

    # --- locks -------------------------------------------------------------------------

    def acquire(self, key: str, *, run_id: str, actor: str, playbook: str,
                takeover: bool = False) -> dict[str, Any] | None:
        """Take the advisory lock of ``key`` and say so in ``locks``. LockedError naming
        the holder and its machine when a live session holds it; with ``takeover``
        (--force-unlock) that session is ended and its holder returned."""
        lid = lock_id(key)

        def take(conn: psycopg.Connection[Any]) -> dict[str, Any] | None:
            row = conn.execute("SELECT * FROM locks WHERE key=%s", (key,)).fetchone()
            previous = dict(row) if row and row["run_id"] != run_id else None
            got = conn.execute("SELECT pg_try_advisory_lock(%s) AS ok", (lid,)).fetchone()
            if not (got and got["ok"]):
                holder = previous or _holder_row(conn, key, run_id) or {
                    "run_id": "?", "actor": "?", "host": "?", "pid": 0, "started": "?",
                    "playbook": playbook}
                holder["stale"] = False
                if not takeover:
                    raise LockedError(_held_message(holder), holder=holder)
                self._end_holder(conn, lid)
            now = utcnow()
            conn.execute(
                "INSERT INTO locks (key, run_id, actor, host, pid, started, playbook, "
                "heartbeat) VALUES (%s,%s,%s,%s,%s,%s,%s,%s) ON CONFLICT (key) DO UPDATE SET "
                "run_id=EXCLUDED.run_id, actor=EXCLUDED.actor, host=EXCLUDED.host, "
                "pid=EXCLUDED.pid, started=EXCLUDED.started, playbook=EXCLUDED.playbook, "
                "heartbeat=EXCLUDED.heartbeat",
                (key, run_id, actor, socket.gethostname(), os.getpid(), now, playbook, now))
            return previous if takeover else None
        previous = self._tx(take)
        self._held[key] = (lid, run_id)
        self._start_heartbeat()
        return previous  # type: ignore[no-any-return]

    @staticmethod
    def _end_holder(conn: psycopg.Connection[Any], lid: int) -> None:
        """--force-unlock of a live holder: end its session, then wait for the lock."""
        for row in conn.execute(_HELD_SQL, _split(lid)).fetchall():
            conn.execute("SELECT pg_terminate_backend(%s)", (row["pid"],))
        conn.execute("SET LOCAL lock_timeout = '10s'")
        conn.execute("SELECT pg_advisory_lock(%s)", (lid,))

    def release(self, key: str, run_id: str) -> None:
        held = self._held.pop(key, None)

        def drop(conn: psycopg.Connection[Any]) -> None:
            conn.execute("DELETE FROM locks WHERE key=%s AND run_id=%s", (key, run_id))
            if held is not None:
                conn.execute("SELECT pg_advisory_unlock(%s)", (held[0],))
        self._tx(drop)
        if not self._held:
            self._stop.set()

    def _retake(self, conn: psycopg.Connection[Any]) -> None:
        """After a reconnect: the old session's advisory locks are gone; take them again,
        or stop (StateLost) when another runner took one meanwhile."""
        from runbook.state.base import StateLost

        for key, (lid, _run) in self._held.items():
            got = conn.execute("SELECT pg_try_advisory_lock(%s) AS ok", (lid,)).fetchone()
            if not (got and got["ok"]):
                raise StateLost(f"the lock {key!r} was taken by another runner while the "
                                "state database was away; stopped")

    def holder_alive(self, run: Mapping[str, Any]) -> bool:
        """Whether a live session (another runner, anywhere) holds this run's lock."""
        def check(conn: psycopg.Connection[Any]) -> bool:
            rows = conn.execute("SELECT key FROM locks WHERE run_id=%s",
                                (run["run_id"],)).fetchall()
            for row in rows:
                held = conn.execute(_HELD_SQL + " AND pid <> pg_backend_pid()",
                                    _split(lock_id(row["key"]))).fetchone()
                if held is not None:
                    return True
            return False
        return bool(self.db.tx(check))

    # --- heartbeat ---------------------------------------------------------------------

    def _start_heartbeat(self) -> None:
        if self._beat is not None and self._beat.is_alive():
            return
        self._stop.clear()
        self._beat = threading.Thread(target=self._beating, name="runbook-heartbeat",
                                      daemon=True)
        self._beat.start()

    def _beating(self) -> None:
        interval = heartbeat_interval()
        while not self._stop.wait(interval):
            held = list(self._held.items())
            if not held:
                return
            try:
                self.db.tx(functools.partial(_beat, held=held), retry=False)
            except Exception:  # the run's own transactions retry and report
                continue


def _beat(conn: psycopg.Connection[Any], *, held: list[tuple[str, tuple[int, str]]]) -> None:
    now = utcnow()
    for key, (_lid, run_id) in held:
        conn.execute("UPDATE locks SET heartbeat=%s WHERE key=%s AND run_id=%s",
                     (now, key, run_id))
        conn.execute("UPDATE runs SET heartbeat=%s WHERE run_id=%s", (now, run_id))


def _held_message(holder: Mapping[str, Any]) -> str:
    return (f"{holder['playbook']} is locked by run {holder['run_id']} (actor "
            f"{holder['actor']}, {holder['actor']}@{holder['host']} [{holder['pid']}], "
            f"machine {holder['host']}, started {holder['started']}, last heartbeat "
            f"{holder.get('heartbeat') or '?'}); still running")


def _like(prefix: str) -> str:
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _run_dict(row: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(row)
    for key in _JSON:
        out[key] = _loads(out[key])
    out["options"] = _loads(out.get("options")) or {}
    return out


def _holder_row(conn: psycopg.Connection[Any], key: str, run_id: str,
                wait: float = 2.0) -> dict[str, Any] | None:
    """The row of a holder that has just taken the lock: it writes the row in the
    transaction after its ``pg_try_advisory_lock``, so a loser of a close race reads
    again (each statement sees what has been committed since) for a short while."""
    deadline = time.monotonic() + wait
    while True:
        row = conn.execute("SELECT * FROM locks WHERE key=%s", (key,)).fetchone()
        if row and row["run_id"] != run_id:
            return dict(row)
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.05)
