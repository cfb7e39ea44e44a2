"""The PostgreSQL schema, as numbered forward migrations.

``schema_version`` holds one row per applied version. An empty database is
brought to the newest version on first use; a database at an older version
is left alone until ``runbook state migrate`` (a shared database changes when
its team decides), and one at a newer version than this runbook knows is
refused. Each migration runs in one transaction with the version row it adds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from runbook.state.base import StateError

if TYPE_CHECKING:
    import psycopg

MIGRATIONS: tuple[tuple[str, str], ...] = (
    ("journal, locks and the audit table", """
CREATE TABLE runs (
    run_id TEXT PRIMARY KEY, playbook TEXT NOT NULL, playbook_path TEXT NOT NULL,
    playbook_sha256 TEXT NOT NULL, playbook_text TEXT, params TEXT NOT NULL,
    secret_params TEXT NOT NULL, targets TEXT NOT NULL, actor TEXT NOT NULL, reason TEXT,
    host TEXT NOT NULL, pid INTEGER NOT NULL, audit_log TEXT, started TEXT NOT NULL,
    finished TEXT, status TEXT NOT NULL, exit_code INTEGER, lock_key TEXT, options TEXT);
CREATE TABLE steps (
    run_id TEXT NOT NULL, step_id TEXT NOT NULL, host TEXT NOT NULL DEFAULT '',
    seq INTEGER NOT NULL, state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
    rc INTEGER, result TEXT, captured TEXT, error TEXT, started TEXT, updated TEXT NOT NULL,
    duration_ms DOUBLE PRECISION, PRIMARY KEY (run_id, step_id, host));
CREATE TABLE rollbacks (
    run_id TEXT NOT NULL, seq INTEGER NOT NULL, step_id TEXT NOT NULL, target TEXT NOT NULL,
    action TEXT NOT NULL, args TEXT NOT NULL, commands TEXT NOT NULL, state TEXT NOT NULL,
    PRIMARY KEY (run_id, seq));
CREATE TABLE locks (
    key TEXT PRIMARY KEY, run_id TEXT NOT NULL, actor TEXT NOT NULL, host TEXT NOT NULL,
    pid INTEGER NOT NULL, started TEXT NOT NULL, playbook TEXT NOT NULL);
CREATE TABLE audit (
    seq BIGINT PRIMARY KEY, run_id TEXT, event TEXT NOT NULL, hash TEXT NOT NULL,
    line TEXT NOT NULL, token TEXT UNIQUE);
CREATE FUNCTION runbook_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'the runbook audit table is append-only'; END $$;
CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON audit
    FOR EACH ROW EXECUTE FUNCTION runbook_audit_append_only();
"""),
    ("heartbeats: runs and lock holders say when they were last alive", """
ALTER TABLE runs ADD COLUMN heartbeat TEXT;
ALTER TABLE locks ADD COLUMN heartbeat TEXT;
CREATE INDEX runs_started ON runs (started);
CREATE INDEX audit_run ON audit (run_id);
"""),
)
"""(what it does, SQL); version N is ``MIGRATIONS[N-1]``."""

LATEST = len(MIGRATIONS)


def current_version(conn: psycopg.Connection[Any]) -> int:
    """0 for an empty database."""
    row = conn.execute("SELECT to_regclass('schema_version') AS t").fetchone()
    if row is None or row["t"] is None:
        return 0
    got = conn.execute("SELECT COALESCE(MAX(version), 0) AS v FROM schema_version").fetchone()
    return int(got["v"]) if got else 0


def migrate(conn: psycopg.Connection[Any], target: int = LATEST) -> list[int]:
    """Apply the migrations up to ``target``, each in its own transaction; the versions
    applied. Concurrent migrators queue on an advisory lock."""
    applied: list[int] = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, "
                     "applied TEXT NOT NULL, description TEXT NOT NULL)")
    version = current_version(conn)
    if version > LATEST:
        raise StateError(f"the state database is at schema version {version}, newer than "
                         f"this runbook knows ({LATEST}); upgrade runbook")
    from runbook.events import utcnow

    for number in range(version + 1, target + 1):
        description, sql = MIGRATIONS[number - 1]
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
            if current_version(conn) >= number:
                continue
            conn.execute(sql)
            conn.execute("INSERT INTO schema_version VALUES (%s, %s, %s)",
                         (number, utcnow(), description))
        applied.append(number)
    return applied


def ensure(conn: psycopg.Connection[Any]) -> None:
    """On first use: create an empty database's schema; refuse one that is behind/ahead.
    Under the migration lock, so a runner never sees another one's half-made schema."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        version = current_version(conn)
        if version == 0:
            migrate(conn)
            return
    if version < LATEST:
        raise StateError(f"the state database is at schema version {version}, this runbook "
                         f"needs {LATEST}: run `runbook state migrate` (nothing ran)")
    elif version > LATEST:
        raise StateError(f"the state database is at schema version {version}, newer than "
                         f"this runbook knows ({LATEST}); upgrade runbook (nothing ran)")


MIGRATION_LOCK = 0x72756E626F6F6B  # "runbook"
AUDIT_LOCK = 0x72756E626F6F6B + 1
"""Transaction-level advisory lock serialising audit appends: one chain, no seq gaps."""
