"""The engine: the short story of one run, for both run and dry-run.

Take the lock and journal the run; check the preconditions; then, step by
step: decide ``when``, plan the step (``runbook.planner``: rendered args or what
they wait on, commands, gate), ask its gate, and either record it as planned
(a dry-run of a mutating step) or run it on its host or hosts
(``runbook.hostpath``), which journals, audits, pushes its rollback and checks
its post-conditions. Then verify. A failure unwinds the rollback stack
(``runbook.rollbacks``); Ctrl-C asks whether to roll back, pause or leave
(``runbook.gates``); a resumed run goes on from the journal
(``runbook.resume``). Everything that happens is written down once, by the
``runbook.recorder``.
"""

from __future__ import annotations

import getpass
import os
import secrets
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runbook.actions import ActionContext
from runbook.background import BackgroundSteps, kill_orphan
from runbook.checks import Checks
from runbook.connections import Connections
from runbook.durable import Durable, ResumeState
from runbook.errors import GateDeclined, RunbookError
from runbook.events import RunInfo
from runbook.gates import Gates, Prompt
from runbook.hostpath import HostPath
from runbook.models import Playbook, Step, Target
from runbook.params import resolve_params
from runbook.planner import PlannedStep, Planner
from runbook.plugins import Registry, default_registry
from runbook.recorder import Recorder
from runbook.redact import MASK, Redactor
from runbook.result import OUTCOME_EXIT, Abort, Finding, RunResult, StepResult
from runbook.resume import Resume
from runbook.rollbacks import RollbackStack
from runbook.runtime import RunRuntime
from runbook.templating import Templates

if TYPE_CHECKING:
    from runbook.executors.base import Executor
    from runbook.prefetch import Prefetch

__all__ = ["Engine", "Prompt", "RunOptions", "new_run_id"]


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
    sandbox: Path | None = None
    """A simulated estate's folder: local commands run with its stand-in tools on PATH."""


def new_run_id() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(3)


class Engine:
    """Runs one playbook once. Create a new Engine for every run."""

    def __init__(self, playbook: Playbook, params: Mapping[str, Any] | None = None,
                 options: RunOptions | None = None, *, registry: Registry | None = None,
                 run_id: str | None = None, resume: ResumeState | None = None) -> None:
        self.playbook = playbook
        self.resume = resume
        self.options = opts = options or RunOptions()
        self.registry = registry or default_registry()
        if playbook.origin == "<python>":
            from runbook.loader import validate

            validate(playbook, registry=self.registry)
        self.params = resolve_params(playbook, params or {})
        self.run_id = run_id or new_run_id()
        self.templates = Templates(self.registry.filters)
        self.redact = Redactor([v for n, v in self.params.items()
                                if playbook.params[n].secret])
        self.connections = Connections(
            playbook, self.registry, overrides=opts.targets, local_env=_local_env(opts),
            render=lambda settings, where: self.templates.render(settings, self.ctx, field=where),
            prefetch=opts.prefetch)
        self.targets = self.connections.targets
        self.ctx: dict[str, Any] = {
            **self.params, "params": dict(self.params), "steps": {}, "checks": {},
            "targets": {n: {"name": n, "connection": t.connection, "vars": t.vars,
                            "hosts": t.hosts} for n, t in self.targets.items()}}
        self.interactive = sys.stdin.isatty() if opts.interactive is None else opts.interactive
        self.result = RunResult(
            run_id=self.run_id, playbook=playbook.name, outcome="running", exit_code=-1,
            dry_run=opts.dry_run, actor=opts.actor or _actor(), reason=opts.reason,
            params={n: (MASK if playbook.params[n].secret else v)
                    for n, v in self.params.items()}, started_at="")
        self.recorder = self._recorder()
        self._collaborators()
        self.planned: list[PlannedStep] = []
        """Every step as planned, in order (what a plan file stores)."""
        self._seq = 0
        self._plan_failed: str | None = None
        self._paused = False
        self._forced: dict[str, Any] | None = None

    def _recorder(self) -> Recorder:
        opts, observers = self.options, list(self.options.observers)
        audit_path: Path | None = None
        if opts.audit:
            from runbook.audit import AuditLog, AuditPlugin, default_audit_path

            audit_path = Path(opts.audit_log or default_audit_path())
            self.result.audit_log = str(audit_path)
            observers.insert(0, AuditPlugin(AuditLog(audit_path), self.redact.text))
        info = RunInfo(
            run_id=self.run_id, playbook=self.playbook.name,
            playbook_sha256=self.playbook.sha256, playbook_path=self.playbook.origin,
            actor=self.result.actor, reason=opts.reason, params=self.result.params,
            dry_run=opts.dry_run, audit_path=str(audit_path) if audit_path else None)
        self.result.started_at = info.started_at
        journal = None
        if opts.journal and not opts.dry_run:
            from runbook.journal import Journal, default_journal_path

            journal = Journal(Path(opts.journal_path or default_journal_path()))
        return Recorder(info=info, result=self.result, ctx=self.ctx,
                        durable=Durable(journal, self.run_id), redact=self.redact,
                        observers=observers, plugin_hook=self.registry.hook)

    def _collaborators(self) -> None:
        opts, rec, conns = self.options, self.recorder, self.connections
        self.gates = Gates(rec, yes=opts.yes, interactive=self.interactive, prompt=opts.prompt,
                           dry_run=opts.dry_run)
        self.background = BackgroundSteps(rec)
        self.runtime = RunRuntime(self.background, self.gates, rec)
        self.rollbacks = RollbackStack(registry=self.registry, templates=self.templates,
                                       recorder=rec, executor=conns.executor,
                                       context_for=self.context_for)
        self.planner = Planner(self.registry, self.templates, self.ctx, conns, self.redact,
                               self.members, dry_run=opts.dry_run, offline=opts.offline,
                               expected=opts.expected_commands)
        self.checks = Checks(registry=self.registry, templates=self.templates, recorder=rec,
                             render_args=self.planner.check_args,
                             context_for=lambda s, t, cid: self.context_for(
                                 s, conns.executor(t), cid),
                             default_target=conns.target_name(None),
                             skip_live=opts.dry_run and opts.offline)
        self.hosts = HostPath(recorder=rec, rollbacks=self.rollbacks,
                              background=self.background, checks=self.checks,
                              connections=conns, templates=self.templates,
                              context_for=self.context_for, forks=opts.forks)
        self.resumer = Resume(self.run_id, checks=self.checks, gates=self.gates)

    # --- the run -----------------------------------------------------------------------

    def run(self) -> RunResult:
        started = time.monotonic()
        self._open_journal()
        self.recorder.emit("runbook_run_started")
        if self._forced is not None:
            holder = {k: v for k, v in self._forced.items() if k != "key"}
            self.recorder.gate_answered(
                "force-unlock", "approved",
                f"took over the lock held by run {holder.get('run_id')}",
                how="--force-unlock", holder=holder)
        outcome = "planned" if self.options.dry_run else "succeeded"
        try:
            outcome = self._body(outcome) if self.resume is None else self._resume_body(outcome)
        except KeyboardInterrupt:
            outcome = self._interrupted()
        finally:
            self.background.stop_all()
            self.connections.close()
        self.result.outcome = outcome
        self.result.exit_code = OUTCOME_EXIT[outcome]
        self.result.duration_ms = round((time.monotonic() - started) * 1000, 3)
        self.recorder.run_finished()
        self.recorder.durable.finish("paused" if self._paused else outcome,
                                     self.result.exit_code)
        return self.result

    def _open_journal(self) -> None:
        """Take the lock and record the run before anything runs (exit 5 when locked)."""
        journal = self.recorder.durable.journal
        if journal is None:
            return
        from runbook.journal import lock_key

        names = sorted({self.connections.target_name(s.target) for s in self.playbook.steps}
                       | {c.target or self.connections.target_name(None)
                          for c in (*self.playbook.preconditions, *self.playbook.verify)})
        key = lock_key(self.playbook.name, names)
        if self.options.lock:
            self._forced = journal.acquire(key, run_id=self.run_id, actor=self.result.actor,
                                           playbook=self.playbook.name,
                                           takeover=self.options.force_unlock)
            self.recorder.durable.lock = key
        if self.resume is not None:
            journal.reopen_run(self.run_id)
            return
        secret = sorted(n for n, p in self.playbook.params.items() if p.secret)
        journal.start_run(
            run_id=self.run_id, playbook=self.playbook.name,
            playbook_path=self.playbook.origin, sha256=self.playbook.sha256,
            text=_source_text(self.playbook),
            params={n: v for n, v in self.params.items() if n not in secret},
            secret_params=secret, targets=names, actor=self.result.actor,
            reason=self.options.reason, audit_log=self.result.audit_log, lock_key=key)

    def _interrupted(self) -> str:
        """Ctrl-C or SIGTERM: the command is already stopped; roll back, pause or leave."""
        self.result.error = "interrupted"
        self.background.stop_all()
        decision = self.gates.interrupted(bool(self.rollbacks))
        if decision == "pause":
            self._paused = True
            self.result.error = (f"interrupted and paused; continue with: runbook resume "
                                 f"{self.run_id} (or --rollback to undo)")
            return "interrupted"
        if decision == "leave":
            self.result.manual += self.rollbacks.commands_left()
            self.result.error = "interrupted and left as is; pending rollbacks listed below"
            return "needs-attention"
        return self._undo("interrupted")

    def _body(self, outcome: str, resuming: bool = False) -> str:
        dry = self.options.dry_run
        if not dry and not resuming:
            error = self._reach_first_step()
            if error:
                self.result.error = error
                return "failed"
        pre_failed = None if resuming else self._preconditions()
        if pre_failed is not None and not dry:
            self.result.error = pre_failed
            return "precondition-failed"
        try:
            for step in self.playbook.steps:
                self._resume_step(step) if resuming else self._step(step)
            self._verify()
        except Abort as abort:
            return self._aborted(abort)
        if pre_failed is not None or self._plan_failed:
            self.result.error = pre_failed or self._plan_failed
            return "precondition-failed" if pre_failed is not None else "failed"
        return outcome

    def _preconditions(self) -> str | None:
        """What the first precondition that does not hold says (a run stops at it)."""
        failed = None
        for i, check in enumerate(self.playbook.preconditions):
            res = self.checks.run(check, "precondition", f"precondition-{i + 1}")
            if res.ok is False and check.on_fail == "abort" and failed is None:
                failed = res.message or "a precondition did not hold"
                if not self.options.dry_run:
                    break
        return failed

    def _verify(self) -> None:
        dry = self.options.dry_run
        for i, check in enumerate(self.playbook.verify):
            res = self.checks.run(check, "verify", f"verify-{i + 1}", live=not dry)
            if not dry and res.ok is False and check.on_fail == "abort":
                raise Abort("failed", f"verify failed: {res.message}")

    def _aborted(self, abort: Abort) -> str:
        self.result.error = abort.error
        if abort.kind == "attention" or not abort.rollback:
            # Stays resumable: the operator checks by hand, then resumes or rolls back
            # (`runbook resume RUN_ID --rollback` can still undo an on_fail: abort).
            self._paused = True
            self.result.manual += self.rollbacks.commands_left()
            if abort.kind == "attention":
                self.rollbacks.forget()
            return "needs-attention"
        return self._undo(abort.kind)

    def _undo(self, kind: str) -> str:
        """Roll back what is pending; the outcome says whether that worked."""
        self.background.stop_all()
        if not self.rollbacks.unwind():
            return "needs-attention"
        return {"failed": "rolled-back", "declined": "declined",
                "interrupted": "interrupted"}.get(kind, "rolled-back")

    # --- one step ----------------------------------------------------------------------

    def _step(self, step: Step, earlier: Mapping[str, Any] | None = None) -> None:
        """Plan one step, then record it as planned or run it on its host(s).
        ``earlier``: per-host journal records of a fan-out step in flight at a crash."""
        action = self.registry.action(step.action)
        target = self.connections.target_name(step.target)
        self.ctx["target"] = self.ctx["targets"].get(target)
        res = self.recorder.step_added(StepResult(
            id=step.id, action=step.action, target=target, mutating=action.mutating,
            background=step.background, title=step.title))
        try:
            if step.when is not None and not self._when(step, res):
                return
            planned = self.planner.plan(step)
            res.commands, res.argv = planned.commands, planned.argv
            if planned.gate is not None:
                res.gate = self.gates.gate(step.id, planned.gate, res.commands) \
                    if planned.asks else planned.gate
            if not planned.execute:
                self._planned_only(planned, res)
                return
            self.planned.append(planned)
            self._seq += 1
            if planned.group:
                self.hosts.fan_out(planned, res, self._seq, earlier or {},
                                   self.resumer.happened)
            else:
                self.hosts.single(planned, res, self._seq)
        except GateDeclined as exc:
            res.status = "declined"
            res.error = str(exc)
            raise Abort("declined", str(exc)) from exc
        except RunbookError as exc:
            self._failed(step, res, exc)

    def _when(self, step: Step, res: StepResult) -> bool:
        decision, res.when = self.planner.when(step)
        if decision is False:
            res.status = "skipped"
            self.recorder.context(step.id, status="skipped")
            self.recorder.step_finished(res)
            return False
        return True

    def _planned_only(self, planned: PlannedStep, res: StepResult) -> None:
        res.status = "planned"
        step, action = planned.step, planned.action
        if planned.group:
            res.rollback = f"per host: {step.rollback}" if step.rollback else (
                "none" if action.mutating else None)
        else:
            res.rollback = self.rollbacks.describe(
                step, action, planned.hosts[0].args if planned.hosts else None,
                planned.target, offline=self.options.offline,
                waits_on=self.planner.waits_on)
        self.planned.append(replace(planned, rollback=res.rollback))
        self.planner.planned_only(planned)
        self.recorder.step_finished(res)

    def _failed(self, step: Step, res: StepResult, exc: RunbookError) -> None:
        if res.status != "failed":
            self.recorder.failure(res, exc)
            self.recorder.step_finished(res)
        message = f"step {step.id!r} failed: {self.redact.text(res.error or str(exc))}"
        if self.options.dry_run:  # a plan goes on: every later step is still worth reviewing
            self._plan_failed = message
            self.recorder.context(step.id, status="failed", result=res.result)
            return
        if step.on_fail == "continue":
            self.recorder.context(step.id, status="failed", result=res.result, rc=res.rc,
                                  error=res.error)
            return
        raise Abort("failed", message, rollback=step.on_fail == "rollback") from exc

    # --- resume ------------------------------------------------------------------------

    def _resume_body(self, outcome: str) -> str:
        """Continue an interrupted run: rebuild the rollback stack, skip what is done,
        re-check what was in flight; or finish (or start) the rollback."""
        state = self.resume
        assert state is not None
        for rec in state.steps.values():
            if rec.state == "started":  # a background step left behind by the dead runner
                kill_orphan(rec.result)
        self.rollbacks.rebuild(state, self.playbook)
        if state.rollback_only or state.was_rolling_back:
            self.result.error = f"rolled back interrupted run {state.run_id}"
            return self._undo("failed")
        return self._body(outcome, resuming=True)

    def _resume_step(self, step: Step) -> None:
        assert self.resume is not None
        rec = self.resume.steps.get(step.id)
        if rec is None:
            self._step(step)
        elif rec.state in ("done", "skipped"):
            self._restore(step, rec.state, rec.result, rec.rc)
        elif rec.state == "started":  # a background step: its process went with the runner
            kill_orphan(rec.result)
            if step.on_resume == "restart":
                self._step(step)
                return
            self._restore(step, "died", rec.result, rec.rc)
            self.result.findings.append(Finding(
                "warning", f"background step {step.id} ended with the runner",
                next_step="it is not restarted (set on_resume: restart to allow that)",
                step=step.id))
        elif rec.state == "failed":
            raise Abort("failed", f"step {step.id!r} had failed before the runner stopped: "
                                  f"{rec.error}")
        else:
            self._in_flight(step, rec)

    def _in_flight(self, step: Step, rec: Any) -> None:
        """The step in flight when the runner died: the resume decision says whether it
        happened (a fan-out decides host by host)."""
        assert self.resume is not None
        if self.connections.is_group(self.connections.target_name(step.target)):
            self._step(step, self.resume.hosts.get(step.id, {}))
            return
        self.ctx["target"] = self.ctx["targets"].get(self.connections.target_name(step.target))
        planned = self.planner.plan(step)
        if not self.resumer.happened(planned, None, rec):
            self._step(step)
            return
        self._restore(step, "done", rec.result, rec.rc)
        pushed = any(r.step_id == step.id for r in self.resume.rollbacks)
        if not pushed and step.rollback not in (None, "none"):
            self.rollbacks.push(step, planned.action, planned.hosts[0].args, rec.captured,
                                planned.target)
        self.recorder.durable.step(step.id, "done")

    def _restore(self, step: Step, status: str, value: Any, rc: int | None) -> None:
        res = self.recorder.step_added(StepResult(
            id=step.id, action=step.action, target=self.connections.target_name(step.target),
            mutating=self.registry.actions[step.action].mutating,
            status="ok" if status == "done" else status, result=value, rc=rc,
            when="done before the runner stopped" if status == "done" else None,
            title=step.title))
        self.recorder.context(step.id, status=res.status, result=value, rc=rc,
                              stdout=value.get("stdout") if isinstance(value, dict) else None)
        if step.register_as and status == "done":
            self.ctx[step.register_as] = value

    # --- targets -----------------------------------------------------------------------

    def members(self, name: str) -> list[str]:
        """The target names a group fans out to (bare host names become targets)."""
        names, made = self.connections.members(name)
        for entry, target in made.items():
            self.ctx["targets"].setdefault(entry, {"name": entry,
                                                   "connection": target.connection,
                                                   "vars": target.vars, "hosts": None})
        return names

    def _reach_first_step(self) -> str | None:
        """Connect the first step's target before anything runs, so a wrong host, user or
        key fails the run while nothing has changed yet."""
        first = next(iter(self.playbook.steps), None)
        if first is None or self.registry.actions[first.action].in_engine:
            return None
        name = self.connections.target_name(first.target)
        if self.connections.is_group(name) or self.connections.is_local(name):
            return None  # a fan-out connects all its hosts before its first command
        return self.hosts.reach(name)

    def context_for(self, step: Step | None, executor: Executor | None,
                    step_id: str | None = None) -> ActionContext:
        """What an action runs with: its executor, timeout and the run's runtime."""
        timeout = (step.timeout if step else None) or self.playbook.defaults.timeout
        return ActionContext(executor=executor or self.connections.executor("local"),
                             step=step_id or (step.id if step else ""), timeout=timeout,
                             runtime=self.runtime)


def _local_env(options: RunOptions) -> dict[str, str]:
    """The local executor's environment: the caller's, plus a sandbox's stand-ins."""
    if options.sandbox is None:
        return dict(options.env)
    from runbook import sim

    return {**options.env, **sim.sandbox_env(Path(options.sandbox))}


def _source_text(playbook: Playbook) -> str | None:
    if playbook.origin == "<python>":
        return None
    try:
        return Path(playbook.origin).read_text(encoding="utf-8")
    except OSError:
        return None


def _actor() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid())
    return os.environ.get("RUNBOOK_ACTOR", user)
