"""Four-eyes review: a saved plan approved by someone other than its author.

``runbook plan approve PLANFILE --reason TEXT`` records who approved which plan
and why, in the plan file (``approvals``, beside the signed body) and in the
audit log (a ``gate.answered`` event of step ``plan-approval`` under the plan's
run id). Each approval is bound to the plan's sha256 and signed with this
runbook home's plan key: editing the plan changes its sha256, editing the
approval breaks its signature, and an approval copied from another plan names
another sha256, so none of them counts. The author may approve their own plan
only when the playbook says ``approval: {self_approval: true}``.

``runbook run --plan PLANFILE`` with a valid approval does not ask again at
the gates the approver saw (same step, same message, same commands) and
audits both identities; a playbook with ``approval: required`` refuses a run
without one (exit 2, saying how to get one).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runbook.errors import PlaybookError

if TYPE_CHECKING:
    from runbook.models import Approval, Playbook
    from runbook.options import RunOptions

STEP = "plan-approval"
"""The audit log's step name for an approval (and for the run that uses one)."""


@dataclass(frozen=True)
class PlanApproval:
    """A valid approval of the plan a run executes, and the gates its approver saw."""

    approver: str
    reason: str
    at: str
    plan_sha256: str
    author: str | None
    gates: dict[str, tuple[str, tuple[str, ...]]] = field(default_factory=dict)
    """Step id -> (gate message, commands) as the approved plan showed them."""

    def covers(self, step_id: str, message: str, commands: list[str]) -> bool:
        """Whether the approver saw exactly this gate, before exactly these commands."""
        return self.gates.get(step_id) == (message, tuple(commands))

    def journaled(self) -> dict[str, Any]:
        """What the journal keeps of it, so that a resumed run keeps its approval."""
        return {"approver": self.approver, "reason": self.reason, "at": self.at,
                "plan_sha256": self.plan_sha256, "author": self.author,
                "gates": {sid: [message, list(commands)]
                          for sid, (message, commands) in self.gates.items()}}

    @classmethod
    def from_journal(cls, kept: Any) -> PlanApproval | None:
        """The approval a run journaled when it started (None when it had none)."""
        if not isinstance(kept, dict) or not kept.get("approver"):
            return None
        gates = {str(sid): (str(g[0]), tuple(str(c) for c in g[1]))
                 for sid, g in (kept.get("gates") or {}).items()}
        return cls(approver=str(kept["approver"]), reason=str(kept.get("reason") or ""),
                   at=str(kept.get("at") or ""), plan_sha256=str(kept.get("plan_sha256")),
                   author=kept.get("author"), gates=gates)

    def audit_data(self) -> dict[str, Any]:
        return {"how": "approved plan", "approver": self.approver, "approved_at": self.at,
                "approval_reason": self.reason, "plan_sha256": self.plan_sha256,
                "plan_author": self.author}


def approve(path: str | Path, reason: str, *, actor: str,
            audit_log: str | Path | None = None) -> dict[str, Any]:
    """Approve the plan at path as actor; returns the approval record written."""
    from runbook.audit import AuditLog, default_audit_path
    from runbook.events import utcnow
    from runbook.planfile import read_plan_file, sign

    file = str(path)
    if not reason.strip():
        raise PlaybookError("say why the plan may run (a ticket or a sentence)",
                            file="<command line>", field="--reason")
    doc = read_plan_file(path)
    policy = _policy(doc)
    author = doc.get("actor")
    if not isinstance(author, str):
        raise PlaybookError("this plan does not name its author (made by an older runbook); "
                            "make a new plan", file=file, field="actor")
    if actor == author and not policy.self_approval:
        raise PlaybookError(f"{actor} made this plan and cannot approve it too: another person "
                            "must (or the playbook says approval: {self_approval: true})",
                            file=file, field="approvals")
    if any(isinstance(a, dict) and a.get("approver") == actor for a in doc["approvals"]):
        raise PlaybookError(f"{actor} already approved this plan", file=file,
                            field="approvals")
    log = AuditLog(Path(audit_log or default_audit_path()))
    try:
        event = log.append({
            "event": "gate.answered", "run_id": doc["run_id"], "actor": actor,
            "reason": reason, "playbook": doc["playbook"],
            "playbook_sha256": doc["playbook_sha256"], "step": STEP, "status": "approved",
            "dry_run": False, "message": f"plan {doc['sha256'][:12]} approved",
            "data": {"how": "runbook plan approve", "plan_sha256": doc["sha256"],
                     "plan_author": author, "plan_file": str(Path(file).resolve())}},
            durable=True)
    finally:
        log.close()
    record = {"approver": actor, "reason": reason, "at": utcnow(),
              "plan_sha256": doc["sha256"], "author": author,
              "audit_log": str(log.path), "audit_hash": event["hash"]}
    _append(Path(path), {**record, "signature": sign(record)})
    return record


def _policy(doc: dict[str, Any]) -> Approval:
    """The playbook's approval rules as the plan recorded them (signed with it)."""
    from runbook.models import Approval

    spec = doc.get("approval")
    return Approval.model_validate(spec if isinstance(spec, dict) else {})


def _append(path: Path, approval: dict[str, Any]) -> None:
    """Add one approval to the plan file (atomically: a reader sees old or new)."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    doc.setdefault("approvals", []).append(approval)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(doc, indent=2, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def approval_of(doc: dict[str, Any], playbook: Playbook, file: str) -> PlanApproval | None:
    """The valid approval of a verified plan (the latest), None if there is none.
    A record that does not check out refuses the plan: someone edited it."""
    records = [_checked(n, rec, doc, file) for n, rec in
               enumerate(doc.get("approvals") or [], 1)]
    valid = [r for r in records
             if r["approver"] != doc.get("actor") or playbook.approval.self_approval]
    if not valid:
        return None
    last = valid[-1]
    gates = {sid: (step["gate"], tuple(step.get("commands") or []))
             for sid, step in doc["steps"].items()
             if step.get("gate") and step.get("waits_on") is None}
    return PlanApproval(approver=last["approver"], reason=last["reason"], at=last["at"],
                        plan_sha256=doc["sha256"], author=doc.get("actor"), gates=gates)


def _checked(n: int, rec: Any, doc: dict[str, Any], file: str) -> dict[str, Any]:
    """An approval record signed here for this very plan, or PlaybookError."""
    from runbook.planfile import signed

    body = {k: v for k, v in rec.items() if k != "signature"} if isinstance(rec, dict) else {}
    if not body or not signed(body, rec.get("signature")) or \
            body.get("plan_sha256") != doc["sha256"]:
        raise PlaybookError(f"approval {n} does not belong to this plan as it is (the plan "
                            "or the approval was edited, or it was copied from another "
                            "plan); approve the plan again", file=file,
                            field=f"approvals[{n - 1}]")
    return body


def require_approval(playbook: Playbook, options: RunOptions, plan_file: str | Path | None,
                     playbook_path: str | None = None) -> None:
    """``approval: required``: no run without a plan someone else approved (exit 2)."""
    if not playbook.approval.required or options.dry_run or options.approval is not None:
        return
    pb = playbook_path or playbook.origin
    how = (f"make a plan: runbook plan {pb} -o plan.json; another person approves it: "
           "runbook plan approve plan.json --reason TEXT; then: runbook run "
           f"{pb} --plan plan.json")
    said = "the plan has no valid approval" if plan_file else "none was given"
    raise PlaybookError(f"playbook {playbook.name} requires an approved plan, and {said}; "
                        + how, file=str(plan_file) if plan_file else "<command line>",
                        field="approval" if plan_file else "--plan")
