"""One PostgreSQL connection that survives a server restart, within a bound.

Every use is one transaction (``tx``): on a dropped connection it reconnects and
runs the whole transaction again (tenacity, ``$RUNBOOK_STATE_RETRY`` seconds,
default 30). Past the bound the connection counts as lost for good
(``StateLost``), so the runner stops before starting a command it could not
journal and audit. After a reconnect ``on_reconnect`` re-takes the session's
advisory locks, which the server dropped with the old session.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from runbook.state.base import StateError, StateLost

if TYPE_CHECKING:
    import psycopg

    from runbook.state.pg_journal import PgJournal

T = TypeVar("T")

CONNECT_TIMEOUT = 5


def retry_bound() -> float:
    try:
        return max(0.0, float(os.environ.get("RUNBOOK_STATE_RETRY", "30")))
    except ValueError:
        return 30.0


class _Dropped(Exception):
    """The connection broke under a transaction (the server went away)."""


class Connector:
    """A lazily opened, re-opened connection; ``lock`` serialises its users (threads)."""

    def __init__(self, url: str, shown: str) -> None:
        self.url = url
        self.shown = shown
        # psycopg warns on stderr when it drops a broken pipeline; the retry says it better
        logging.getLogger("psycopg").setLevel(logging.ERROR)
        self.lock = threading.RLock()
        self.on_reconnect: Callable[[psycopg.Connection[Any]], None] | None = None
        self.journal_rider: PgJournal | None = None
        """The run's journal, whose deferred transitions the audit's writes carry."""
        self.audit_rider = False
        """An audit log writes through this connection (it will carry the journal's queue)."""
        self._conn: psycopg.Connection[Any] | None = None
        self.lost: StateLost | None = None
        self.retried = False
        """True while a transaction runs again after the connection dropped."""

    def _hide(self, text: str) -> str:
        from urllib.parse import urlsplit

        password = urlsplit(self.url).password
        return text.replace(password, "***") if password else text

    def connect(self) -> psycopg.Connection[Any]:
        """The live connection (opening it): StateError naming the URL without secrets."""
        import psycopg
        from psycopg.rows import dict_row

        if self._conn is not None and not self._conn.closed:
            return self._conn
        reconnect = self._conn is not None
        try:
            self._conn = psycopg.connect(self.url, autocommit=True, row_factory=dict_row,
                                         connect_timeout=CONNECT_TIMEOUT,
                                         application_name="runbook")
        except psycopg.Error as exc:
            self._conn = None
            raise StateError(f"cannot reach the state database {self.shown}: "
                             f"{self._hide(str(exc).strip())}; nothing ran") from exc
        if reconnect and self.on_reconnect is not None:
            self.on_reconnect(self._conn)
        return self._conn

    def tx(self, work: Callable[[psycopg.Connection[Any]], T], *, retry: bool = True) -> T:
        """``work(conn)`` in one transaction, run again on a fresh connection if the
        old one dropped; StateLost once the bound is spent."""
        import tenacity

        if self.lost is not None:
            raise self.lost
        with self.lock:
            try:
                for attempt in tenacity.Retrying(
                        stop=tenacity.stop_after_delay(retry_bound() if retry else 0),
                        wait=tenacity.wait_exponential(multiplier=0.1, max=2),
                        retry=tenacity.retry_if_exception_type((_Dropped, StateError))
                        & tenacity.retry_if_not_exception_type(StateLost),
                        reraise=True):
                    with attempt:
                        self.retried = attempt.retry_state.attempt_number > 1
                        return self._once(work)
            except StateLost:
                raise
            except (_Dropped, StateError) as exc:
                cause = exc.__cause__ or exc
                lost = StateLost(f"the state database {self.shown} is unreachable "
                                 f"({self._hide(str(cause).strip())}); tried for "
                                 f"{retry_bound() if retry else 0:.0f}s and stopped before "
                                 "the next command: the run stays resumable (runbook resume "
                                 "RUN_ID once the database is back)")
                if retry:
                    self.lost = lost
                raise lost from cause
        raise AssertionError("unreachable")  # pragma: no cover

    def _once(self, work: Callable[[psycopg.Connection[Any]], T]) -> T:
        import psycopg

        conn = self.connect()
        try:  # pipelined: a transaction costs one round trip unless it reads
            with conn.pipeline(), conn.transaction():
                return work(conn)
        except psycopg.OperationalError as exc:
            if conn.closed:  # kept as "had one": the next connect re-takes the locks
                raise _Dropped(str(exc)) from exc
            raise

    def close(self) -> None:
        with self.lock:
            if self._conn is not None:
                self._conn.close()
            self._conn = None
