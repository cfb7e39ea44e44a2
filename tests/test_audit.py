"""The audit log: schema, hash chain, tamper detection, concurrency, durability."""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import multiprocessing
import os
import stat
from pathlib import Path
from typing import Any

import pluggy
import pytest

from runbook import audit as audit_mod
from runbook.audit import (
    EVENTS,
    FIELDS,
    GENESIS,
    AuditLog,
    AuditPlugin,
    default_audit_path,
    format_trail,
    read_run,
    verify,
)
from runbook.errors import AuditError
from runbook.events import Event, RunInfo
from runbook.paths import runbook_home


def _fields(event: str = "step.finished", run_id: str = "run-1", **extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"event": event, "run_id": run_id, "actor": "alice",
                            "playbook": "demo", "playbook_sha256": "ab" * 32, "dry_run": False}
    base.update(extra)
    return base


def _write(path: Path, n: int) -> None:
    with AuditLog(path) as log:
        for i in range(n):
            log.append(_fields(step=f"s{i}", argv=["echo", str(i)], status="ok", rc=0),
                       durable=False)


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines(keepends=True)


def _contract_hash(event: dict[str, Any]) -> str:
    """The hash exactly as the contract defines it, independent of the implementation."""
    body = {k: v for k, v in event.items() if k != "hash"}
    canon = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canon.encode("utf-8")).hexdigest()


def _run(run_id: str = "20240101-abcdef", **kw: Any) -> RunInfo:
    args: dict[str, Any] = {"run_id": run_id, "playbook": "cfs-purge", "playbook_sha256": "f" * 64,
                            "playbook_path": "/p/cfs-purge.yaml", "actor": "alice",
                            "reason": "INC-42", "params": {"ns": "services"}, "dry_run": False}
    args.update(kw)
    return RunInfo(**args)


# --- writing -----------------------------------------------------------------------------------


def test_every_field_on_every_event_and_chain_links(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    _write(path, 5)
    events = [json.loads(line) for line in _lines(path)]
    assert [e["seq"] for e in events] == [1, 2, 3, 4, 5]
    assert events[0]["prev"] == GENESIS
    for prev, ev in itertools.pairwise(events):
        assert ev["prev"] == prev["hash"]
    for ev in events:
        assert set(FIELDS) <= ev.keys()
        assert ev["hash"] == _contract_hash(ev)
        assert ev["ts"].endswith("Z") and "T" in ev["ts"]
        assert ev["reason"] is None and ev["target"] is None and ev["duration_ms"] is None
    # each line is the canonical JSON, and the hash covers everything but itself
    for line, ev in zip(_lines(path), events, strict=True):
        assert line == json.dumps(ev, sort_keys=True, separators=(",", ":"),
                                  ensure_ascii=False) + "\n"
    assert verify(path).ok


def test_append_returns_the_event_as_written(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "a.jsonl")
    ev = log.append(_fields(message="héllo"), durable=False)
    assert json.loads(_lines(log.path)[-1]) == ev
    assert "héllo" in (tmp_path / "a.jsonl").read_text(encoding="utf-8")


def test_unknown_event_or_field_is_refused(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "a.jsonl")
    with pytest.raises(AuditError, match="unknown audit event"):
        log.append(_fields(event="step.exploded"), durable=False)
    with pytest.raises(AuditError, match="unknown audit field"):
        log.append(_fields(colour="red"), durable=False)
    with pytest.raises(AuditError, match="JSON"):
        log.append(_fields(data={"x": object()}), durable=False)
    log.append(_fields(), durable=False)  # nothing half-written by the failures
    assert verify(log.path).ok and verify(log.path).events == 1


def test_creates_private_dirs_and_file(tmp_path: Path) -> None:
    path = tmp_path / "home" / "state" / "audit.jsonl"
    log = AuditLog(path)
    assert not path.exists()  # lazy
    log.append(_fields(), durable=True)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.parent.parent.stat().st_mode) == 0o700


def test_seq_continues_across_instances(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    a = AuditLog(path)
    a.append(_fields(), durable=False)
    a.append(_fields(), durable=False)
    b = AuditLog(path)
    assert b.append(_fields(), durable=False)["seq"] == 3
    assert a.append(_fields(), durable=False)["seq"] == 4  # a notices b's line
    a.close()
    assert a.append(_fields(), durable=False)["seq"] == 5  # reopen continues
    report = verify(path)
    assert report.ok and report.events == 5


def test_long_last_line_is_found_reading_backwards(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    a, b = AuditLog(path), AuditLog(path)
    a.append(_fields(), durable=False)
    b.append(_fields(argv=["x" * 20_000]), durable=False)
    assert a.append(_fields(), durable=False)["seq"] == 3
    assert verify(path).ok


def test_refuses_to_append_after_a_cut_short_line(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    _write(path, 2)
    with path.open("a") as fh:
        fh.write('{"event":"step.fini')
    with pytest.raises(AuditError, match="incomplete"):
        AuditLog(path).append(_fields(), durable=False)


def _hammer(path: str, tag: str, n: int) -> None:
    log = AuditLog(Path(path))
    for i in range(n):
        log.append(_fields(run_id=tag, step=str(i)), durable=False)
    log.close()


def test_two_processes_appending_concurrently_keep_the_chain(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_hammer, args=(str(path), tag, 200)) for tag in ("p1", "p2")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    report = verify(path)
    assert report.ok, report
    assert report.events == 400
    assert len(read_run(path, "p1")) == len(read_run(path, "p2")) == 200


def test_threads_share_one_log(tmp_path: Path) -> None:
    import threading

    log = AuditLog(tmp_path / "a.jsonl")
    threads = [threading.Thread(target=lambda: [log.append(_fields(), durable=False)
                                                for _ in range(100)]) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert verify(log.path).events == 400


class _FsyncSpy:
    def __init__(self, real: Any) -> None:
        self.real = real
        self.inodes: list[int] = []

    def __call__(self, fd: int) -> None:
        self.inodes.append(os.fstat(fd).st_ino)
        self.real(fd)


def test_fsync_only_for_durable_appends_and_sync(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "a.jsonl"
    spy = _FsyncSpy(os.fsync)
    monkeypatch.setattr(os, "fsync", spy)
    log = AuditLog(path)
    for _ in range(5):
        log.append(_fields(), durable=False)
    assert spy.inodes == []
    log.append(_fields(), durable=True)
    ino = path.stat().st_ino
    assert ino in spy.inodes  # the file itself (and, once, its new directory entry)
    spy.inodes.clear()
    log.append(_fields(), durable=True)
    assert spy.inodes == [ino]
    spy.inodes.clear()
    log.append(_fields(), durable=False)
    assert spy.inodes == []
    log.sync()
    assert spy.inodes == [ino]


# --- verify: tampering -------------------------------------------------------------------------


@pytest.fixture
def chain(tmp_path: Path) -> Path:
    path = tmp_path / "a.jsonl"
    _write(path, 6)
    return path


def test_intact_and_empty_and_missing(chain: Path, tmp_path: Path) -> None:
    assert verify(chain) == audit_mod.VerifyReport(True, 6)
    empty = tmp_path / "empty.jsonl"
    empty.touch()
    assert verify(empty) == audit_mod.VerifyReport(True, 0)
    with pytest.raises(AuditError, match="no audit log"):
        verify(tmp_path / "missing.jsonl")


def test_edited_field_is_named(chain: Path) -> None:
    lines = _lines(chain)
    lines[2] = lines[2].replace('"rc":0', '"rc":1')
    chain.write_text("".join(lines))
    r = verify(chain)
    assert (r.ok, r.first_bad_line, r.first_bad_seq, r.events) == (False, 3, 3, 2)
    assert "edited" in (r.reason or "")


def test_deleted_line_is_named(chain: Path) -> None:
    lines = _lines(chain)
    del lines[3]
    chain.write_text("".join(lines))
    r = verify(chain)
    assert (r.ok, r.first_bad_line, r.first_bad_seq) == (False, 4, 5)
    assert "missing" in (r.reason or "")


def test_deleted_first_line_is_named(chain: Path) -> None:
    chain.write_text("".join(_lines(chain)[1:]))
    r = verify(chain)
    assert (r.ok, r.first_bad_line, r.first_bad_seq) == (False, 1, 2)


def test_swapped_lines_are_named(chain: Path) -> None:
    lines = _lines(chain)
    lines[1], lines[2] = lines[2], lines[1]
    chain.write_text("".join(lines))
    r = verify(chain)
    assert (r.ok, r.first_bad_line, r.first_bad_seq) == (False, 2, 3)
    assert "reordered" in (r.reason or "")


def test_forged_line_with_wrong_prev_is_named(chain: Path) -> None:
    last = json.loads(_lines(chain)[-1])
    forged = dict(last, seq=last["seq"] + 1, prev="1" * 64, step="forged")
    forged.pop("hash")
    forged["hash"] = _contract_hash(forged)  # a self-consistent line, badly linked
    with chain.open("a") as fh:
        fh.write(json.dumps(forged) + "\n")
    r = verify(chain)
    assert (r.ok, r.first_bad_line, r.first_bad_seq, r.events) == (False, 7, 7, 6)
    assert "prev" in (r.reason or "")


def test_truncated_line_is_named(chain: Path) -> None:
    lines = _lines(chain)
    lines[4] = lines[4][:40] + "\n"
    chain.write_text("".join(lines))
    r = verify(chain)
    assert (r.ok, r.first_bad_line, r.first_bad_seq) == (False, 5, None)
    assert "JSON" in (r.reason or "")


def test_truncated_tail_is_named(chain: Path) -> None:
    data = chain.read_bytes()
    chain.write_bytes(data[:-30])
    r = verify(chain)
    assert (r.ok, r.first_bad_line, r.events) == (False, 6, 5)


# --- reading -----------------------------------------------------------------------------------


def test_read_run_by_id_and_prefix(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    log = AuditLog(path)
    for rid in ("20240101-aaaa", "20240101-bbbb", "20240101-aaaa", "20240102-cccc"):
        log.append(_fields(run_id=rid), durable=False)
    assert [e["seq"] for e in read_run(path, "20240101-aaaa")] == [1, 3]
    assert [e["seq"] for e in read_run(path, "20240102")] == [4]
    with pytest.raises(AuditError, match="ambiguous"):
        read_run(path, "20240101")
    with pytest.raises(AuditError, match="not found"):
        read_run(path, "nope")
    with pytest.raises(AuditError, match="no audit log"):
        read_run(tmp_path / "missing.jsonl", "x")


def test_format_trail(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    log = AuditLog(path)
    log.append(_fields(event="step.started", step="scale", target="k8s",
                       argv=["kubectl", "scale", "--replicas=0", "deploy/x y"]), durable=False)
    log.append(_fields(event="step.finished", step="scale", target="k8s", status="ok", rc=0,
                       duration_ms=1234.5), durable=False)
    text = format_trail(read_run(path, "run-1"))
    lines = text.splitlines()
    assert lines[0].startswith("run run-1  demo  by alice")
    assert "step.started" in lines[1] and "kubectl scale --replicas=0 'deploy/x y'" in lines[1]
    assert "rc=0" in lines[2] and "1.2s" in lines[2] and "ok" in lines[2]
    assert format_trail([]) == ""


# --- the plugin --------------------------------------------------------------------------------


def test_plugin_writes_every_hook_as_its_event(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from runbook import hookspecs

    spy = _FsyncSpy(os.fsync)
    monkeypatch.setattr(os, "fsync", spy)
    path = tmp_path / "a.jsonl"
    log = AuditLog(path)
    pm = pluggy.PluginManager("runbook")
    pm.add_hookspecs(hookspecs)
    pm.register(AuditPlugin(log, redact=lambda s: s.replace("hunter2", "***")))
    pm.check_pending()
    run = _run(reason="ticket hunter2")
    h = pm.hook

    def fsyncs(hook: str, event: Event | None = None) -> int:
        """Call one hook; how many fsyncs it did."""
        before = len(spy.inodes)
        kwargs: dict[str, Any] = {"run": run} if event is None else {"run": run, "event": event}
        getattr(h, hook)(**kwargs)
        return len(spy.inodes) - before

    assert fsyncs("runbook_run_started") == 0
    assert fsyncs("runbook_check_finished", Event(
        "check.finished", step="pre", status="ok", data={"expected": "1", "observed": 1})) == 0
    assert fsyncs("runbook_gate_answered", Event(
        "gate.answered", status="approved", data={"how": "--yes"})) == 0
    assert fsyncs("runbook_step_started", Event(
        "step.started", step="ro", mutating=False, argv=["get"])) == 0
    assert fsyncs("runbook_step_started", Event(
        "step.started", step="mut", action="host.shell", target="db1", mutating=True,
        argv=["mysql", "-phunter2"], message="password hunter2")) >= 1  # + new dir entry
    assert fsyncs("runbook_step_finished", Event(
        "step.finished", step="mut", status="failed", rc=1, duration_ms=12.3456)) == 0
    assert fsyncs("runbook_rollback_started", Event(
        "rollback.started", step="mut", argv=["undo"])) == 1
    assert fsyncs("runbook_rollback_finished", Event(
        "rollback.finished", step="mut", status="ok", rc=0)) == 0
    assert fsyncs("runbook_run_finished", Event("run.finished", status="rolled-back", rc=1)) == 1

    events = read_run(path, run.run_id[:10])
    assert [(e["event"], e["status"]) for e in events] == [
        ("run.started", "started"), ("check.finished", "ok"), ("gate.answered", "approved"),
        ("step.started", "started"), ("step.started", "started"), ("step.finished", "failed"),
        ("rollback.started", "started"), ("rollback.finished", "ok"),
        ("run.finished", "rolled-back"),
    ]
    assert {e["event"] for e in events} == EVENTS
    for e in events:
        assert set(FIELDS) <= e.keys()
        assert (e["run_id"], e["actor"], e["playbook"], e["dry_run"]) == (
            run.run_id, "alice", "cfs-purge", False)
        assert e["reason"] == "ticket ***"
    mut = events[4]
    assert mut["argv"] == ["mysql", "-p***"] and mut["message"] == "password ***"
    assert (mut["action"], mut["target"], mut["data"]) == ("host.shell", "db1", {"mutating": True})
    assert events[1]["data"] == {"expected": "1", "observed": 1}
    assert events[5]["rc"] == 1 and events[5]["duration_ms"] == 12.346
    assert events[0]["data"]["params"] == {"ns": "services"}
    assert "hunter2" not in path.read_text()
    assert verify(path).ok


# --- paths -------------------------------------------------------------------------------------


def test_default_paths(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RUNBOOK_HOME", str(tmp_path / "rb"))
    assert default_audit_path() == tmp_path / "rb" / "audit.jsonl"
    monkeypatch.delenv("RUNBOOK_HOME")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    assert runbook_home() == tmp_path / "state" / "runbook"
    monkeypatch.setenv("XDG_STATE_HOME", "relative/ignored")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert runbook_home() == tmp_path / ".local" / "state" / "runbook"


_INHERITED: AuditLog | None = None


def _append_inherited(n: int) -> None:
    assert _INHERITED is not None
    for _ in range(n):
        _INHERITED.append(_fields(run_id="child"), durable=False)


def test_forked_child_reopens_instead_of_sharing_the_lock(tmp_path: Path) -> None:
    global _INHERITED
    _INHERITED = AuditLog(tmp_path / "a.jsonl")
    _INHERITED.append(_fields(), durable=False)  # open before the fork
    ctx = multiprocessing.get_context("fork")
    child = ctx.Process(target=_append_inherited, args=(200,))
    child.start()
    _append_inherited(200)
    child.join(60)
    assert child.exitcode == 0
    assert verify(_INHERITED.path).events == 401
    _INHERITED.close()


def test_global_structlog_config_does_not_leak_in(tmp_path: Path) -> None:
    import structlog

    structlog.configure(  # would drop or mangle our events if it leaked in
        processors=[structlog.processors.KeyValueRenderer()],
        wrapper_class=structlog.make_filtering_bound_logger(logging.CRITICAL),
        cache_logger_on_first_use=True,
    )
    try:
        log = AuditLog(tmp_path / "a.jsonl")
        log.append(_fields(), durable=False)
    finally:
        structlog.reset_defaults()
    assert verify(log.path).ok


def test_refuses_to_continue_a_file_that_shrank(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    log = AuditLog(path)
    log.append(_fields(), durable=False)
    log.append(_fields(), durable=False)
    with path.open("r+") as fh:
        fh.truncate(10)
    for _ in range(2):  # and keeps refusing: the engine must not carry on by accident
        with pytest.raises(AuditError, match="shrank"):
            log.append(_fields(), durable=False)
