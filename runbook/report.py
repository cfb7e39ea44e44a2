"""An HTML report of one run, to attach to an incident: ``runbook report RUN_ID -o FILE``.

One self-contained file (inline CSS, no script, no link, a Content-Security-
Policy that forbids fetching anything) built from what the run left behind:
the audit log (the timeline, checks with their observed values, gates and who
answered them, rollbacks, findings) and the journal (per-step and per-host
outcome and the stored output, shown truncated). Both already hold redacted
values only; the report adds nothing the run did not record. It names the hash
of the run's last audit event and whether the log's chain verified when the
report was written, so the report can be checked against the log later.
The template (``runbook.report_template``) is rendered in a sandboxed,
autoescaping Jinja2 environment.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from runbook.errors import PlaybookError

OUTPUT_CHARS = 2000
"""Characters of a step's output the report shows (the first and last halves)."""


@dataclass(frozen=True)
class Written:
    run_id: str
    path: Path
    last_hash: str


@dataclass
class Bar:
    """One step (or one host of a fan-out step) on the timeline, in % of the run."""

    label: str
    status: str
    left: float
    width: float
    took: str


@dataclass
class ReportData:
    run: dict[str, Any]
    events: list[dict[str, Any]]
    steps: list[dict[str, Any]] = field(default_factory=list)
    bars: list[Bar] = field(default_factory=list)
    audit_path: str = ""
    chain_ok: bool = False
    chain_note: str = ""
    generated: str = ""

    def of(self, *names: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["event"] in names]

    @property
    def last_hash(self) -> str:
        return str(self.events[-1]["hash"]) if self.events else ""

    @property
    def finished(self) -> dict[str, Any]:
        done = self.of("run.finished")
        return done[-1] if done else {}


def write_report(run_id: str, output: str | Path, *,
                 audit_log: str | Path | None = None) -> Written:
    """Write the report of run_id (a unique prefix will do) to output."""
    data = report_data(run_id, audit_log=audit_log)
    path = Path(output)
    path.write_text(render_html(data), encoding="utf-8")
    return Written(data.run["run_id"], path, data.last_hash)


def report_after_run(console: Any, result: Any, output: str) -> None:
    """``run --report FILE``: the report of the run just finished (never its exit code's
    business: a report that cannot be written is said, not raised)."""
    try:
        written = write_report(result.run_id, output, audit_log=result.audit_log)
    except Exception as exc:
        console.print(f"[red]report not written:[/] {exc}")
        return
    console.print(f"report written to {written.path} (last audit event "
                  f"{written.last_hash[:12]})")


def report_data(run_id: str, *, audit_log: str | Path | None = None) -> ReportData:
    """The run from the journal (if it was journaled) and its events from the audit log."""
    from runbook.audit import default_audit_path, read_run, verify
    from runbook.errors import AuditError
    from runbook.events import utcnow

    run, steps = _journaled(run_id)
    path = Path(audit_log or (run or {}).get("audit_log") or default_audit_path())
    try:
        events = read_run(path, run["run_id"] if run else run_id)
    except (AuditError, OSError) as exc:
        raise PlaybookError(f"no audit trail for run {run_id!r}: {exc}",
                            file="<command line>", field="RUN_ID") from exc
    started = events[0]
    run = run or {"run_id": started["run_id"], "playbook": started["playbook"],
                  "actor": started["actor"], "reason": started["reason"],
                  "playbook_sha256": started["playbook_sha256"],
                  "playbook_path": (started.get("data") or {}).get("playbook_path")}
    report = verify(path)
    data = ReportData(run=run, events=events, steps=steps, audit_path=str(path),
                      chain_ok=report.ok, chain_note=str(report), generated=utcnow())
    data.bars = timeline(events)
    return data


def _journaled(run_id: str) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """The journal's record of the run and its steps (with output), if it has them."""
    from runbook.journal import Journal, default_journal_path

    path = default_journal_path()
    if not path.exists():
        return None, []
    journal = Journal(path)
    try:
        run = journal.run(run_id)
        if run is None:
            return None, []
        steps = [{"step": s.step_id, "host": s.host or "", "state": s.state, "rc": s.rc,
                  "attempts": s.attempts, "duration_ms": s.duration_ms, "error": s.error,
                  "output": _output(s.result)} for s in journal.steps(run["run_id"])]
    finally:
        journal.close()
    run.pop("playbook_text", None)
    return run, steps


def _output(result: Any, limit: int = OUTPUT_CHARS) -> str:
    """A step's stored stdout/stderr (or its value), cut to its head and tail."""
    if isinstance(result, dict) and ("stdout" in result or "stderr" in result):
        text = "".join(str(result.get(k) or "") for k in ("stdout", "stderr"))
    elif result is None:
        return ""
    else:
        import json

        text = json.dumps(result, indent=1, default=str)
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}\n[... {len(text) - 2 * half} characters not shown ...]\n" \
           f"{text[-half:]}"


def _ts(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def timeline(events: list[dict[str, Any]]) -> list[Bar]:
    """Each step (and host) from its start to its end, placed within the run."""
    if not events:
        return []
    t0, t1 = _ts(events[0]["ts"]), _ts(events[-1]["ts"])
    span = max(t1 - t0, 0.001)
    open_: dict[tuple[str, str], float] = {}
    bars: list[Bar] = []
    for e in events:
        key = (str(e.get("step")), str(e.get("host") or ""))
        if e["event"] in ("step.started", "rollback.started"):
            open_[key] = _ts(e["ts"])
        elif e["event"] in ("step.finished", "rollback.finished") and e.get("status") not in (
                "planned", "skipped"):
            start = open_.pop(key, _ts(e["ts"]) - (e.get("duration_ms") or 0) / 1000)
            label = ("undo " if e["event"] == "rollback.finished" else "") + key[0] + (
                f" @ {key[1]}" if key[1] else "")
            bars.append(Bar(label, str(e.get("status")), round((start - t0) / span * 100, 2),
                            round(max((_ts(e["ts"]) - start) / span * 100, 0.5), 2),
                            took(e.get("duration_ms"))))
    return bars


def took(ms: Any) -> str:
    if not isinstance(ms, (int, float)) or isinstance(ms, bool):
        return ""
    return f"{ms:.0f} ms" if ms < 1000 else f"{ms / 1000:.1f} s"


def render_html(data: ReportData) -> str:
    from jinja2.sandbox import SandboxedEnvironment

    from runbook.report_template import TEMPLATE

    env = SandboxedEnvironment(autoescape=True, trim_blocks=True, lstrip_blocks=True)
    env.filters["took"] = took
    env.filters["short"] = lambda v, n=200: (s := str(v))[:n] + ("…" if len(s) > n else "")
    return env.from_string(TEMPLATE).render(d=data, run=data.run, fin=data.finished)
