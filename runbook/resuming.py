"""Resume: going on from the journal after the runner died, one decision at its heart.

"Did this host's step happen?" is decided once, for a single step and for
each host of a fan-out alike: a step whose post-conditions hold happened; one
that was still being checked and whose checks do not hold failed; otherwise
it runs again when that is safe (read-only, or idempotent with ``--yes``, or
the operator says so), and a person is asked to look (exit 3, the run stays
resumable) when nobody can say. Around it: steps done before the crash keep
their results, a background step's orphan is killed, and the rollback stack
is rebuilt from the journal.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from runbook.background import kill_orphan
from runbook.checks import Checks
from runbook.gates import Gates
from runbook.models import Playbook, Step
from runbook.planner import PlannedStep, Planner
from runbook.result import Abort, Finding, StepResult
from runbook.rollbacks import RollbackStack

if TYPE_CHECKING:
    from runbook.durable import ResumeState
    from runbook.journal import StepRecord

RunStep = Callable[[Step, "Mapping[str, StepRecord] | None"], None]


class Resume:
    """Takes a resumed run through its steps, deciding what already happened."""

    def __init__(self, state: ResumeState | None, playbook: Playbook, *, checks: Checks,
                 gates: Gates, rollbacks: RollbackStack, planner: Planner,
                 run_step: RunStep) -> None:
        self.state = state
        self.playbook = playbook
        self.checks = checks
        self.gates = gates
        self.rollbacks = rollbacks
        self.planner = planner
        self.run_step = run_step
        self.recorder = checks.recorder
        self.run_id = state.run_id if state else ""

    def start(self) -> bool:
        """Kill orphans and rebuild the rollback stack; True when the run is to be
        rolled back (asked for, or it was rolling back when the runner died)."""
        assert self.state is not None
        for rec in self.state.steps.values():
            if rec.state == "started":  # a background step left behind by the dead runner
                kill_orphan(rec.result)
        self.rollbacks.rebuild(self.state, self.playbook)
        return self.state.rollback_only or self.state.was_rolling_back

    def step(self, step: Step) -> None:
        """One step of the resumed run, by what the journal says of it."""
        assert self.state is not None
        rec = self.state.steps.get(step.id)
        if rec is None:
            self.run_step(step, None)
        elif rec.state in ("done", "skipped"):
            self._restore(step, rec.state, rec.result, rec.rc)
        elif rec.state == "started":  # a background step: its process went with the runner
            self._orphaned(step, rec)
        elif rec.state == "failed":
            raise Abort("failed", f"step {step.id!r} had failed before the runner stopped: "
                                  f"{rec.error}")
        else:
            self._in_flight(step, rec)

    def _orphaned(self, step: Step, rec: StepRecord) -> None:
        kill_orphan(rec.result)
        if step.on_resume == "restart":
            self.run_step(step, None)
            return
        self._restore(step, "died", rec.result, rec.rc)
        self.recorder.result.findings.append(Finding(
            "warning", f"background step {step.id} ended with the runner",
            next_step="it is not restarted (set on_resume: restart to allow that)",
            step=step.id))

    def _in_flight(self, step: Step, rec: StepRecord) -> None:
        """The step in flight when the runner died (a fan-out decides host by host)."""
        assert self.state is not None
        conns, ctx = self.planner.connections, self.recorder.ctx
        target = conns.target_name(step.target)
        if conns.is_group(target):
            self.run_step(step, self.state.hosts.get(step.id, {}))
            return
        ctx["target"] = ctx["targets"].get(target)
        planned = self.planner.plan(step)
        if not self.happened(planned, None, rec):
            self.run_step(step, None)
            return
        self._restore(step, "done", rec.result, rec.rc)
        pushed = any(r.step_id == step.id for r in self.state.rollbacks)
        if not pushed and step.rollback not in (None, "none"):
            self.rollbacks.push(step, planned.action, planned.hosts[0].args, rec.captured,
                                planned.target)
        self.recorder.durable.step(step.id, "done")

    def _restore(self, step: Step, status: str, value: Any, rc: int | None) -> None:
        """A step that happened before the crash: its result as the journal kept it."""
        rec = self.recorder
        res = rec.step_added(StepResult(
            id=step.id, action=step.action,
            target=self.planner.connections.target_name(step.target),
            mutating=self.planner.registry.actions[step.action].mutating,
            status="ok" if status == "done" else status, result=value, rc=rc,
            when="done before the runner stopped" if status == "done" else None,
            title=step.title))
        rec.context(step.id, status=res.status, result=value, rc=rc,
                    stdout=value.get("stdout") if isinstance(value, dict) else None)
        if step.register_as and status == "done":
            rec.ctx[step.register_as] = value

    # --- the decision ----------------------------------------------------------------

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
        ctx = self.recorder.ctx
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
