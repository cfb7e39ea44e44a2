"""The engine: one interpreter of a playbook for both run and dry-run.

A dry-run is this same engine with mutating execution switched off: checks
and read-only steps still run live (unless offline), mutating steps are
rendered into their exact commands and rollbacks but not executed, and any
argument that depends on a result only a mutating step would produce is
shown as the expression and the step it waits on.

Order of events for a step: ``when`` -> render ``with`` -> gate -> capture
prior state -> ``step.started`` (audited and fsynced before the command) ->
run with retry/until/timeout -> ``step.finished`` -> push its rollback /
discharge what it ``restores`` -> post-condition checks. A failure triggers
the rollback stack in reverse order.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import re
import secrets
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from runbook.actions import Action, ActionContext, Invocation, NoOp
from runbook.connections import Connections
from runbook.durable import Durable, ResumeState
from runbook.errors import (
    CheckFailed,
    CommandError,
    GateDeclined,
    PluginError,
    RunbookError,
    StepError,
    TemplateError,
)
from runbook.events import Event, ObserverDispatch, RunInfo
from runbook.executors.base import Executor, Process
from runbook.interrupts import ask_interrupt, refuse_interrupts
from runbook.models import Check, Playbook, Rollback, Step, Target
from runbook.params import resolve_params
from runbook.plugins import Registry, default_registry
from runbook.redact import MASK, Redactor
from runbook.result import (
    OUTCOME_EXIT,
    CheckResult,
    Finding,
    RollbackResult,
    RunResult,
    StepResult,
)
from runbook.templating import Templates, referenced_names

if TYPE_CHECKING:
    from runbook.journal import StepRecord
    from runbook.prefetch import Prefetch

Prompt = Callable[[str, str], bool]
"""Asks a person: (step id, message) -> approved?"""

_OBSERVED = re.compile(r"(?<![\w.'\"])[A-Za-z_]\w*(?:\.[A-Za-z_]\w*|\[[^\]\[]+\])+")


@dataclass
class RunOptions:
    """How to run: everything the CLI flags can say, as data."""

    dry_run: bool = False
    offline: bool = False
    yes: bool = False
    reason: str | None = None
    actor: str | None = None
    audit_log: str | Path | None = None
    audit: bool = True
    interactive: bool | None = None
    prompt: Prompt | None = None
    env: dict[str, str] = field(default_factory=dict)
    targets: dict[str, Target] = field(default_factory=dict)
    observers: list[object] = field(default_factory=list)
    forks: int = 10
    expected_commands: dict[str, list[str]] = field(default_factory=dict)
    """From a saved plan: each mutating step must run exactly these commands."""
    journal: bool = True
    journal_path: str | Path | None = None
    force_unlock: bool = False
    lock: bool = True
    prefetch: Prefetch | None = None
    """Connections the CLI began opening while the engine loaded (runbook.prefetch)."""


class _UntilNotMet(StepError):
    def __init__(self, message: str, *, step: str, result: Any) -> None:
        super().__init__(message, step=step)
        self.result = result


@dataclass
class _Background:
    process: Process
    action: Action[Any]
    args: BaseModel
    result: StepResult


@dataclass
class _PendingRollback:
    step: str
    invocation: Invocation
    target: str
    commands: list[str]
    argv: list[str] | None = None
    seq: int | None = None


class _Abort(Exception):
    """Leaves the step loop: kind is failed, declined, precondition or interrupted."""

    def __init__(self, kind: str, error: str, *, rollback: bool = True) -> None:
        super().__init__(error)
        self.kind = kind
        self.error = error
        self.rollback = rollback


def new_run_id() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(3)


class Engine:
    """Runs one playbook once. Create a new Engine for every run."""

    def __init__(self, playbook: Playbook, params: Mapping[str, Any] | None = None,
                 options: RunOptions | None = None, *, registry: Registry | None = None,
                 run_id: str | None = None, resume: ResumeState | None = None) -> None:
        self.playbook = playbook
        self.resume = resume
        self.options = options or RunOptions()
        self.registry = registry or default_registry()
        if playbook.origin == "<python>":
            from runbook.loader import validate

            validate(playbook, registry=self.registry)
        self.params = resolve_params(playbook, params or {})
        self.run_id = run_id or new_run_id()
        self.templates = Templates(self.registry.filters)
        secret_values = [v for n, v in self.params.items() if playbook.params[n].secret]
        self.redact = Redactor(secret_values)
        self.connections = Connections(
            playbook, self.registry, overrides=self.options.targets,
            render=lambda settings, where: self.templates.render(settings, self.ctx, field=where),
            local_env=self.options.env, prefetch=self.options.prefetch)
        self.targets = self.connections.targets
        self._stack_lock = threading.Lock()
        self.background: dict[str, _Background] = {}
        self.stack: list[_PendingRollback] = []
        self.unresolved: dict[str, str] = {}
        self.ctx: dict[str, Any] = {
            **self.params,
            "params": dict(self.params),
            "steps": {},
            "checks": {},
            "targets": {n: {"name": n, "connection": t.connection, "vars": t.vars,
                            "hosts": t.hosts} for n, t in self.targets.items()},
        }
        interactive = self.options.interactive
        self.interactive = sys.stdin.isatty() if interactive is None else interactive
        self.result = RunResult(
            run_id=self.run_id, playbook=playbook.name, outcome="running", exit_code=-1,
            dry_run=self.options.dry_run, actor=self.options.actor or _actor(),
            reason=self.options.reason, params=self._shown_params(), started_at="",
        )
        self.observers = list(self.options.observers)
        self.audit_path: Path | None = None
        if self.options.audit:
            from runbook.audit import AuditLog, AuditPlugin, default_audit_path

            path = Path(self.options.audit_log or default_audit_path())
            self.audit_path = path
            self.result.audit_log = str(path)
            self._audit_log = AuditLog(path)
            self.observers.insert(0, AuditPlugin(self._audit_log, self.redact.text))
        self._dispatch = ObserverDispatch(self.observers)
        self.info = RunInfo(
            run_id=self.run_id, playbook=playbook.name, playbook_sha256=playbook.sha256,
            playbook_path=playbook.origin, actor=self.result.actor, reason=self.options.reason,
            params=self.result.params, dry_run=self.options.dry_run,
            audit_path=str(self.audit_path) if self.audit_path else None,
        )
        self.result.started_at = self.info.started_at
        journal = None
        if self.options.journal and not self.options.dry_run:
            from runbook.journal import Journal, default_journal_path

            journal = Journal(Path(self.options.journal_path or default_journal_path()))
        self.durable = Durable(journal, self.run_id)
        self._seq = 0
        self._plan_failed: str | None = None

    # --- observers ---------------------------------------------------------------------

    def emit(self, hook: str, event: Event | None = None) -> None:
        """Tell every observer: this run's own (the audit log first), then installed plugins.

        The run's observers are called directly, not through pluggy's ``call_extra``,
        which rebuilds and re-inspects every extra implementation on each call (a
        third of a millisecond per event, twice per step)."""
        kwargs: dict[str, Any] = {"run": self.info}
        if event is not None:
            event.argv = self.redact(event.argv) if event.argv else event.argv
            event.message = self.redact.text(event.message) if event.message else event.message
            event.data = self.redact(event.data)
            kwargs["event"] = event
        for method, names in self._dispatch.get(hook):
            method(**{n: kwargs[n] for n in names})
        getattr(self.registry.hook, hook)(**kwargs)

    def _shown_params(self) -> dict[str, Any]:
        return {n: (MASK if self.playbook.params[n].secret else v)
                for n, v in self.params.items()}

    # --- the run -----------------------------------------------------------------------

    def run(self) -> RunResult:
        started = time.monotonic()
        self._open_journal()
        self.emit("runbook_run_started")
        if self._forced is not None:
            holder = {k: v for k, v in self._forced.items() if k != "key"}
            self.emit("runbook_gate_answered", Event(
                "gate.answered", step="force-unlock", status="approved",
                message=f"took over the lock held by run {holder.get('run_id')}",
                data={"how": "--force-unlock", "holder": holder}))
        outcome = "planned" if self.options.dry_run else "succeeded"
        try:
            body = self._body if self.resume is None else self._resume_body
            outcome = body(outcome)
        except KeyboardInterrupt:
            outcome = self._interrupted()
        finally:
            self._stop_all_background()
            self.connections.close()
        self.result.outcome = outcome
        self.result.exit_code = OUTCOME_EXIT[outcome]
        self.result.duration_ms = round((time.monotonic() - started) * 1000, 3)
        self.emit("runbook_run_finished", Event(
            "run.finished", status=outcome, rc=self.result.exit_code,
            duration_ms=self.result.duration_ms, message=self.result.error,
            data={"findings": [asdict(f) for f in self.result.findings],
                  "manual": self.result.manual}))
        self.durable.finish("paused" if self._paused else outcome, self.result.exit_code)
        return self.result

    # --- journal, locks, interrupts ------------------------------------------------------

    def _open_journal(self) -> None:
        """Take the lock and record the run before anything runs (exit 5 when locked)."""
        self._paused = False
        self._forced: dict[str, Any] | None = None
        journal = self.durable.journal
        if journal is None:
            return
        from runbook.journal import lock_key

        names = sorted({self.target_name(s.target) for s in self.playbook.steps}
                       | {c.target or self.target_name(None)
                          for c in (*self.playbook.preconditions, *self.playbook.verify)})
        key = lock_key(self.playbook.name, names)
        if self.options.lock:
            previous = journal.acquire(key, run_id=self.run_id, actor=self.result.actor,
                                       playbook=self.playbook.name,
                                       takeover=self.options.force_unlock)
            self.durable.lock = key
            self._forced = previous
        if self.resume is not None:
            journal.reopen_run(self.run_id)
            return
        secret = sorted(n for n, p in self.playbook.params.items() if p.secret)
        text = None
        if self.playbook.origin != "<python>":
            try:
                text = Path(self.playbook.origin).read_text(encoding="utf-8")
            except OSError:
                text = None
        journal.start_run(
            run_id=self.run_id, playbook=self.playbook.name,
            playbook_path=self.playbook.origin, sha256=self.playbook.sha256, text=text,
            params={n: v for n, v in self.params.items() if n not in secret},
            secret_params=secret, targets=names, actor=self.result.actor,
            reason=self.options.reason, audit_log=self.result.audit_log, lock_key=key)

    def _interrupted(self) -> str:
        """Ctrl-C or SIGTERM: the command is already stopped; roll back, pause or leave."""
        self.result.error = "interrupted"
        self._stop_all_background()
        decision, how = "rollback", "no terminal: rolling back"
        if self.interactive and self.stack:  # a person pressed Ctrl-C: they decide
            decision, how = ask_interrupt(), "terminal"
        self.emit("runbook_gate_answered", Event(
            "gate.answered", step="interrupt", status=decision,
            message="interrupted: roll back, pause (resume later) or leave as is?",
            data={"how": how, "decision": decision}))
        if decision == "pause":
            self._paused = True
            self.result.error = (f"interrupted and paused; continue with: runbook resume "
                                 f"{self.run_id} (or --rollback to undo)")
            return "interrupted"
        if decision == "leave":
            self.result.manual += [c for p in reversed(self.stack) for c in p.commands]
            self.result.error = "interrupted and left as is; pending rollbacks listed below"
            return "needs-attention"
        return self._undo("interrupted")

    def _body(self, outcome: str, resuming: bool = False) -> str:
        if not self.options.dry_run and not resuming:
            error = self._reach_first_step()
            if error:
                self.result.error = error
                return "failed"
        pre_failed = None
        preconditions = [] if resuming else self.playbook.preconditions
        for i, check in enumerate(preconditions):
            res = self._check(check, "precondition", f"precondition-{i + 1}")
            if res.ok is False and check.on_fail == "abort" and pre_failed is None:
                pre_failed = res.message or "a precondition did not hold"
                if not self.options.dry_run:
                    self.result.error = pre_failed
                    return "precondition-failed"
        try:
            for step in self.playbook.steps:
                if resuming:
                    self._resume_step(step)
                else:
                    self._step(step)
            if not self.options.dry_run:
                for i, check in enumerate(self.playbook.verify):
                    res = self._check(check, "verify", f"verify-{i + 1}")
                    if res.ok is False and check.on_fail == "abort":
                        raise _Abort("failed", f"verify failed: {res.message}")
            else:
                for i, check in enumerate(self.playbook.verify):
                    self._check(check, "verify", f"verify-{i + 1}", live=False)
        except _Abort as abort:
            self.result.error = abort.error
            if abort.kind == "attention":
                # Stays resumable: the operator checks by hand, then resumes or rolls back.
                self._paused = True
                self.result.manual += [c for p in reversed(self.stack) for c in p.commands]
                self.stack.clear()
                return "needs-attention"
            if not abort.rollback:
                # on_fail: abort: nothing is undone; the run stays resumable so that
                # `runbook resume RUN_ID --rollback` can still undo it.
                self._paused = True
                self.result.manual += [c for p in reversed(self.stack) for c in p.commands]
                return "needs-attention"
            return self._undo(abort.kind)
        if pre_failed is not None:
            self.result.error = pre_failed
            return "precondition-failed"
        if self._plan_failed:
            self.result.error = self._plan_failed
            return "failed"
        return outcome

    # --- resume ------------------------------------------------------------------------

    def _resume_body(self, outcome: str) -> str:
        """Continue an interrupted run: rebuild the rollback stack, skip what is done,
        re-check what was in flight; or finish (or start) the rollback."""
        state = self.resume
        assert state is not None
        for rec in state.steps.values():
            if rec.state == "started":  # a background step left behind by the dead runner
                self._kill_orphan(rec.result)
        for rb in state.rollbacks:
            if rb.state in ("pending", "running"):
                args = rb.args
                if MASK in json.dumps(args) and isinstance(self._spec(rb.step_id), Rollback):
                    # Secrets are never journaled: render the rollback again with them.
                    spec = self._spec(rb.step_id)
                    assert isinstance(spec, Rollback)
                    args = self.templates.render(dict(spec.with_), self.ctx, step=rb.step_id,
                                                 field="rollback.with")
                pending = self._pending(rb.step_id, Invocation(rb.action, args, rb.target),
                                        rb.target)
                pending.seq = rb.seq
                self.stack.append(pending)
        if state.rollback_only or state.was_rolling_back:
            self.result.error = f"rolled back interrupted run {state.run_id}"
            return self._undo("failed")
        return self._body(outcome, resuming=True)

    def _spec(self, step_id: str) -> Any:
        try:
            return self.playbook.step(step_id).rollback
        except KeyError:
            return None

    def _resume_step(self, step: Step) -> None:
        assert self.resume is not None
        rec = self.resume.steps.get(step.id)
        if rec is None:
            self._step(step)
            return
        if rec.state in ("done", "skipped"):
            self._restore(step, rec.state, rec.result, rec.rc)
            return
        if rec.state == "started":  # a background step: its process went with the runner
            self._kill_orphan(rec.result)
            if step.on_resume == "restart":
                self._step(step)
            else:
                self._restore(step, "died", rec.result, rec.rc)
                self.result.findings.append(Finding(
                    "warning", f"background step {step.id} ended with the runner",
                    next_step="it is not restarted (set on_resume: restart to allow that)",
                    step=step.id))
            return
        if rec.state == "failed":
            raise _Abort("failed", f"step {step.id!r} had failed before the runner stopped: "
                                   f"{rec.error}")
        self._reconcile(step, rec)

    def _restore(self, step: Step, status: str, value: Any, rc: int | None) -> None:
        res = StepResult(id=step.id, action=step.action, target=self.target_name(step.target),
                         mutating=self.registry.actions[step.action].mutating,
                         status="ok" if status == "done" else status, result=value, rc=rc,
                         when="done before the runner stopped" if status == "done" else None,
                         title=step.title)
        self.result.steps.append(res)
        self.ctx["steps"][step.id] = {"status": res.status, "result": value, "rc": rc,
                                      "stdout": value.get("stdout") if isinstance(value, dict)
                                      else None}
        if step.register_as and status == "done":
            self.ctx[step.register_as] = value

    def _kill_orphan(self, value: Any) -> None:
        import signal

        from runbook.procs import pid_alive

        pid = value.get("pid") if isinstance(value, dict) else None
        if isinstance(pid, int) and pid > 1 and pid_alive(pid) and os.getpgid(pid) == pid:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGTERM)

    def _reconcile(self, step: Step, rec: Any) -> None:
        """The step in flight when the runner died: did it happen?"""
        assert self.resume is not None
        action = self.registry.action(step.action)
        target = self.target_name(step.target)
        if self._is_group(target):  # decided host by host (see _resume_hosts)
            self._step(step, self.resume.hosts.get(step.id, {}))
            return
        pushed = any(r.step_id == step.id for r in self.resume.rollbacks)
        if step.checks:
            held = True
            for j, check in enumerate(step.checks):
                cres = self._check(check, "check", check.id or f"{step.id}-check-{j + 1}",
                                   step=step, default_target=check.target or target)
                held = held and cres.ok is not False
            if held:
                self._restore(step, "done", rec.result, rec.rc)
                if not pushed:
                    self._repush(step, action, target, rec.captured)
                self.durable.step(step.id, "done")
                return
            if rec.state == "checking":
                raise _Abort("failed", f"step {step.id!r} ran, but its checks do not hold")
            self._step(step)  # it did not happen: do it now
            return
        if not action.mutating:
            self._step(step)
            return
        if self._may_rerun(step, action):
            self._step(step)
            return
        args = self._args(action, step.with_, step.id, "with")
        raise self._check_by_hand(
            step, self._commands(action, args, self.executor(target)) if args else [])

    def _may_rerun(self, step: Step, action: Action[Any], host: str | None = None) -> bool:
        """A mutating step (or one host of it) in flight when the runner died, with no
        checks to tell whether it happened: run it again? With ``--yes`` only when the
        action is idempotent; on a terminal the operator decides; otherwise no."""
        where, there = (f" on {host}", " there") if host else ("", "")
        question = (f"step {step.id!r} was running{where} when the runner stopped and has no "
                    f"checks to tell whether it happened{there}. Run it again{where}?")
        if self.options.yes:
            return action.idempotent
        if self.interactive:
            return self.ask(step.id, question)
        return False

    def _check_by_hand(self, step: Step, commands: list[str],
                       host: str | None = None) -> _Abort:
        """Stop (exit 3, resumable): a person must find out whether these commands ran."""
        where, there = (f" on {host}", " there") if host else ("", "")
        return _Abort("attention", f"step {step.id!r} was in flight{where} when the runner "
                                   f"stopped; check by hand whether this ran{there}: "
                                   + "; ".join(commands)
                      + f" (then `runbook resume {self.run_id}` again answering the question, "
                        f"or `runbook resume {self.run_id} --rollback`)", rollback=False)

    def _repush(self, step: Step, action: Action[Any], target: str, captured: Any) -> None:
        args = self._args(action, step.with_, step.id, "with")
        if args is not None and (step.rollback not in (None, "none")):
            self._push_rollback(step, action, args, captured, target,
                                StepResult(id=step.id, action=step.action, target=target,
                                           mutating=action.mutating))

    def _undo(self, kind: str) -> str:
        """Roll back what is pending; the outcome says whether that worked."""
        self._stop_all_background()
        complete = self._rollback_all()
        if not complete:
            return "needs-attention"
        return {"failed": "rolled-back", "declined": "declined",
                "interrupted": "interrupted"}.get(kind, "rolled-back")

    # --- targets and executors ---------------------------------------------------------

    def target_name(self, explicit: str | None) -> str:
        return self.connections.target_name(explicit)

    def _is_group(self, name: str) -> bool:
        return self.connections.is_group(name)

    def members(self, name: str) -> list[str]:
        """The target names a group fans out to (bare host names become targets)."""
        names, made = self.connections.members(name)
        for entry, target in made.items():
            self.ctx["targets"].setdefault(entry, {"name": entry,
                                                   "connection": target.connection,
                                                   "vars": target.vars, "hosts": None})
        return names

    def executor(self, name: str) -> Executor:
        return self.connections.executor(name)

    # --- steps -------------------------------------------------------------------------

    def _step(self, step: Step, earlier: Mapping[str, StepRecord] | None = None) -> None:
        """Run one step. ``earlier``: per-host records of a fan-out step that was in
        flight when the runner died (resume goes on from them)."""
        action = self.registry.action(step.action)
        target = self.target_name(step.target)
        self.ctx["target"] = self.ctx["targets"].get(target)
        res = StepResult(id=step.id, action=step.action, target=target,
                         mutating=action.mutating, background=step.background, title=step.title)
        self.result.steps.append(res)
        dry = self.options.dry_run
        try:
            if step.when is not None:
                decision = self._when(step, res)
                if decision is False:
                    return
            if self._is_group(target):
                self._fan_out(step, action, res, earlier or {})
                return
            args = self._args(action, step.with_, step.id, "with", res)
            if args is None:  # a dry-run waiting on an unresolved result
                res.status = "planned"
                self._plan_rollback(step, action, None, res)
                self._emit_step_finished(res)
                return
            executor = None if action.in_engine else self.executor(target)
            res.commands = self._commands(action, args, executor)
            if executor is not None and not dry:
                res.argv = [self.redact(executor.wire_argv(a)) for a in action.commands(args)]
            expected = self.options.expected_commands.get(step.id)
            if expected is not None and expected != res.commands:
                raise StepError(f"step {step.id!r} would run {res.commands}, but the reviewed "
                                f"plan says {expected}; make a new plan", step=step.id)
            if step.confirm or action.always_gated:
                res.gate = step.confirm or action.summary
                if not action.always_gated or dry:
                    self._gate(step.id, res, step.confirm or action.summary)
            skip_run = dry and (action.mutating or action.in_engine or action.waits
                                or self.options.offline)
            if skip_run:
                res.status = "planned"
                self._plan_rollback(step, action, args, res)
                if step.register_as:
                    self.unresolved[step.register_as] = step.id
                self.unresolved[f"steps.{step.id}"] = step.id
                self.ctx["steps"][step.id] = {"status": "planned"}
                self._emit_step_finished(res)
                return
            captured = None
            if step.rollback == "auto":
                captured = action.capture(args, self._actx(step, executor))
            self._seq += 1
            self.durable.step(step.id, "running", seq=self._seq,
                              captured=self.redact(captured))
            self.emit("runbook_step_started", Event(
                "step.started", step=step.id, action=step.action, target=target,
                argv=self._argv(res), mutating=action.mutating,
                data={"background": step.background, "commands": res.commands}))
            started = time.monotonic()
            try:
                if step.background:
                    proc = action.start(args, self._actx(step, executor))
                    self.background[step.id] = _Background(proc, action, args, res)
                    res.status = "started"
                    value: Any = {"pid": getattr(getattr(proc, "popen", None), "pid", None)}
                else:
                    value = self._execute(step, action, args, executor, res)
                    res.status = "ok"
            except BaseException as exc:
                res.duration_ms = round((time.monotonic() - started) * 1000, 3)
                self._record_failure(res, exc)
                if not isinstance(exc, KeyboardInterrupt):
                    self.durable.step(step.id, "failed", rc=res.rc, error=res.error,
                                      attempts=res.attempts, duration_ms=res.duration_ms)
                if captured is not None and action.mutating:
                    self._push_rollback(step, action, args, captured, target, res)
                self._emit_step_finished(res)
                raise
            res.duration_ms = round((time.monotonic() - started) * 1000, 3)
            self._store(step, res, value)
            self.durable.step(step.id, "checking" if step.checks else (
                "started" if step.background else "done"), rc=res.rc, result=res.result,
                attempts=res.attempts, duration_ms=res.duration_ms)
            self._emit_step_finished(res)
            if action.mutating or step.rollback not in (None, "none"):
                self._push_rollback(step, action, args, captured, target, res)
            if step.restores:
                self._discharge(step.restores)
            self._post_checks(step, res, [target])
        except GateDeclined as exc:
            res.status = "declined"
            res.error = str(exc)
            raise _Abort("declined", str(exc)) from exc
        except (StepError, CommandError, TemplateError, PluginError, RunbookError) as exc:
            if res.status not in ("failed",):
                self._record_failure(res, exc)
                self._emit_step_finished(res)
            message = f"step {step.id!r} failed: {self.redact.text(res.error or str(exc))}"
            if dry:  # a plan goes on: every later step is still worth reviewing
                self._plan_failed = message
                self.ctx["steps"][step.id] = {"status": "failed", "result": res.result}
                return
            if step.on_fail == "continue":
                self.ctx["steps"][step.id] = {"status": "failed", "result": res.result,
                                              "rc": res.rc, "error": res.error}
                return
            raise _Abort("failed", message, rollback=step.on_fail == "rollback") from exc

    # --- fan-out ------------------------------------------------------------------------

    def _fan_out(self, step: Step, action: Action[Any], res: StepResult,
                 earlier: Mapping[str, StepRecord]) -> None:
        """Run a step on every host of a group: batches of ``serial``, at most ``forks`` at
        once, stopping once more than ``max_fail`` hosts have failed. Each host's outcome,
        events and rollback are its own."""
        from concurrent.futures import ThreadPoolExecutor

        from runbook.fanout import batches, failure_budget

        if step.background or action.in_engine:
            raise StepError(f"{step.action} cannot fan out over group {res.target!r}",
                            step=step.id)
        hosts = self.members(res.target)
        try:
            plan = batches(hosts, step.serial)
            budget = failure_budget(step.max_fail, len(hosts))
        except ValueError as exc:
            raise StepError(str(exc), step=step.id) from exc
        per_host: dict[str, BaseModel] = {}
        for host in hosts:
            args = self._args(action, step.with_, step.id, "with",
                              scope={**self.ctx, "target": self.ctx["targets"][host]})
            assert args is not None
            per_host[host] = args
            cmds = self._commands(action, args, self.executor(host))
            res.commands += [f"[{host}] {c}" for c in cmds]
        if step.confirm:
            res.gate = step.confirm
            self._gate(step.id, res, step.confirm)
        if self.options.dry_run and (action.mutating or self.options.offline):
            res.status = "planned"
            res.rollback = f"per host: {step.rollback}" if step.rollback else (
                "none" if action.mutating else None)
            self.ctx["steps"][step.id] = {"status": "planned"}
            self.unresolved[f"steps.{step.id}"] = step.id
            self._emit_step_finished(res)
            return
        started = time.monotonic()
        self._seq += 1
        self.durable.step(step.id, "running", seq=self._seq)
        failed: list[str] = []
        todo = self._resume_hosts(step, action, res, hosts, per_host, earlier, failed)
        workers = max(1, min(self.options.forks, len(hosts)))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fanout") as pool:
            # Connect every host first: an unreachable one is known before anything changes.
            unreachable = {h: e for h, e in zip(todo, pool.map(self._reach, todo),
                                                 strict=True) if e}
            for host, error in unreachable.items():
                res.hosts[host] = {"status": "failed", "rc": None, "error": error,
                                   "duration_ms": 0.0}
                self.durable.step(step.id, "failed", host=host, error=error, defer=True)
                failed.append(host)
            if len(failed) > budget:
                plan = []
            for batch in plan:
                batch = [h for h in batch if h in todo and h not in unreachable]
                if not batch:
                    continue
                prepared = list(pool.map(
                    lambda h: self._prepare_host(step, action, per_host[h], h), batch))
                self._sync()  # one journal commit and one audit fsync for the whole batch
                outcomes = list(pool.map(
                    lambda hp: (hp[0], self._on_host(step, action, per_host[hp[0]], *hp)),
                    zip(batch, prepared, strict=True)))
                for host, outcome in outcomes:
                    res.hosts[host] = outcome
                    if outcome["status"] != "ok":
                        failed.append(host)
                if len(failed) > budget:
                    break
        skipped = [h for h in hosts if h not in res.hosts]
        for host in skipped:
            res.hosts[host] = {"status": "skipped", "error": "not started: too many failures"}
        res.duration_ms = round((time.monotonic() - started) * 1000, 3)
        res.attempts = len(hosts) - len(skipped)
        too_many = len(failed) > budget
        res.status = "failed" if too_many else "ok"
        values = {h: o.get("value") for h, o in res.hosts.items()}
        self.ctx["steps"][step.id] = {
            "status": res.status, "result": values, "rc": None, "stdout": None,
            "hosts": {h: {k: v for k, v in o.items() if k != "value"} | {"result": o.get(
                "value")} for h, o in res.hosts.items()}}
        for outcome in res.hosts.values():
            outcome.pop("value", None)
        res.result = self.redact(values)
        self.durable.step(step.id, "failed" if len(failed) > budget else (
            "checking" if step.checks else "done"), result=res.result,
            duration_ms=res.duration_ms)
        if step.register_as:
            self.ctx[step.register_as] = values
        if too_many:
            res.error = (f"{len(failed)} of {len(hosts)} hosts failed (max_fail "
                         f"{step.max_fail or 0}): "
                         + "; ".join(f"{h}: {res.hosts[h].get('error')}" for h in failed))
            self._emit_step_finished(res)
            raise StepError(res.error, step=step.id, target=res.target)
        self._emit_step_finished(res)
        if step.restores:
            self._discharge(step.restores)
        self._post_checks(step, res, [h for h in hosts if res.hosts[h]["status"] == "ok"
                                      and not res.hosts[h].get("checked")], per_host=True)

    def _resume_hosts(self, step: Step, action: Action[Any], res: StepResult,
                      hosts: list[str], per_host: Mapping[str, BaseModel],
                      earlier: Mapping[str, StepRecord], failed: list[str]) -> list[str]:
        """Resuming a fan-out step: the hosts still to run. Hosts done before the runner
        died keep their results (their rollbacks are already on the stack), hosts that
        failed stay failed, and a host that was in flight is decided like a single step:
        its checks say whether it happened; without checks it runs again only when that
        is safe (read-only, or idempotent with --yes, or the operator says so)."""
        todo: list[str] = []
        for host in hosts:
            rec = earlier.get(host)
            if rec is None:
                todo.append(host)
            elif rec.state == "done":
                res.hosts[host] = {"status": "ok", "rc": rec.rc, "error": None,
                                   "duration_ms": rec.duration_ms or 0.0, "value": rec.result,
                                   "resumed": True}
            elif rec.state == "failed":
                res.hosts[host] = {"status": "failed", "rc": rec.rc, "error": rec.error,
                                   "duration_ms": rec.duration_ms or 0.0, "resumed": True}
                failed.append(host)
            elif self._host_happened(step, action, host, per_host[host], rec):
                res.hosts[host] = {"status": "ok", "rc": rec.rc, "error": None,
                                   "duration_ms": 0.0, "value": rec.result, "resumed": True,
                                   "checked": True}
            else:
                todo.append(host)
        return todo

    def _host_happened(self, step: Step, action: Action[Any], host: str, args: BaseModel,
                       rec: StepRecord) -> bool:
        """Whether a host's command, in flight when the runner died, took effect (True) or
        should run now (False); asks for a person to look (exit 3) when that is unknown."""
        assert self.resume is not None
        scope = {**self.ctx, "target": self.ctx["targets"][host]}
        if step.checks:
            held = True
            for j, check in enumerate(step.checks):
                self.ctx["target"] = self.ctx["targets"].get(host)
                cid = check.id or f"{step.id}-check-{j + 1}"
                cres = self._check(check, "check", f"{cid}@{host}", step=step,
                                   default_target=check.target or host)
                held = held and cres.ok is not False
            if held:
                # A host still "running" in the journal never had its rollback pushed: the
                # push commits together with the host's "done" (here as in _on_host), so a
                # second crash cannot leave one without the other.
                self.durable.step(step.id, "done", host=host, rc=rec.rc, defer=True)
                if action.mutating:
                    self._push_rollback(step, action, args, rec.captured, host,
                                        StepResult(id=step.id, action=step.action, target=host,
                                                   mutating=True), scope)
                self._sync()
            return held
        if not action.mutating:
            return False
        if self._may_rerun(step, action, host):
            return False
        raise self._check_by_hand(step, self._commands(action, args, self.executor(host)), host)

    def _post_checks(self, step: Step, res: StepResult, targets: list[str], *,
                     per_host: bool = False) -> None:
        """A step's post-conditions; the journal marks the step done only once they hold."""
        for j, check in enumerate(step.checks):
            for target in targets:
                self.ctx["target"] = self.ctx["targets"].get(target)
                cid = check.id or f"{step.id}-check-{j + 1}"
                cres = self._check(check, "check", f"{cid}@{target}" if per_host else cid,
                                   step=step, default_target=check.target or target)
                if cres.ok is False and check.on_fail == "abort":
                    res.status = "failed"
                    res.error = cres.message
                    self.durable.step(step.id, "failed", error=res.error)
                    raise CheckFailed(cres.message or "check failed", step=step.id,
                                      check=cres.id, expected=" and ".join(cres.expected),
                                      observed=cres.observed)
        if step.checks:
            self.durable.step(step.id, "done")

    def _sync(self) -> None:
        """Make everything recorded so far durable (journal commit, audit fsync)."""
        if self.durable.journal is not None:
            self.durable.journal.flush()
        for observer in self.observers:
            sync = getattr(observer, "sync", None)
            if callable(sync):
                sync()

    def _reach_first_step(self) -> str | None:
        """Connect the first step's target before anything runs, so a wrong host, user or
        key fails the run while nothing has changed yet."""
        first = next(iter(self.playbook.steps), None)
        if first is None or self.registry.actions[first.action].in_engine:
            return None
        name = self.target_name(first.target)
        if self._is_group(name) or self.targets[name].connection == "local":
            return None  # a fan-out connects all its hosts before its first command
        return self._reach(name)

    def _reach(self, target: str) -> str | None:
        """Open a target's connection now; the reason it failed, or None."""
        try:
            self.executor(target).connect()
        except RunbookError as exc:
            return self.redact.text(str(exc))
        return None

    def _prepare_host(self, step: Step, action: Action[Any], args: BaseModel,
                      host: str) -> dict[str, Any]:
        """Before a batch runs: capture each host's prior state and record (not yet sync)
        that it is about to change; the batch then syncs journal and audit once."""
        prep: dict[str, Any] = {"captured": None, "error": None, "rc": None}
        try:
            executor = self.executor(host)
            argv = [self.redact(executor.wire_argv(a)) for a in action.commands(args)]
            if step.rollback == "auto":
                prep["captured"] = action.capture(args, self._actx(step, executor))
            self.durable.step(step.id, "running", host=host, seq=self._seq,
                              captured=self.redact(prep["captured"]), defer=True)
            self.emit("runbook_step_started", Event(
                "step.started", step=step.id, action=step.action, target=host, host=host,
                argv=argv[0] if argv else None, mutating=action.mutating,
                data={"group": step.target, "sync": "batch"}))
        except (RunbookError, ValidationError) as exc:
            prep["error"] = self.redact.text(str(exc))
            if isinstance(exc, CommandError):
                prep["rc"] = exc.rc
        return prep

    def _on_host(self, step: Step, action: Action[Any], args: BaseModel, host: str,
                 prep: dict[str, Any]) -> dict[str, Any]:
        """One host of a fan-out: run, record, push its own rollback."""
        started = time.monotonic()
        outcome: dict[str, Any] = {"status": "ok", "rc": prep["rc"], "error": prep["error"]}
        hres = StepResult(id=step.id, action=step.action, target=host,
                          mutating=action.mutating)
        captured = prep["captured"]
        try:
            if prep["error"] is not None:
                raise StepError(prep["error"], step=step.id, target=host)
            value = self._execute(step, action, args, self.executor(host), hres)
            if isinstance(value, NoOp):
                value = value.result
            outcome["value"] = value
            if isinstance(value, dict) and "rc" in value:
                outcome["rc"] = value["rc"]
        except (RunbookError, ValidationError) as exc:
            outcome["status"] = "failed"
            outcome["error"] = self.redact.text(str(exc))
            if isinstance(exc, CommandError):
                outcome["rc"] = exc.rc
        outcome["duration_ms"] = round((time.monotonic() - started) * 1000, 3)
        self.durable.step(step.id, "done" if outcome["status"] == "ok" else "failed", host=host,
                          rc=outcome["rc"], error=outcome["error"],
                          result=self.redact(outcome.get("value")),
                          duration_ms=outcome["duration_ms"])
        self.emit("runbook_step_finished", Event(
            "step.finished", step=step.id, action=step.action, target=host, host=host,
            status=outcome["status"], rc=outcome["rc"], duration_ms=outcome["duration_ms"],
            mutating=action.mutating, message=outcome["error"],
            data={"group": step.target}))
        completed = outcome["status"] == "ok"
        if action.mutating and (completed or (captured is not None and
                                              step.rollback == "auto")):
            try:
                self._push_rollback(step, action, args, captured, host, hres,
                                    {**self.ctx, "target": self.ctx["targets"][host]})
            except RunbookError as exc:
                outcome["error"] = f"{outcome['error'] or ''} (rollback unavailable: {exc})"
        return outcome

    def _when(self, step: Step, res: StepResult) -> bool | None:
        assert step.when is not None
        try:
            decision = bool(self.templates.evaluate(step.when, self.ctx, step=step.id,
                                                    field="when"))
        except TemplateError:
            waits = self._waits_on("{{ " + step.when + " }}")
            if self.options.dry_run and waits:
                res.when = f"{step.when} (decided at run time: waits on {', '.join(waits)})"
                return None
            raise
        seen = _observe(self.templates, [step.when], self.ctx)
        res.when = f"{step.when} -> {str(decision).lower()}" + (
            f" (observed {', '.join(f'{k} = {v!r}' for k, v in seen.items())})" if seen else "")
        if not decision:
            res.status = "skipped"
            self.ctx["steps"][step.id] = {"status": "skipped"}
            self._emit_step_finished(res)
            return False
        return True

    def _waits_on(self, value: Any) -> list[str]:
        names = referenced_names(self.templates, value)
        waits = {self.unresolved[n] for n in names if n in self.unresolved}
        if "steps" in names:
            waits |= {sid for key, sid in self.unresolved.items() if key.startswith("steps.")
                      and key[6:] in str(value)}
        return sorted(waits)

    def _args(self, action: Action[Any], raw: Mapping[str, Any], step_id: str, field: str,
              res: StepResult | None = None,
              scope: Mapping[str, Any] | None = None) -> BaseModel | None:
        try:
            rendered = self.templates.render(dict(raw), scope or self.ctx, step=step_id,
                                             field=field)
        except TemplateError:
            waits = self._waits_on(dict(raw))
            if self.options.dry_run and waits and res is not None:
                res.commands = [f"{action.name} {raw} (waits on {', '.join(waits)})"]
                return None
            raise
        try:
            return action.validate_args(rendered)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or field}: "
                f"{str(e['msg']).removeprefix('Value error, ')}"
                for e in exc.errors(include_url=False))
            raise StepError(f"invalid arguments for {action.name}: {problems}",
                            step=step_id) from exc

    def _commands(self, action: Action[Any], args: BaseModel,
                  executor: Executor | None) -> list[str]:
        if action.in_engine or executor is None:
            return [self.redact.text(action.describe(args))]
        return [self.redact.text(executor.describe(self.redact(list(argv))))
                for argv in action.commands(args)]

    def _argv(self, res: StepResult) -> list[str] | None:
        """The audited argv: the step's command (the first, when it runs several)."""
        return list(res.argv[0]) if res.argv else None

    def _actx(self, step: Step | None, executor: Executor | None,
              step_id: str | None = None) -> ActionContext:
        timeout = (step.timeout if step else None) or self.playbook.defaults.timeout
        return ActionContext(executor=executor or self.executor("local"),
                             step=step_id or (step.id if step else ""), timeout=timeout,
                             runtime=self)

    def _execute(self, step: Step, action: Action[Any], args: BaseModel,
                 executor: Executor | None, res: StepResult) -> Any:
        actx = self._actx(step, executor)

        def attempt() -> Any:
            res.attempts += 1
            value = action.run(args, actx)
            if step.until is not None:
                ok = self.templates.evaluate(step.until, {**self.ctx, "result": value},
                                             step=step.id, field="until")
                if not ok:
                    raise _UntilNotMet(f"until {step.until!r} did not hold after "
                                       f"{res.attempts} attempt(s)", step=step.id, result=value)
            return value

        if step.retry is None:
            return attempt()
        return _retrying(step.retry, (CommandError, StepError), attempt)

    def _store(self, step: Step, res: StepResult, value: Any) -> None:
        if isinstance(value, NoOp):
            res.result = self.redact({"noop": value.reason, "result": value.result})
            value = value.result
        else:
            res.result = self.redact(value)
        if isinstance(value, dict) and "rc" in value:
            res.rc = value.get("rc")
        entry = {"status": res.status, "result": value, "rc": res.rc,
                 "stdout": value.get("stdout") if isinstance(value, dict) else None}
        self.ctx["steps"][step.id] = entry
        if step.register_as:
            self.ctx[step.register_as] = value

    def _record_failure(self, res: StepResult, exc: BaseException) -> None:
        res.status = "failed"
        res.error = self.redact.text(str(exc))
        if isinstance(exc, CommandError):
            res.rc = exc.rc
        if isinstance(exc, _UntilNotMet):
            res.result = self.redact(exc.result)

    def _emit_step_finished(self, res: StepResult) -> None:
        self.emit("runbook_step_finished", Event(
            "step.finished", step=res.id, action=res.action, target=res.target,
            argv=self._argv(res), status=res.status, rc=res.rc, duration_ms=res.duration_ms,
            mutating=res.mutating, message=res.error,
            data={"when": res.when, "gate": res.gate, "rollback": res.rollback,
                  "attempts": res.attempts}))

    # --- gates -------------------------------------------------------------------------

    def _gate(self, step_id: str, res: StepResult, message: str) -> None:
        if self.options.dry_run:
            res.gate = f"asks: {message}"
            return
        if not self.ask(step_id, f"{message}\n  will run: " + "\n  will run: ".join(
                res.commands)):
            raise GateDeclined(f"declined at the gate of step {step_id!r}", step=step_id)

    def ask(self, step_id: str, message: str) -> bool:
        """A human decision, audited. Also used by flow.manual."""
        if self.options.yes:
            answer, how = True, "--yes"
        elif self.interactive:
            prompt = self.options.prompt or _terminal_prompt
            try:
                answer, how = prompt(step_id, message), "terminal"
            except EOFError:
                answer, how = False, "terminal closed"
        else:
            answer, how = False, "no terminal (use --yes to approve)"
        self.emit("runbook_gate_answered", Event(
            "gate.answered", step=step_id, status="approved" if answer else "declined",
            message=message, data={"how": how}))
        return answer

    # --- checks ------------------------------------------------------------------------

    def _check(self, check: Check, kind: str, check_id: str, *, step: Step | None = None,
               default_target: str | None = None, live: bool = True) -> CheckResult:
        target = check.target or default_target or self.target_name(None)
        cid = check.id or check_id
        res = CheckResult(id=cid, kind=kind, probe=check.probe, target=target, ok=None,
                          expected=list(check.that), step=step.id if step else None)
        self.result.checks.append(res)
        action = self.registry.action(check.probe)
        probed: list[Any] = []
        try:
            args = self._args(action, check.with_, cid, "with")
            assert args is not None
            if (self.options.dry_run and self.options.offline) or not live:
                res.status = "skipped"
                res.message = "not evaluated (offline)" if live else "evaluated after the run"
                self._emit_check(res)
                return res
            executor = self.executor(target)
            actx = self._actx(step, executor, step_id=cid)

            def attempt() -> Any:
                res.attempts += 1
                value = action.run(args, actx)
                probed[:] = [value]
                failed = self._assert(check, value, res)
                if failed is not None:
                    raise CheckFailed(failed, check=cid)
                return value

            if check.retry is None:
                res.attempts = 0
                attempt()
            else:
                res.attempts = 0
                _retrying(check.retry, (CommandError, CheckFailed, StepError), attempt)
            res.ok, res.status = True, "ok"
        except (CheckFailed, CommandError, TemplateError, StepError, RunbookError) as exc:
            res.ok = False
            res.status = "warn" if check.on_fail == "warn" else "failed"
            detail = self.redact.text(str(exc))
            res.message = (f"{check.message} ({detail})" if check.message else detail)
            if check.on_fail == "warn":
                self.add_finding(severity=check.severity, title=check.message or detail,
                                 evidence={"probe": check.probe, "expected": check.that,
                                           "observed": res.observed}, step=res.step)
        self.ctx["checks"][cid] = {"ok": res.ok, "result": probed[0] if probed else None}
        self._emit_check(res)
        return res

    def _assert(self, check: Check, value: Any, res: CheckResult) -> str | None:
        """None if every ``that`` holds, else what failed with the observed values."""
        scope = {**self.ctx, "result": value}
        res.observed = self.redact(_observe(self.templates, check.that, scope))
        for expr in check.that:
            if not self.templates.evaluate(expr, scope, step=res.id, field="that"):
                seen = ", ".join(f"{k} = {v!r}" for k, v in (res.observed or {}).items())
                return f"expected {expr}" + (f"; observed {seen}" if seen else "")
        return None

    def _emit_check(self, res: CheckResult) -> None:
        self.emit("runbook_check_finished", Event(
            "check.finished", step=res.step or res.id, action=res.probe, target=res.target,
            status=res.status, message=res.message,
            data={"check": res.id, "kind": res.kind, "expected": res.expected,
                  "observed": res.observed, "attempts": res.attempts}))

    def add_finding(self, *, severity: str, title: str, evidence: Any = None,
                    next_step: str | None = None, step: str | None = None) -> None:
        self.result.findings.append(Finding(severity, self.redact.text(title),
                                            self.redact(evidence), next_step, step))

    # --- background steps --------------------------------------------------------------

    def background_process(self, step_id: str) -> Process:
        try:
            return self.background[step_id].process
        except KeyError:
            raise StepError(f"background step {step_id!r} is not running") from None

    def stop_background(self, step_id: str, grace: float = 5.0) -> Any:
        bg = self.background.pop(step_id, None)
        if bg is None:
            raise StepError(f"background step {step_id!r} is not running")
        exited_by_itself = bg.process.poll()
        bg.process.kill(grace)
        final = bg.process.result()
        value = bg.action.finish(bg.args, final)
        bg.result.status = "ok"
        bg.result.rc = final.rc
        bg.result.result = self.redact(value)
        self.durable.step(step_id, "done", rc=final.rc, result=bg.result.result)
        self.ctx["steps"][step_id] = {"status": "ok", "result": value, "rc": final.rc,
                                      "stdout": final.stdout}
        if exited_by_itself not in (None, 0):
            bg.result.status = "failed"
            raise StepError(f"background step {step_id!r} had exited with status "
                            f"{exited_by_itself}", step=step_id)
        return value

    def _stop_all_background(self) -> None:
        for step_id in list(self.background):
            with contextlib.suppress(RunbookError):
                self.stop_background(step_id, grace=2.0)

    # --- rollback ----------------------------------------------------------------------

    def _invocation(self, step: Step, action: Action[Any], args: BaseModel | None,
                    captured: Any, scope: Mapping[str, Any] | None = None) -> Invocation | None:
        """What undoes this step: the action's inverse of captured state, or the explicit
        rollback rendered against the context (TemplateError if it waits on a result)."""
        if step.rollback == "auto":
            return None if args is None else action.inverse(args, captured)
        if isinstance(step.rollback, Rollback):
            spec = step.rollback
            with_ = self.templates.render(dict(spec.with_), scope or self.ctx, step=step.id,
                                          field="rollback.with")
            return Invocation(spec.action, with_, spec.target)
        return None

    def _pending(self, step_id: str, invocation: Invocation, target: str) -> _PendingRollback:
        rb_target = invocation.target or target
        rb_action = self.registry.action(invocation.action)
        rb_args = rb_action.validate_args(invocation.args)
        executor = None if rb_action.in_engine else self.executor(rb_target)
        argv = [] if executor is None else [executor.wire_argv(a)
                                            for a in rb_action.commands(rb_args)]
        return _PendingRollback(step_id, invocation, rb_target,
                                self._commands(rb_action, rb_args, executor),
                                self.redact(list(argv[0])) if argv else None)

    def _push_rollback(self, step: Step, action: Action[Any], args: BaseModel, captured: Any,
                       target: str, res: StepResult,
                       scope: Mapping[str, Any] | None = None) -> None:
        invocation = self._invocation(step, action, args, captured, scope)
        if invocation is None:
            if step.rollback == "auto":
                res.rollback = "auto: nothing to undo"
            return
        pending = self._pending(step.id, invocation, target)
        res.rollback = "; ".join(pending.commands)
        pending.seq = self.durable.push(step.id, pending.target, invocation.action,
                                        self.redact(dict(invocation.args)), pending.commands)
        with self._stack_lock:
            self.stack.append(pending)

    def _plan_rollback(self, step: Step, action: Action[Any], args: BaseModel | None,
                       res: StepResult) -> None:
        """Describe the rollback in a plan; capture (read-only) shows the real inverse."""
        if step.rollback is None or step.rollback == "none":
            res.rollback = "none" if action.mutating else None
            return
        auto = step.rollback == "auto"
        if auto and (args is None or self.options.offline):
            res.rollback = "auto: restore the state captured before the step"
            return
        try:
            captured = action.capture(args, self._actx(step, self.executor(res.target))) \
                if auto and args is not None else None
            invocation = self._invocation(step, action, args, captured)
        except TemplateError as exc:
            waits = self._waits_on(dict(step.rollback.with_)) if isinstance(
                step.rollback, Rollback) else []
            if not waits:
                raise
            res.rollback = (f"{step.rollback.action} {self.redact(dict(step.rollback.with_))}"
                            f" (waits on {', '.join(waits)})") if isinstance(
                step.rollback, Rollback) else str(exc)
            return
        except RunbookError as exc:
            res.rollback = f"auto (prior state unreadable: {exc})"
            return
        if invocation is None:
            res.rollback = "auto: nothing to undo"
            return
        pending = self._pending(step.id, invocation, res.target)
        res.rollback = ("auto: " if auto else "") + "; ".join(pending.commands)

    def _discharge(self, step_id: str) -> None:
        self.stack = [p for p in self.stack if p.step != step_id]
        self.durable.discharge(step_id)

    def _rollback_all(self) -> bool:
        with refuse_interrupts():
            return self._rollback_stack()

    def _rollback_stack(self) -> bool:
        complete = True
        while self.stack:
            pending = self.stack.pop()
            self.durable.rollback_state(pending.seq, "running")
            action = self.registry.action(pending.invocation.action)
            self.emit("runbook_rollback_started", Event(
                "rollback.started", step=pending.step, action=action.name,
                target=pending.target, argv=pending.argv, mutating=True,
                data={"commands": pending.commands}))
            started = time.monotonic()
            status, error = "ok", None
            try:
                args = action.validate_args(pending.invocation.args)
                executor = None if action.in_engine else self.executor(pending.target)
                action.run(args, self._actx(None, executor, step_id=pending.step))
            except (RunbookError, ValidationError, OSError) as exc:
                status, error = "failed", self.redact.text(str(exc))
                complete = False
                self.result.manual += pending.commands
            self.durable.rollback_state(pending.seq, "done" if status == "ok" else "failed")
            duration = round((time.monotonic() - started) * 1000, 3)
            self.result.rollbacks.append(RollbackResult(
                pending.step, action.name, pending.target, pending.commands, status, error,
                duration))
            self.emit("runbook_rollback_finished", Event(
                "rollback.finished", step=pending.step, action=action.name,
                target=pending.target, argv=pending.argv, status=status,
                duration_ms=duration, message=error, mutating=True))
        return complete


def _retrying(spec: Any, errors: tuple[type[BaseException], ...],
              attempt: Callable[[], Any]) -> Any:
    """Run attempt under tenacity with the playbook's retry settings."""
    import tenacity

    wait = tenacity.wait_exponential(multiplier=spec.delay, exp_base=spec.backoff,
                                     min=spec.delay,
                                     max=spec.max_delay if spec.max_delay else float("inf"))
    retrying = tenacity.Retrying(stop=tenacity.stop_after_attempt(spec.attempts), wait=wait,
                                 retry=tenacity.retry_if_exception_type(errors), reraise=True)
    return retrying(attempt)


def _observe(templates: Templates, exprs: list[str], scope: Mapping[str, Any]) -> dict[str, Any]:
    """The values an assertion looked at (``result.total_lag`` and the like)."""
    seen: dict[str, Any] = {}
    for expr in exprs:
        for match in _OBSERVED.finditer(expr):
            name = match.group(0)
            if name in seen or len(seen) >= 6:
                continue
            try:
                value = templates.evaluate(name, scope)
            except RunbookError:
                continue
            if callable(value):
                continue
            text = repr(value)
            seen[name] = value if len(text) <= 200 else text[:200] + "..."
    return seen


def _terminal_prompt(step_id: str, message: str) -> bool:
    sys.stderr.write(f"\n? [{step_id}] {message}\n  Proceed? [y/N] ")
    sys.stderr.flush()
    line = sys.stdin.readline()
    if not line:
        raise EOFError
    return line.strip().lower() in ("y", "yes")


def _actor() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid())
    return os.environ.get("RUNBOOK_ACTOR", user)


def run(playbook: Playbook | str | Path, params: Mapping[str, Any] | None = None,
        **options: Any) -> RunResult:
    """Run a playbook (a loaded one, or a path) and return the typed result."""
    if not isinstance(playbook, Playbook):
        from runbook.loader import load

        playbook = load(playbook)
    registry = options.pop("registry", None)
    return Engine(playbook, params, RunOptions(**options), registry=registry).run()


def plan(playbook: Playbook | str | Path, params: Mapping[str, Any] | None = None,
         **options: Any) -> RunResult:
    """A dry-run: the same engine with mutating execution switched off."""
    return run(playbook, params, dry_run=True, **options)
