"""Group commit: concurrent appenders share one fsync (audit) or one transaction
(journal), and each is still durable before its call returns.

Grouping is forced, not timed: the test holds the commit lock while the threads
write, so every one of them is waiting when it lets go."""

from __future__ import annotations

import errno
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from runbook.audit import GENESIS, AuditLog, verify
from runbook.errors import LockedError
from runbook.journal import Journal

N = 8


def _fields(i: int) -> dict[str, Any]:
    return {"event": "step.started", "run_id": "run-1", "actor": "alice", "playbook": "demo",
            "playbook_sha256": "ab" * 32, "dry_run": False, "step": "s1", "host": f"h{i}"}


def _until(cond: Callable[[], bool], what: str) -> None:
    """Wait for a state (not a duration): fail only if it never comes."""
    deadline = time.monotonic() + 30
    while not cond():
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.002)


class _Fsyncs:
    """os.fsync, recording the file size each completed fsync made durable."""

    def __init__(self, fail_first: bool = False) -> None:
        self.real = os.fsync
        self.sizes: list[int] = []
        self.fail_first = fail_first
        self.lock = threading.Lock()

    def __call__(self, fd: int) -> None:
        if self.fail_first:
            self.fail_first = False
            raise OSError(errno.EIO, "injected I/O error")
        self.real(fd)
        if os.path.isfile(f"/proc/self/fd/{fd}"):
            with self.lock:
                self.sizes.append(os.fstat(fd).st_size)

    def durable_size(self) -> int:
        with self.lock:
            return max(self.sizes, default=0)


@pytest.fixture
def fsyncs(monkeypatch: pytest.MonkeyPatch) -> Iterator[_Fsyncs]:
    rec = _Fsyncs()
    monkeypatch.setattr(os, "fsync", rec)
    yield rec


def _line_ends(path: Path) -> dict[int, tuple[int, dict[str, Any]]]:
    """seq -> (byte offset where its line ends, the event)."""
    out: dict[int, tuple[int, dict[str, Any]]] = {}
    end = 0
    for raw in path.read_bytes().splitlines(keepends=True):
        end += len(raw)
        ev = json.loads(raw)
        out[ev["seq"]] = (end, ev)
    return out


def _durable_appends(log: AuditLog, fsyncs: _Fsyncs, count: int
                     ) -> tuple[list[threading.Thread], list[tuple[dict[str, Any], int]],
                                list[BaseException]]:
    """``count`` threads appending durable events while the test holds the fsync lock."""
    returned: list[tuple[dict[str, Any], int]] = []
    errors: list[BaseException] = []

    def append(i: int) -> None:
        try:
            event = log.append(_fields(i), durable=True)
            returned.append((event, fsyncs.durable_size()))
        except BaseException as exc:  # reported by the test
            errors.append(exc)

    threads = [threading.Thread(target=append, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    return threads, returned, errors


def test_concurrent_durable_appends_share_one_fsync_and_each_is_on_disk_at_return(
        tmp_path: Path, fsyncs: _Fsyncs) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path)
    with log._sync_lock:  # an fsync "in progress": every appender queues behind it
        threads, returned, errors = _durable_appends(log, fsyncs, N)
        _until(lambda: log._written == N, "all appends written")
        assert not returned, "a durable append returned before any fsync"
        assert all(t.is_alive() for t in threads)
    for t in threads:
        t.join()
    assert not errors
    assert len(returned) == N
    assert log.fsyncs == 1 and len(fsyncs.sizes) == 1  # the file's, plus none per appender
    ends = _line_ends(path)
    assert sorted(ends) == list(range(1, N + 1))  # one chain, no gap, in file order
    for event, durable in returned:
        end, on_disk = ends[event["seq"]]
        assert on_disk == event  # what append returned is the line written
        assert durable >= end, f"seq {event['seq']} returned before its line was fsynced"
    report = verify(path)
    assert report.ok and report.events == N
    assert ends[1][1]["prev"] == GENESIS
    assert [ends[s][1]["prev"] for s in range(2, N + 1)] == \
        [ends[s][1]["hash"] for s in range(1, N)]
    assert sorted(e["host"] for e, _ in returned) == sorted(f"h{i}" for i in range(N))


def test_an_append_already_covered_does_not_fsync_again(tmp_path: Path,
                                                        fsyncs: _Fsyncs) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    for i in range(3):
        log.append(_fields(i), durable=False)
    assert fsyncs.sizes == []
    log.sync()
    log.sync()  # nothing new: no second fsync
    assert log.fsyncs == 1
    assert fsyncs.durable_size() == (tmp_path / "audit.jsonl").stat().st_size
    log.append(_fields(3), durable=True)
    assert log.fsyncs == 2
    assert fsyncs.durable_size() == (tmp_path / "audit.jsonl").stat().st_size


def test_a_failed_group_fsync_is_not_taken_as_durable_by_the_next_appender(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rec = _Fsyncs(fail_first=True)
    monkeypatch.setattr(os, "fsync", rec)
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path)
    with log._sync_lock:
        threads, returned, errors = _durable_appends(log, rec, 2)
        _until(lambda: log._written == 2, "both appends written")
    for t in threads:
        t.join()
    # The first fsync failed: its appender hears of it; the other did its own fsync.
    assert len(errors) == 1 and "injected I/O error" in str(errors[0])
    assert len(returned) == 1
    event, durable = returned[0]
    assert durable >= _line_ends(path)[event["seq"]][0]
    assert log.fsyncs == 1 and verify(path).ok


def test_close_between_write_and_sync_still_fsyncs_the_event(tmp_path: Path,
                                                             fsyncs: _Fsyncs) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path)
    log.append(_fields(0), durable=False)
    log.close()
    log.sync()  # the written event is made durable through a reopened descriptor
    assert fsyncs.durable_size() == path.stat().st_size
    assert log.append(_fields(1), durable=True)["seq"] == 2
    assert verify(path).ok


# --- the journal ------------------------------------------------------------------------


def _journal(tmp_path: Path) -> Journal:
    j = Journal(tmp_path / "journal.db")
    j.start_run(run_id="r1", playbook="p", playbook_path="/p.yaml", sha256="x", text=None,
                params={}, secret_params=[], targets=["fleet"], actor="alice", reason=None,
                audit_log=None, lock_key=None)
    return j


def _committed(path: Path, host: str) -> str | None:
    """The host's state as another connection sees it: only what was committed."""
    db = sqlite3.connect(path)
    try:
        row = db.execute("SELECT state FROM steps WHERE run_id='r1' AND step_id='s1' "
                         "AND host=?", (host,)).fetchone()
    finally:
        db.close()
    return None if row is None else str(row[0])


def test_concurrent_transitions_commit_in_one_transaction_each_committed_at_return(
        tmp_path: Path) -> None:
    j = _journal(tmp_path)
    before = j.commits
    seen: dict[str, str | None] = {}

    def transition(i: int) -> None:
        j.step("r1", "s1", host=f"h{i}", state="done", seq=1, rc=0)
        seen[f"h{i}"] = _committed(j.path, f"h{i}")

    with j._lock:  # a transaction "in progress": every transition queues behind it
        threads = [threading.Thread(target=transition, args=(i,)) for i in range(N)]
        for t in threads:
            t.start()
        _until(lambda: len(j._queue) == N, "all transitions queued")
        assert not seen and all(t.is_alive() for t in threads)
        assert all(_committed(j.path, f"h{i}") is None for i in range(N))
    for t in threads:
        t.join()
    assert j.commits - before == 1
    assert seen == {f"h{i}": "done" for i in range(N)}  # each committed when step returned
    assert {r.host: r.state for r in j.steps("r1")} == {f"h{i}": "done" for i in range(N)}


def test_a_transaction_that_fails_keeps_the_queued_transitions(tmp_path: Path) -> None:
    j = _journal(tmp_path)
    j.acquire("lock", run_id="r-other", actor="bob", playbook="p")
    j.step("r1", "s1", host="h1", state="done", seq=1, defer=True)
    with pytest.raises(LockedError):
        j.acquire("lock", run_id="r1", actor="alice", playbook="p")
    assert _committed(j.path, "h1") is None
    j.step("r1", "s1", host="h2", state="running", seq=1)  # commits both, in order
    assert _committed(j.path, "h1") == "done"
    assert _committed(j.path, "h2") == "running"
