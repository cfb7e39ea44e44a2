"""The rollback stack: what undoes each change made so far, undone last-in first-out.

A step that changed something pushes its undo (the action's inverse of the
state it captured, or the playbook's explicit rollback), journaled before the
run goes on; a step that ``restores`` an earlier one discharges it; on failure
or abort the stack unwinds in reverse order, each rollback audited before and
after. Whatever did not roll back is left as manual commands. A resumed run
rebuilds the stack from the journal. Nothing else touches the stack.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from runbook.actions import Action, Invocation
from runbook.errors import RunbookError, TemplateError
from runbook.events import Event
from runbook.interrupts import refuse_interrupts
from runbook.models import Playbook, Rollback, Step
from runbook.planner import describe_commands
from runbook.recorder import Recorder
from runbook.redact import MASK
from runbook.result import RollbackResult

if TYPE_CHECKING:
    from pydantic import BaseModel

    from runbook.actions import ActionContext
    from runbook.durable import ResumeState
    from runbook.executors.base import Executor
    from runbook.plugins import Registry
    from runbook.templating import Templates


@dataclass
class PendingRollback:
    step: str
    invocation: Invocation
    target: str
    commands: list[str]
    argv: list[str] | None = None
    seq: int | None = None


class RollbackStack:
    """Push, describe, discharge, unwind; the manual commands left when it could not."""

    def __init__(self, *, registry: Registry, templates: Templates, recorder: Recorder,
                 executor: Callable[[str], Executor],
                 context_for: Callable[[Step | None, Executor | None, str], ActionContext],
                 ) -> None:
        self.registry = registry
        self.templates = templates
        self.recorder = recorder
        self.executor = executor
        self.context_for = context_for
        self._pending: list[PendingRollback] = []
        self._lock = threading.Lock()

    def __bool__(self) -> bool:
        return bool(self._pending)

    def commands_left(self) -> list[str]:
        """The commands that would undo what is pending, in the order to run them."""
        return [c for p in reversed(self._pending) for c in p.commands]

    def forget(self) -> None:
        self._pending.clear()

    # --- building ------------------------------------------------------------------

    def invocation(self, step: Step, action: Action[Any], args: BaseModel | None,
                   captured: Any, scope: Mapping[str, Any] | None = None) -> Invocation | None:
        """What undoes this step: the action's inverse of captured state, or the explicit
        rollback rendered against the context (TemplateError if it waits on a result)."""
        if step.rollback == "auto":
            return None if args is None else action.inverse(args, captured)
        if isinstance(step.rollback, Rollback):
            spec = step.rollback
            with_ = self.templates.render(dict(spec.with_), scope or self.recorder.ctx,
                                          step=step.id, field="rollback.with")
            return Invocation(spec.action, with_, spec.target)
        return None

    def pending(self, step_id: str, invocation: Invocation, target: str) -> PendingRollback:
        rb_target = invocation.target or target
        rb_action = self.registry.action(invocation.action)
        rb_args = rb_action.validate_args(invocation.args)
        executor = None if rb_action.in_engine else self.executor(rb_target)
        redact = self.recorder.redact
        argv = [] if executor is None else [executor.wire_argv(a)
                                            for a in rb_action.commands(rb_args)]
        return PendingRollback(step_id, invocation, rb_target,
                               describe_commands(rb_action, rb_args, executor, redact),
                               redact(list(argv[0])) if argv else None)

    def push(self, step: Step, action: Action[Any], args: BaseModel, captured: Any,
             target: str, scope: Mapping[str, Any] | None = None) -> str | None:
        """Journal and stack the undo of a step that ran; what the step result shows."""
        invocation = self.invocation(step, action, args, captured, scope)
        if invocation is None:
            return "auto: nothing to undo" if step.rollback == "auto" else None
        pending = self.pending(step.id, invocation, target)
        pending.seq = self.recorder.durable.push(
            step.id, pending.target, invocation.action,
            self.recorder.redact(dict(invocation.args)), pending.commands)
        with self._lock:
            self._pending.append(pending)
        return "; ".join(pending.commands)

    def describe(self, step: Step, action: Action[Any], args: BaseModel | None, target: str,
                 *, offline: bool, waits_on: Callable[[Any], list[str]]) -> str | None:
        """The rollback as a plan shows it; capture (read-only) shows the real inverse."""
        if step.rollback is None or step.rollback == "none":
            return "none" if action.mutating else None
        auto = step.rollback == "auto"
        if auto and (args is None or offline):
            return "auto: restore the state captured before the step"
        try:
            captured = action.capture(
                args, self.context_for(step, self.executor(target), step.id)) \
                if auto and args is not None else None
            invocation = self.invocation(step, action, args, captured)
        except TemplateError as exc:
            return self._waiting(step, exc, waits_on)
        except RunbookError as exc:
            return f"auto (prior state unreadable: {exc})"
        if invocation is None:
            return "auto: nothing to undo"
        pending = self.pending(step.id, invocation, target)
        return ("auto: " if auto else "") + "; ".join(pending.commands)

    def _waiting(self, step: Step, exc: TemplateError,
                 waits_on: Callable[[Any], list[str]]) -> str:
        spec = step.rollback
        waits = waits_on(dict(spec.with_)) if isinstance(spec, Rollback) else []
        if not waits or not isinstance(spec, Rollback):
            raise exc
        return (f"{spec.action} {self.recorder.redact(dict(spec.with_))}"
                f" (waits on {', '.join(waits)})")

    def discharge(self, step_id: str) -> None:
        """A later step restored this one: its undo is no longer needed."""
        with self._lock:
            self._pending = [p for p in self._pending if p.step != step_id]
        self.recorder.durable.discharge(step_id)

    def rebuild(self, state: ResumeState, playbook: Playbook) -> None:
        """A resumed run's stack, from the journal (secrets rendered again, never stored)."""
        again = ("pending", "running", "failed") if state.retry_failed else ("pending", "running")
        for rb in state.rollbacks:
            if rb.state not in again:
                continue
            args = rb.args
            spec = _spec(playbook, rb.step_id)
            if MASK in json.dumps(args) and isinstance(spec, Rollback):
                args = self.templates.render(dict(spec.with_), self.recorder.ctx,
                                             step=rb.step_id, field="rollback.with")
            pending = self.pending(rb.step_id, Invocation(rb.action, args, rb.target),
                                   rb.target)
            pending.seq = rb.seq
            self._pending.append(pending)

    # --- unwinding -----------------------------------------------------------------

    def unwind(self) -> bool:
        """Run every pending rollback, last first; Ctrl-C is refused meanwhile.
        True when all of them worked."""
        with refuse_interrupts():
            complete = True
            while self._pending:  # popped once done: a journal that refuses keeps it
                complete = self._undo(self._pending[-1]) and complete
                self._pending.pop()
            return complete

    def _undo(self, pending: PendingRollback) -> bool:
        rec = self.recorder
        rec.durable.rollback_state(pending.seq, "running")
        action = self.registry.action(pending.invocation.action)
        rec.emit("runbook_rollback_started", Event(
            "rollback.started", step=pending.step, action=action.name, target=pending.target,
            argv=pending.argv, mutating=True, data={"commands": pending.commands}))
        started = time.monotonic()
        status, error = "ok", None
        try:
            args = action.validate_args(pending.invocation.args)
            executor = None if action.in_engine else self.executor(pending.target)
            action.run(args, self.context_for(None, executor, pending.step))
        except (RunbookError, OSError) as exc:
            status, error = "failed", rec.redact.text(str(exc))
            rec.result.manual += pending.commands
        rec.durable.rollback_state(pending.seq, "done" if status == "ok" else "failed")
        duration = round((time.monotonic() - started) * 1000, 3)
        rec.result.rollbacks.append(RollbackResult(
            pending.step, action.name, pending.target, pending.commands, status, error,
            duration))
        rec.emit("runbook_rollback_finished", Event(
            "rollback.finished", step=pending.step, action=action.name, target=pending.target,
            argv=pending.argv, status=status, duration_ms=duration, message=error,
            mutating=True))
        return status == "ok"


def _spec(playbook: Playbook, step_id: str) -> Any:
    try:
        return playbook.step(step_id).rollback
    except KeyError:
        return None
