"""Closing a run by hand: ``runbook runs resolve RUN_ID --reason TEXT``.

A run that needs attention (a rollback failed, or it was left as is) stays open
until someone finishes it. ``resume --rollback`` retries what failed; when the
remaining commands were done by hand instead, ``resolve`` records that, with the
reason, who and the commands that were left, in the audit log, and closes the
run in the journal (status ``resolved``), releasing its lock.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from runbook.errors import PlaybookError
from runbook.events import Event, RunInfo
from runbook.state import open_state

if TYPE_CHECKING:
    from runbook.state import AuditSink, JournalStore

OPEN = ("needs-attention", "paused", "interrupted", "running")
"""Statuses a run can be resolved from (``running`` only when its runner is gone)."""


def resolve_run(run_id: str, reason: str, *, actor: str,
                journal_path: str | Path | None = None,
                audit_log: str | Path | None = None) -> dict[str, Any]:
    """Close RUN_ID as done by hand; returns {run_id, status, commands, audit_log}."""
    if not reason.strip():
        raise PlaybookError("say why the run can be closed (what was done by hand)",
                            file="<command line>", field="--reason")
    backend = open_state(journal_path=Path(journal_path) if journal_path else None)
    journal = backend.journal()
    try:
        run = _open_run(journal, run_id)
        left = [r for r in journal.rollbacks(run["run_id"])
                if r.state in ("pending", "running", "failed")]
        commands = [c for r in left for c in r.commands]
        path = audit_log or run.get("audit_log")
        if path:
            _audit(backend.audit_log(Path(path)), str(path), run, reason=reason, actor=actor,
                   commands=commands)
        for r in left:
            journal.set_rollback(run["run_id"], r.seq, "resolved")
        journal.finish_run(run["run_id"], "resolved", 0)
        if run.get("lock_key"):
            journal.release(run["lock_key"], run["run_id"])
    finally:
        journal.close()
    return {"run_id": run["run_id"], "status": "resolved", "commands": commands,
            "audit_log": str(path) if path else None}


def _open_run(journal: JournalStore, run_id: str) -> dict[str, Any]:
    run = journal.run(run_id)
    if run is None:
        raise PlaybookError(f"no run {run_id!r} in the journal; `runbook runs` lists recent "
                            "runs", file="<command line>", field="RUN_ID")
    if run["status"] not in OPEN:
        raise PlaybookError(f"run {run['run_id']} is {run['status']}, not open; nothing to "
                            "resolve", file="<command line>", field="RUN_ID")
    from runbook.state.liveness import still_running

    alive = still_running(journal, run)
    if alive:
        raise PlaybookError(alive, file="<command line>", field="RUN_ID")
    return run


def _audit(sink: AuditSink, path: str, run: dict[str, Any], *, reason: str, actor: str,
           commands: list[str]) -> None:
    """gate.answered (the decision, with the commands that were left) and run.finished."""
    from runbook.audit import AuditPlugin

    info = RunInfo(run_id=run["run_id"], playbook=run["playbook"],
                   playbook_sha256=run["playbook_sha256"], playbook_path=run["playbook_path"],
                   actor=actor, reason=reason, params={}, dry_run=False, audit_path=path)
    plugin = AuditPlugin(sink, lambda text: text)
    plugin.runbook_gate_answered(info, Event(
        "gate.answered", step="resolve", status="resolved",
        message=f"closed by hand: {reason}",
        data={"how": "runbook runs resolve", "was": run["status"], "commands": commands}))
    plugin.runbook_run_finished(info, Event(
        "run.finished", status="resolved", rc=0,
        message=f"resolved by {actor}: {reason}", data={"manual": commands}))
