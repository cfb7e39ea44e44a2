"""Where runs are kept: the local SQLite journal + JSONL audit log, or a shared database.

``open_state`` picks the backend from a URL (``--state URL``, else
``$RUNBOOK_STATE``): none means the embedded default under ``RUNBOOK_HOME``,
exactly as before; ``postgresql://`` the team backend (psycopg is imported only
then); any other scheme is asked of plugins through ``runbook_state_backend``.
A password in the URL never leaves this package: ``shown`` and errors carry the
URL without it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runbook.state.errors import StateError, StateLost

if TYPE_CHECKING:
    from runbook.audit import VerifyReport
    from runbook.state.base import AuditSink, JournalStore, StateBackend


def __getattr__(name: str) -> Any:
    """The Protocols, for backends and type hints, loaded when first asked for (the
    default run path needs none of them)."""
    if name in ("AuditSink", "JournalStore", "StateBackend"):
        from runbook.state import base

        return getattr(base, name)
    raise AttributeError(name)

__all__ = ["AuditSink", "JournalStore", "LocalState", "StateBackend", "StateError",
           "StateLost", "open_state", "redact_url", "set_cli_state", "state_url"]

ENV = "RUNBOOK_STATE"
_cli_url: str | None = None


def set_cli_state(url: str | None) -> None:
    """``--state URL`` of this command (kept here, not in the environment, so that the
    commands a run starts never inherit a password)."""
    global _cli_url
    _cli_url = url or None


def state_url(explicit: str | None = None) -> str | None:
    """The state URL in force: given, ``--state``, ``$RUNBOOK_STATE``, or None (local)."""
    return explicit or _cli_url or os.environ.get(ENV) or None


def redact_url(url: str) -> str:
    """The URL without its password (and without a ``password=`` query parameter)."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        cred, host = netloc.rsplit("@", 1)
        netloc = (cred.split(":", 1)[0] + ":***" if ":" in cred else cred) + "@" + host
    query = "&".join("password=***" if q.lower().startswith("password=") else q
                     for q in parts.query.split("&")) if parts.query else ""
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


class LocalState:
    """The embedded default: ``journal.db`` and ``audit.jsonl`` under RUNBOOK_HOME."""

    def __init__(self, journal_path: Path | None = None) -> None:
        from runbook.journal import default_journal_path

        self.journal_path = Path(journal_path or default_journal_path())
        self.shown = str(self.journal_path)

    def journal(self) -> JournalStore:
        from runbook.journal import Journal

        return Journal(self.journal_path)

    def audit_log(self, path: Path | None) -> AuditSink:
        from runbook.audit import AuditLog, default_audit_path

        return AuditLog(Path(path or default_audit_path()))

    def audit_verify(self, path: Path | None) -> VerifyReport:
        from runbook.audit import default_audit_path, verify

        return verify(Path(path or default_audit_path()))

    def audit_events(self, path: Path | None, run_id: str | None) -> list[dict[str, Any]]:
        from runbook.audit import default_audit_path, last_run_id, read_run

        where = Path(path or default_audit_path())
        return read_run(where, run_id or last_run_id(where))

    def close(self) -> None:
        return None


def open_state(url: str | None = None, *, journal_path: Path | None = None) -> StateBackend:
    """The backend for ``url`` (see ``state_url``); StateError (exit 2) when unusable."""
    url = state_url(url)
    if not url:
        return LocalState(journal_path)
    from urllib.parse import urlsplit

    scheme = urlsplit(url).scheme.lower()
    if scheme in ("postgresql", "postgres"):
        from runbook.state.pg import PgState

        return PgState(url)
    from runbook.plugins import default_registry

    backend: StateBackend | None = default_registry().pm.hook.runbook_state_backend(url=url)
    if backend is None:
        raise StateError(f"no state backend for {redact_url(url)!r}: use postgresql://... "
                         "or install the plugin that provides this scheme")
    return backend
