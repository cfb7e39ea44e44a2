"""The engine: the short story of one run, for both run and dry-run.

Take the lock and journal the run; check the preconditions; then, step by
step: decide ``when``, plan the step (``runbook.planner``: rendered args or what
they wait on, commands, gate), ask its gate, and either record it as planned
(a dry-run of a mutating step) or run it on its host or hosts
(``runbook.hostpath``), which journals, audits, pushes its rollback and checks
its post-conditions. Then verify. A failure unwinds the rollback stack
(``runbook.rollbacks``); Ctrl-C asks whether to roll back, pause or leave
(``runbook.gates``); a resumed run goes on from the journal
(``runbook.resuming``). Everything that happens is written down once, by the
``runbook.recorder``.
"""

from __future__ import annotations

import secrets
import sys
import time
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from runbook.actions import ActionContext
from runbook.background import BackgroundSteps
from runbook.checks import Checks
from runbook.connections import Connections
from runbook.durable import ResumeState
from runbook.errors import GateDeclined, RunbookError
from runbook.gates import Gates, Prompt
from runbook.hostpath import HostPath
from runbook.models import Playbook, Step
from runbook.options import RunOptions, default_actor, local_env, run_shape, select, transport_for
from runbook.params import resolve_params
from runbook.planner import PlannedStep, Planner
from runbook.plugins import Registry, default_registry
from runbook.recorder import Recorder
from runbook.redact import MASK, Redactor
from runbook.result import OUTCOME_EXIT, Abort, RunResult, StepResult
from runbook.resuming import Resume
from runbook.rollbacks import RollbackStack
from runbook.runtime import RunRuntime
from runbook.templating import Templates

if TYPE_CHECKING:
    from runbook.executors.base import Executor

__all__ = ["Engine", "Prompt", "RunOptions", "new_run_id"]


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
        if opts.dry_run:
            params = _plan_params(playbook, params)
        self.params = resolve_params(playbook, params or {}, **(
            {} if opts.from_cli else {"file": "<params>", "hint": "give it in params"}))
        self.run_id = run_id or new_run_id()
        self.templates = Templates(self.registry.filters)
        self.redact = Redactor([v for n, v in self.params.items() if playbook.params[n].secret])
        self.connections = Connections(
            playbook, self.registry, overrides=select(playbook, opts, self.registry),
            local_env=local_env(opts), prefetch=opts.prefetch, transport=transport_for(opts),
            render=lambda settings, where: self.templates.render(settings, self.ctx, field=where))
        self.targets = self.connections.targets
        self.ctx: dict[str, Any] = {
            **self.params, "params": dict(self.params), "steps": {}, "checks": {},
            "targets": {n: {"name": n, "connection": t.connection, "vars": t.vars,
                            "hosts": t.hosts} for n, t in self.targets.items()}}
        self.interactive = sys.stdin.isatty() if opts.interactive is None else opts.interactive
        self.result = RunResult(
            run_id=self.run_id, playbook=playbook.name, outcome="running", exit_code=-1,
            dry_run=opts.dry_run, actor=opts.actor or default_actor(), reason=opts.reason,
            params={n: (MASK if playbook.params[n].secret else v)
                    for n, v in self.params.items()}, started_at="")
        self.recorder = Recorder.for_run(playbook, opts, result=self.result, ctx=self.ctx,
                                         redact=self.redact, plugin_hook=self.registry.hook)
        self._collaborators()
        self.planned: list[PlannedStep] = []
        """Every step as planned, in order (what a plan file stores)."""
        self._seq = 0
        self._plan_failed: str | None = None
        self._paused = False
        self._forced: dict[str, Any] | None = None

    def _collaborators(self) -> None:
        opts, rec, conns = self.options, self.recorder, self.connections
        self.gates = Gates(rec, yes=opts.yes, interactive=self.interactive, prompt=opts.prompt,
                           dry_run=opts.dry_run, approval=opts.approval)
        self.background = BackgroundSteps(rec)
        self.runtime = RunRuntime(self.background, self.gates, rec, conns, self.registry,
                                  opts.on_output)
        self.rollbacks = RollbackStack(registry=self.registry, templates=self.templates,
                                       recorder=rec, executor=conns.executor,
                                       context_for=self.context_for)
        self.planner = Planner(self.registry, self.templates, self.ctx, conns, self.redact,
                               dry_run=opts.dry_run, offline=opts.offline,
                               expected=opts.expected_commands, skips=opts.skips)
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
        self.hosts.probe_once = opts.dry_run
        self.resumer = Resume(self.resume, self.playbook, checks=self.checks, gates=self.gates,
                              rollbacks=self.rollbacks, planner=self.planner,
                              run_step=self._step)

    # --- the run -----------------------------------------------------------------------

    def run(self) -> RunResult:
        started = time.monotonic()
        self._open_journal()
        outcome = "planned" if self.options.dry_run else "succeeded"
        try:
            self.recorder.emit("runbook_run_started")
            self._forced_unlock()
            try:
                outcome = self._body(outcome) if self.resume is None else \
                    self._resumed(outcome)
            except KeyboardInterrupt:
                outcome = self._interrupted()
        except Exception as exc:
            outcome = self._crashed(exc)
        finally:
            self.background.stop_all()
            self.connections.close()
        self.result.outcome = outcome
        self.result.exit_code = OUTCOME_EXIT[outcome]
        self.result.duration_ms = round((time.monotonic() - started) * 1000, 3)
        self._finish()
        return self.result

    def _forced_unlock(self) -> None:
        self.gates.plan_approved()
        if self._forced is not None:
            holder = {k: v for k, v in self._forced.items() if k != "key"}
            self.recorder.gate_answered(
                "force-unlock", "approved",
                f"took over the lock held by run {holder.get('run_id')}",
                how="--force-unlock", holder=holder)

    def _finish(self) -> None:
        """Record the end (audit log, observers) and always close the run in the journal
        and release its lock, even when the audit log refuses the last write."""
        try:
            self.recorder.run_finished()
        except Exception as exc:
            self.result.error = (self.result.error + "; " if self.result.error else "") + \
                self.redact.text(f"run.finished could not be recorded: {exc}")
        finally:
            self.recorder.durable.finish("paused" if self._paused else self.result.outcome,
                                         self.result.exit_code)

    def _crashed(self, exc: Exception) -> str:
        """An unexpected error mid-run (a refused audit write, a full disk, a bug): roll
        back what can be; what cannot stays listed and the run stays resumable."""
        self.result.error = self.redact.text(
            f"the run stopped on an unexpected error: {type(exc).__name__}: {exc}")
        if self.options.dry_run:
            return "failed"
        try:
            return self._undo("failed")
        except Exception:
            self._paused = True
            self.result.manual += self.rollbacks.commands_left()
            return "needs-attention"

    def _open_journal(self) -> None:
        """Take the lock and record the run before anything runs (exit 5 when locked)."""
        pb, conns = self.playbook, self.connections
        names = sorted({conns.target_name(s.target) for s in pb.steps}
                       | {c.target or conns.target_name(None)
                          for c in (*pb.preconditions, *pb.verify)})
        self._forced = self.recorder.durable.open_run(
            pb, self.params, names, actor=self.result.actor, reason=self.options.reason,
            audit_log=self.result.audit_log, lock=self.options.lock,
            takeover=self.options.force_unlock, resumed=self.resume is not None,
            options=run_shape(self.options))

    def _interrupted(self) -> str:
        """Ctrl-C or SIGTERM: the command is already stopped; roll back, pause or leave."""
        self.result.error = "interrupted"
        # A paused run is resumed from the journal; a background step that ends now can
        # be resumed only if the playbook says it may be restarted.
        can_pause = all(self.playbook.step(sid).on_resume == "restart"
                        for sid in self.background.running)
        self.background.stop_all()
        decision = self.gates.interrupted(bool(self.rollbacks), can_pause=can_pause)
        if decision == "pause":
            self._paused = True
            self.result.error = (f"interrupted and paused; continue with: runbook resume "
                                 f"{self.run_id} (or --rollback to undo)")
            return "interrupted"
        if decision == "leave":
            self.result.manual += self.rollbacks.commands_left()
            self.result.error = ("interrupted and left as is; the pending rollbacks are listed "
                                 "above, left to do by hand")
            return "needs-attention"
        return self._undo("interrupted")

    def _body(self, outcome: str, resuming: bool = False) -> str:
        dry = self.options.dry_run
        if not dry and not resuming:
            error = self.hosts.reach_first(self.playbook)
            if error:
                self.result.error = error
                return "failed"
        pre_outcome, pre_failed = (None, None) if resuming else self._preconditions()
        if pre_outcome is not None and not dry:
            self.result.error = pre_failed
            return pre_outcome
        try:
            for step in self.playbook.steps:
                self.resumer.step(step) if resuming else self._step(step)
            self._verify()
        except Abort as abort:
            return self._aborted(abort)
        if pre_outcome is not None or self._plan_failed:
            self.result.error = pre_failed or self._plan_failed
            return pre_outcome or "failed"
        return outcome

    def _preconditions(self) -> tuple[str | None, str | None]:
        """The outcome and message of the first precondition that does not hold
        (``precondition-failed``) or could not be checked (``could-not-check``); a run
        stops at it."""
        first: tuple[str | None, str | None] = (None, None)
        for i, check in enumerate(self.playbook.preconditions):
            res = self.checks.run(check, "precondition", f"precondition-{i + 1}")
            if res.ok is False and check.on_fail == "abort" and first[0] is None:
                first = ("could-not-check", res.message or "a precondition could not be checked") \
                    if res.status == "error" else \
                    ("precondition-failed", res.message or "a precondition did not hold")
                if not self.options.dry_run:
                    break
        return first

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
            if (step.when or step.id in self.options.skips) and not self._when(step, res):
                return
            planned = self.planner.plan(step)
            res.commands, res.argv, res.preview = planned.commands, planned.argv, planned.preview
            if self.options.dry_run:
                from runbook.review import review_lines

                res.review = review_lines(step, self.playbook, planned.hosts[0].args
                                          if planned.hosts else None, self.redact)
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

    def _resumed(self, outcome: str) -> str:
        """Continue an interrupted run from the journal; or finish (or start) its rollback."""
        assert self.resume is not None
        if self.interactive and not self.options.yes and not self.gates.ask(
                "resume", f"resume run {self.run_id} of {self.playbook.name} ("
                + ("roll it back" if self.resume.rollback_only else "go on from where it "
                   "stopped") + ")?"):
            self._paused = True  # nothing done: it stays resumable
            self.result.error = (f"not resumed; run {self.run_id} stays as it was "
                                 f"(runbook resume {self.run_id} when ready)")
            return "declined"
        if self.resumer.start():
            self.result.error = f"rolled back interrupted run {self.resume.run_id}"
            return self._undo("failed")
        return self._body(outcome, resuming=True)

    # --- what actions get ----------------------------------------------------------------

    def context_for(self, step: Step | None, executor: Executor | None,
                    step_id: str | None = None) -> ActionContext:
        """What an action runs with: its executor, timeout and the run's runtime."""
        timeout = (step.timeout if step else None) or self.playbook.defaults.timeout
        return ActionContext(executor=executor or self.connections.executor("local"),
                             step=step_id or (step.id if step else ""), timeout=timeout,
                             runtime=self.runtime)


def _plan_params(playbook: Playbook, params: Mapping[str, Any] | None) -> dict[str, Any]:
    """A plan needs no secret: one not given shows as ``<secret>`` where it goes."""
    from runbook.review import SECRET_PLACEHOLDER

    return {**{n: SECRET_PLACEHOLDER for n, p in playbook.params.items()
               if p.secret and p.default is None}, **(params or {})}
