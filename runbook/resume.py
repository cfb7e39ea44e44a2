"""Resume: the one decision "did this host's step happen?" after the runner died.

Used for a single step and for each host of a fan-out alike. A step whose
post-conditions hold happened; one that was still being checked and whose
checks do not hold failed; otherwise it runs again when that is safe
(read-only, or idempotent with ``--yes``, or the operator says so), and a
person is asked to look (exit 3, the run stays resumable) when nobody can say.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from runbook.checks import Checks
from runbook.gates import Gates
from runbook.planner import PlannedStep
from runbook.result import Abort

if TYPE_CHECKING:
    from runbook.journal import StepRecord


class Resume:
    """Decides, from the journal and the live post-conditions, whether a step happened."""

    def __init__(self, run_id: str, *, checks: Checks, gates: Gates) -> None:
        self.run_id = run_id
        self.checks = checks
        self.gates = gates

    def happened(self, planned: PlannedStep, host: str | None, rec: StepRecord) -> bool:
        """True: it took effect (keep it); False: run it now. Abort when a person
        must decide (exit 3) or when it ran and its checks do not hold (failed)."""
        step = planned.step
        if step.checks:
            if self._checks_hold(planned, host):
                return True
            if rec.state == "checking":
                raise Abort("failed", f"step {step.id!r} ran, but its checks do not hold")
            return False
        if not planned.mutating:
            return False
        if self.gates.may_rerun(step.id, planned.action.idempotent, host):
            return False
        commands = list(planned.host(host).commands) if host else planned.commands
        raise self.check_by_hand(planned, commands, host)

    def _checks_hold(self, planned: PlannedStep, host: str | None) -> bool:
        step, held = planned.step, True
        ctx = self.checks.recorder.ctx
        where = host or planned.target
        for j, check in enumerate(step.checks):
            ctx["target"] = ctx["targets"].get(where)
            cid = check.id or f"{step.id}-check-{j + 1}"
            cres = self.checks.run(check, "check", f"{cid}@{host}" if host else cid, step=step,
                                   default_target=check.target or where)
            held = held and cres.ok is not False
        return held

    def check_by_hand(self, planned: PlannedStep, commands: list[str],
                      host: str | None = None) -> Abort:
        """Stop (exit 3, resumable): a person must find out whether these commands ran."""
        where, there = (f" on {host}", " there") if host else ("", "")
        return Abort("attention", f"step {planned.id!r} was in flight{where} when the runner "
                                  f"stopped; check by hand whether this ran{there}: "
                                  + "; ".join(commands)
                     + f" (then `runbook resume {self.run_id}` again answering the question, "
                       f"or `runbook resume {self.run_id} --rollback`)", rollback=False)
