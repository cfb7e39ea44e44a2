"""The PostgreSQL backend: journal, locks and audit of a whole team in one database.

Chosen by a ``postgresql://`` state URL. psycopg is imported here and only
here (and in the modules beside it), so the default SQLite path never loads
it. Opening checks that the server answers and the schema is current: an
unreachable server or an old schema is a StateError (exit 2) before anything
runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from runbook.state.base import StateError

if TYPE_CHECKING:
    from runbook.audit import VerifyReport
    from runbook.state.pg_audit import PgAuditLog
    from runbook.state.pg_journal import PgJournal


class PgState:
    """``StateBackend`` on PostgreSQL; one connection per journal (its locks live on it)."""

    def __init__(self, url: str, *, check_schema: bool = True) -> None:
        from runbook.state import redact_url
        from runbook.state.pg_conn import Connector

        try:
            import psycopg  # noqa: F401
        except ImportError as exc:
            raise StateError("the PostgreSQL state backend needs psycopg: pip install "
                             "'runbook[postgres]'") from exc
        self.url = url
        self.shown = redact_url(url)
        self.db = Connector(url, self.shown)
        conn = self.db.connect()
        if check_schema:
            from runbook.state.pg_schema import ensure

            ensure(conn)

    def journal(self) -> PgJournal:
        from runbook.state.pg_journal import PgJournal

        return PgJournal(self.db)

    def audit_log(self, path: Path | None) -> PgAuditLog:
        from runbook.state.pg_audit import PgAuditLog

        return PgAuditLog(self.db)

    def audit_verify(self, path: Path | None) -> VerifyReport:
        from runbook.state.pg_audit import verify_table

        return verify_table(self.db)

    def audit_events(self, path: Path | None, run_id: str | None) -> list[dict[str, Any]]:
        from runbook.state.pg_audit import read_events

        return read_events(self.db, run_id)

    def status(self) -> dict[str, Any]:
        """For ``runbook state status``: version, counts, live locks."""
        from runbook.state.pg_schema import LATEST, current_version

        def read(conn: Any) -> dict[str, Any]:
            version = current_version(conn)
            out: dict[str, Any] = {"url": self.shown, "schema_version": version,
                                   "latest": LATEST}
            if version:
                for table in ("runs", "audit", "locks"):
                    out[table] = conn.execute(f"SELECT count(*) AS n FROM {table}"
                                              ).fetchone()["n"]
            return out
        return dict(self.db.tx(read, retry=False))

    def migrate(self, target: int | None = None) -> list[int]:
        from runbook.state.pg_schema import LATEST, migrate

        return migrate(self.db.connect(), LATEST if target is None else target)

    def close(self) -> None:
        self.db.close()
