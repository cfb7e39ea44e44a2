"""Run history from the journal: ``runbook runs`` and ``runbook runs show``."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from runbook.errors import PlaybookError
from runbook.state import open_state
from runbook.state.liveness import resumable

if TYPE_CHECKING:
    from runbook.state import JournalStore


def _journal() -> JournalStore:
    """The journal in force: ``--state``/``$RUNBOOK_STATE``, else the local one."""
    return open_state().journal()


def _duration(run: dict[str, Any]) -> float | None:
    if not run.get("finished"):
        return None
    start = datetime.fromisoformat(run["started"].replace("Z", "+00:00"))
    end = datetime.fromisoformat(run["finished"].replace("Z", "+00:00"))
    return round((end - start).total_seconds(), 3)


def list_runs(*, playbook: str | None = None, status: str | None = None,
              limit: int = 20) -> list[dict[str, Any]]:
    journal = _journal()
    try:
        return [{"run_id": r["run_id"], "playbook": r["playbook"], "actor": r["actor"],
                 "host": r["host"], "started": r["started"], "duration_s": _duration(r),
                 "status": r["status"], "exit_code": r["exit_code"], "reason": r["reason"],
                 "heartbeat": r.get("heartbeat"),
                 "resumable": resumable(journal, r)}
                for r in journal.runs(playbook=playbook, status=status, limit=limit)]
    finally:
        journal.close()


def format_runs(runs: list[dict[str, Any]]) -> str:
    if not runs:
        return "no runs recorded"
    lines = [f"{'RUN':<24} {'PLAYBOOK':<22} {'ACTOR':<10} {'HOST':<16} {'STARTED':<24} "
             f"{'TOOK':>8}  STATUS"]
    for r in runs:
        took = f"{r['duration_s']:.1f}s" if r["duration_s"] is not None else "-"
        mark = " (resumable)" if r.get("resumable") else ""
        lines.append(f"{r['run_id']:<24} {r['playbook']:<22} {r['actor']:<10} "
                     f"{r.get('host') or '-':<16} {r['started']:<24} {took:>8}  "
                     f"{r['status']}{mark}")
    return "\n".join(lines)


def show_run(run_id: str) -> dict[str, Any]:
    journal = _journal()
    try:
        run = journal.run(run_id)
        if run is None:
            raise PlaybookError(f"no run {run_id!r} in the journal", file="<command line>",
                                field="RUN_ID")
        steps = [{"step": s.step_id, "host": s.host or None, "state": s.state, "rc": s.rc,
                  "attempts": s.attempts, "duration_ms": s.duration_ms, "error": s.error}
                 for s in journal.steps(run["run_id"])]
        rollbacks = [{"step": r.step_id, "target": r.target, "commands": r.commands,
                      "state": _rollback_state(run["status"], r.state)}
                     for r in journal.rollbacks(run["run_id"])]
    finally:
        journal.close()
    run.pop("playbook_text", None)
    return {**run, "duration_s": _duration(run), "steps": steps, "rollbacks": rollbacks}


def _rollback_state(status: str, state: str) -> str:
    """A succeeded run never undoes its changes: its rollbacks were not needed, not
    waiting (``pending`` is for a run that stopped and may still be rolled back)."""
    return "not-needed" if status == "succeeded" and state == "pending" else state


def format_run(detail: dict[str, Any]) -> str:
    """One run from the journal, for ``runbook runs RUN_ID``."""
    out = _run_header(detail)
    out.append("  steps:")
    out += [_step_line(s) for s in detail["steps"]]
    if detail["rollbacks"]:
        out.append("  rollbacks:")
        for r in detail["rollbacks"]:
            out.append(f"    {r['step']} on {r['target']}: {r['state']}: "
                       + "; ".join(r["commands"]))
    if detail.get("audit_log"):
        flag = "--state" if "://" in detail["audit_log"] else "--audit-log"
        out.append(f"  audit trail: runbook audit show {detail['run_id']} {flag} "
                   f"{detail['audit_log']}")
    return "\n".join(out)


def _run_header(detail: dict[str, Any]) -> list[str]:
    out = [f"run {detail['run_id']}  {detail['playbook']}  {detail['status']}"
           + (f" (exit {detail['exit_code']})" if detail["exit_code"] is not None else ""),
           f"  actor {detail['actor']} on {detail['host']}, started {detail['started']}"
           + (f", took {detail['duration_s']}s" if detail["duration_s"] is not None else ""),
           f"  playbook {detail['playbook_path']} (sha256 {detail['playbook_sha256'][:12]})"]
    if detail.get("reason"):
        out.append(f"  reason: {detail['reason']}")
    params = ", ".join(f"{k}={v!r}" for k, v in detail["params"].items())
    secret = ", ".join(detail["secret_params"])
    out.append(f"  params: {params or '-'}" + (f" (secret, not stored: {secret})" if secret
                                                else ""))
    return out


def _step_line(s: dict[str, Any]) -> str:
    host = f"@{s['host']}" if s["host"] else ""
    took = f" {s['duration_ms'] / 1000:.2f}s" if s["duration_ms"] else ""
    rc = f" rc={s['rc']}" if s["rc"] is not None else ""
    return f"    {s['step']}{host}: {s['state']}{rc}{took}" + (f"  {s['error']}" if s["error"]
                                                            else "")
