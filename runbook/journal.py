"""The journal: where every run stands, durably, so a dead runner can be resumed.

SQLite in WAL mode with ``synchronous=FULL``: each state transition is
committed (and so on disk) before the engine starts the next command. It
records runs, per-step and per-host states, the state captured for
``rollback: auto``, registered results, the rollback stack, and locks.
Secret params are never written; a resume asks for them again.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import sqlite3
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runbook.errors import LockedError, RunbookError
from runbook.events import utcnow
from runbook.procs import pid_alive


class JournalError(RunbookError):
    """The journal file exists but is not a database runbook can use."""


SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    playbook TEXT NOT NULL,
    playbook_path TEXT NOT NULL,
    playbook_sha256 TEXT NOT NULL,
    playbook_text TEXT,
    params TEXT NOT NULL,
    secret_params TEXT NOT NULL,
    targets TEXT NOT NULL,
    actor TEXT NOT NULL,
    reason TEXT,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    audit_log TEXT,
    started TEXT NOT NULL,
    finished TEXT,
    status TEXT NOT NULL,
    exit_code INTEGER,
    lock_key TEXT,
    options TEXT
);
CREATE TABLE IF NOT EXISTS steps (
    run_id TEXT NOT NULL,
    step_id TEXT NOT NULL,
    host TEXT NOT NULL DEFAULT '',
    seq INTEGER NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    rc INTEGER,
    result TEXT,
    captured TEXT,
    error TEXT,
    started TEXT,
    updated TEXT NOT NULL,
    duration_ms REAL,
    PRIMARY KEY (run_id, step_id, host)
);
CREATE TABLE IF NOT EXISTS rollbacks (
    run_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    step_id TEXT NOT NULL,
    target TEXT NOT NULL,
    action TEXT NOT NULL,
    args TEXT NOT NULL,
    commands TEXT NOT NULL,
    state TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
);
CREATE TABLE IF NOT EXISTS locks (
    key TEXT PRIMARY KEY,
    run_id TEXT NOT NULL,
    actor TEXT NOT NULL,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    started TEXT NOT NULL,
    playbook TEXT NOT NULL
);
"""

FINAL = {"succeeded", "failed", "rolled-back", "declined", "precondition-failed",
         "could-not-check", "needs-attention", "interrupted", "resolved"}
"""Run statuses that cannot be resumed."""


def _dumps(value: Any) -> str:
    return json.dumps(value, default=str, sort_keys=True)


def _loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


@dataclass
class StepRecord:
    step_id: str
    host: str
    seq: int
    state: str
    attempts: int
    rc: int | None
    result: Any
    captured: Any
    error: str | None
    duration_ms: float | None

    @classmethod
    def from_row(cls, r: Mapping[str, Any]) -> StepRecord:
        """A ``steps`` row of either backend (JSON columns decoded)."""
        return cls(r["step_id"], r["host"], r["seq"], r["state"], r["attempts"], r["rc"],
                   _loads(r["result"]), _loads(r["captured"]), r["error"], r["duration_ms"])


def runs_query(mark: str, *, playbook: str | None, status: str | None,
               limit: int) -> tuple[str, list[Any]]:
    """The newest runs, filtered: SQL with ``mark`` as the placeholder of the backend's
    driver (``?`` for sqlite3, ``%s`` for psycopg), and its arguments."""
    sql, args = "SELECT * FROM runs WHERE 1=1", list[Any]()
    for column, value in (("playbook", playbook), ("status", status)):
        if value:
            sql += f" AND {column}={mark}"
            args.append(value)
    return sql + f" ORDER BY started DESC LIMIT {mark}", [*args, limit]


@dataclass
class RollbackRecord:
    seq: int
    step_id: str
    target: str
    action: str
    args: dict[str, Any]
    commands: list[str]
    state: str


@contextmanager
def _init_lock(path: Path) -> Iterator[None]:
    """Serialise first-time set-up across processes.

    Switching a new database to WAL is not covered by SQLite's busy timeout: two
    runners starting at once on a fresh RUNBOOK_HOME would see "database is locked".
    WAL mode then persists in the file, so later connections need no switch."""
    fd = os.open(path.with_name(path.name + ".init-lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


class Journal:
    """One SQLite database shared by every run on this machine (under RUNBOOK_HOME)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            if not file.exists():
                file.touch(mode=0o600)
        self._local = threading.local()
        self._lock = threading.RLock()
        """The commit lock: one transaction at a time in this process."""
        self._qlock = threading.Lock()
        self._queue: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
        self._queued = 0
        """Ticket of the last update queued (each queued update takes the next one)."""
        self._committed = 0
        """Ticket of the last update a committed transaction wrote."""
        self.commits = 0
        """Transactions committed by this object (group commit shows here)."""
        with self._lock, _init_lock(path):
            try:
                db = self._db()
                db.execute("PRAGMA journal_mode=WAL")
                db.executescript(SCHEMA)
                columns = {row[1] for row in db.execute("PRAGMA table_info(runs)")}
                if "options" not in columns:  # written before runs kept their options
                    db.execute("ALTER TABLE runs ADD COLUMN options TEXT")
            except sqlite3.DatabaseError as exc:
                self._local.db = None
                raise JournalError(
                    f"{path}: the journal cannot be read ({exc}); nothing ran. Move it aside "
                    "(its runs can no longer be resumed) and run again") from exc

    def _db(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None,
                                 check_same_thread=False)
            db.execute("PRAGMA synchronous=FULL")
            db.row_factory = sqlite3.Row
            self._local.db = db
        return db

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One committed transaction; BEGIN IMMEDIATE so writers queue instead of failing.

        Queued step updates (deferred ones, and those of threads waiting for a group
        commit, see ``step``) are written first, in the same transaction: one fsync
        covers them and the transition that follows. If the transaction fails they go
        back to the head of the queue, so none is lost and none counts as committed."""
        with self._lock:
            db = self._db()
            db.execute("BEGIN IMMEDIATE")
            with self._qlock:
                queued, self._queue = self._queue, []
                last = self._queued
            try:
                for args, kwargs in queued:
                    self._write_step(db, *args, **kwargs)
                yield db
                db.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    db.execute("ROLLBACK")
                with self._qlock:
                    self._queue[:0] = queued
                raise
            self._committed = last
            self.commits += 1

    def _commit_through(self, ticket: int) -> None:
        """Return once the update with ``ticket`` is committed: by this thread's own
        transaction, or by one another thread committed while this one waited for the
        commit lock (group commit: concurrent fan-out hosts share one fsync)."""
        with self._lock:
            if self._committed >= ticket:
                return
            with self._tx():
                pass

    def flush(self) -> None:
        """Commit deferred updates now (end of a run)."""
        if self._queue:
            self._commit_through(self._queued)

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None

    # --- runs --------------------------------------------------------------------------

    def start_run(self, *, run_id: str, playbook: str, playbook_path: str, sha256: str,
                  text: str | None, params: dict[str, Any], secret_params: list[str],
                  targets: list[str], actor: str, reason: str | None,
                  audit_log: str | None, lock_key: str | None,
                  options: dict[str, Any] | None = None) -> None:
        """``options``: what shaped the run (sandbox, targets), for its resume."""
        with self._tx() as db:
            db.execute(
                "INSERT INTO runs (run_id, playbook, playbook_path, playbook_sha256, "
                "playbook_text, params, secret_params, targets, actor, reason, host, pid, "
                "audit_log, started, status, lock_key, options) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (run_id, playbook, playbook_path, sha256, text, _dumps(params),
                 _dumps(secret_params), _dumps(targets), actor, reason, socket.gethostname(),
                 os.getpid(), audit_log, utcnow(), "running", lock_key, _dumps(options or {})))

    def reopen_run(self, run_id: str) -> None:
        """A resumed run now belongs to this process."""
        with self._tx() as db:
            db.execute("UPDATE runs SET status='running', pid=?, host=?, finished=NULL, "
                       "exit_code=NULL WHERE run_id=?",
                       (os.getpid(), socket.gethostname(), run_id))

    def finish_run(self, run_id: str, status: str, exit_code: int | None) -> None:
        """Also commits any deferred step updates (same transaction)."""
        with self._tx() as db:
            db.execute("UPDATE runs SET status=?, exit_code=?, finished=? WHERE run_id=?",
                       (status, exit_code, utcnow(), run_id))

    def run(self, run_id: str) -> dict[str, Any] | None:
        """A run by id or unique prefix."""
        rows = self._db().execute("SELECT * FROM runs WHERE run_id LIKE ? ORDER BY started",
                                  (run_id + "%",)).fetchall()
        if len(rows) != 1:
            exact = [r for r in rows if r["run_id"] == run_id]
            if len(exact) != 1:
                return None
            rows = exact
        return self._run_dict(rows[0])

    def ambiguous(self, prefix: str) -> list[str]:
        rows = self._db().execute("SELECT run_id FROM runs WHERE run_id LIKE ?",
                                  (prefix + "%",)).fetchall()
        return [r["run_id"] for r in rows]

    @staticmethod
    def _run_dict(row: sqlite3.Row) -> dict[str, Any]:
        out = dict(row)
        for key in ("params", "secret_params", "targets"):
            out[key] = _loads(out[key])
        out["options"] = _loads(out.get("options")) or {}
        return out

    def runs(self, *, playbook: str | None = None, status: str | None = None,
             limit: int = 20) -> list[dict[str, Any]]:
        sql, args = runs_query("?", playbook=playbook, status=status, limit=limit)
        return [self._run_dict(r) for r in self._db().execute(sql, args).fetchall()]

    # --- steps -------------------------------------------------------------------------

    def step(self, run_id: str, step_id: str, *, host: str = "", state: str,
             seq: int | None = None, attempts: int | None = None, rc: int | None = None,
             result: Any = None, captured: Any = None, error: str | None = None,
             duration_ms: float | None = None, defer: bool = False) -> None:
        """Record a step's (or one host's) state transition, committed before returning
        (in a transaction that may also carry other threads' transitions: group commit).

        ``defer`` queues it for the next transaction instead: for the outcome of a
        command, which the next transition (before the next mutating command) commits."""
        kwargs = {"host": host, "state": state, "seq": seq, "attempts": attempts, "rc": rc,
                  "result": result, "captured": captured, "error": error,
                  "duration_ms": duration_ms}
        with self._qlock:
            self._queue.append(((run_id, step_id), kwargs))
            self._queued += 1
            ticket = self._queued
        if not defer:
            self._commit_through(ticket)

    @staticmethod
    def _write_step(db: sqlite3.Connection, run_id: str, step_id: str, *, host: str,
                    state: str, seq: int | None, attempts: int | None, rc: int | None,
                    result: Any, captured: Any, error: str | None,
                    duration_ms: float | None) -> None:
        now = utcnow()
        row = db.execute("SELECT seq FROM steps WHERE run_id=? AND step_id=? AND host=?",
                         (run_id, step_id, host)).fetchone()
        if row is None:
            db.execute(
                "INSERT INTO steps (run_id, step_id, host, seq, state, attempts, rc, "
                "result, captured, error, started, updated, duration_ms) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (run_id, step_id, host, seq or 0, state, attempts or 0, rc,
                 _dumps(result) if result is not None else None,
                 _dumps(captured) if captured is not None else None, error, now, now,
                 duration_ms))
        else:
            sets = ["state=?", "updated=?"]
            vals: list[Any] = [state, now]
            for name, value in (("attempts", attempts), ("rc", rc), ("error", error),
                                ("duration_ms", duration_ms)):
                if value is not None:
                    sets.append(f"{name}=?")
                    vals.append(value)
            if result is not None:
                sets.append("result=?")
                vals.append(_dumps(result))
            if captured is not None:
                sets.append("captured=?")
                vals.append(_dumps(captured))
            db.execute(f"UPDATE steps SET {', '.join(sets)} WHERE run_id=? AND step_id=? "
                       "AND host=?", (*vals, run_id, step_id, host))

    def steps(self, run_id: str) -> list[StepRecord]:
        self.flush()
        rows = self._db().execute("SELECT * FROM steps WHERE run_id=? ORDER BY seq, host",
                                  (run_id,)).fetchall()
        return [StepRecord.from_row(r) for r in rows]

    # --- rollback stack ----------------------------------------------------------------

    def push_rollback(self, run_id: str, *, step_id: str, target: str, action: str,
                      args: dict[str, Any], commands: list[str]) -> int:
        with self._tx() as db:
            row = db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM rollbacks WHERE run_id=?",
                             (run_id,)).fetchone()
            seq = int(row[0])
            db.execute("INSERT INTO rollbacks VALUES (?,?,?,?,?,?,?,?)",
                       (run_id, seq, step_id, target, action, _dumps(args),
                        _dumps(commands), "pending"))
        return seq

    def set_rollback(self, run_id: str, seq: int, state: str) -> None:
        with self._tx() as db:
            db.execute("UPDATE rollbacks SET state=? WHERE run_id=? AND seq=?",
                       (state, run_id, seq))

    def discharge(self, run_id: str, step_id: str) -> None:
        with self._tx() as db:
            db.execute("UPDATE rollbacks SET state='discharged' WHERE run_id=? AND step_id=? "
                       "AND state='pending'", (run_id, step_id))

    def rollbacks(self, run_id: str, state: str | None = None) -> list[RollbackRecord]:
        sql = "SELECT * FROM rollbacks WHERE run_id=?"
        args: list[Any] = [run_id]
        if state:
            sql += " AND state=?"
            args.append(state)
        rows = self._db().execute(sql + " ORDER BY seq", args).fetchall()
        return [RollbackRecord(r["seq"], r["step_id"], r["target"], r["action"],
                               json.loads(r["args"]), json.loads(r["commands"]), r["state"])
                for r in rows]

    # --- locks -------------------------------------------------------------------------

    def acquire(self, key: str, *, run_id: str, actor: str, playbook: str,
                takeover: bool = False) -> dict[str, Any] | None:
        """Take the lock; returns the previous holder when a stale lock was taken over.

        Raises LockedError naming the holder when it is held (stale or not) and
        ``takeover`` is false; ``holder["stale"]`` says whether its process is gone."""
        host = socket.gethostname()
        with self._tx() as db:
            row = db.execute("SELECT * FROM locks WHERE key=?", (key,)).fetchone()
            previous = dict(row) if row else None
            if previous is not None and previous["run_id"] != run_id:
                stale = previous["host"] == host and not pid_alive(previous["pid"])
                previous["stale"] = stale
                if not takeover:
                    state = ("its process is gone (stale lock: take it over with "
                             "--force-unlock)" if stale else "still running")
                    raise LockedError(
                        f"{previous['playbook']} is locked by run {previous['run_id']} "
                        f"(actor {previous['actor']}, host {previous['host']}, pid "
                        f"{previous['pid']}, started {previous['started']}); {state}",
                        holder=previous)
            db.execute("INSERT OR REPLACE INTO locks VALUES (?,?,?,?,?,?,?)",
                       (key, run_id, actor, host, os.getpid(), utcnow(), playbook))
        return previous if previous is not None and previous["run_id"] != run_id else None

    def holder_alive(self, run: Mapping[str, Any]) -> bool:
        """Whether the run's runner still lives (this machine only can tell)."""
        return bool(run["host"] == socket.gethostname() and run["pid"] != os.getpid()
                    and pid_alive(run["pid"]))

    def release(self, key: str, run_id: str) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM locks WHERE key=? AND run_id=?", (key, run_id))


def default_journal_path() -> Path:
    from runbook.paths import runbook_home

    return runbook_home() / "journal.db"


def lock_key(playbook: str, targets: list[str]) -> str:
    return f"{playbook}|{','.join(sorted(targets))}"

