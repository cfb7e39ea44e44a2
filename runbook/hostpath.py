"""One per-host path: a planned step run on one host, and the fan-out over many.

A single target is a group of one: ``prepare`` (capture the prior state,
journal "running", audit ``step.started``) then ``run_on_host`` (the command
with retry/until/timeout) -> ``HostResult``, then the outcome is journaled and
the host's rollback pushed. A fan-out batches hosts over the same path
(``serial``, at most ``forks`` at once, stopping past ``max_fail``), with one
journal commit and one audit fsync per batch. A single step's events and
journal rows carry no host, as they always have; a fan-out's carry each host.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from runbook.actions import ActionContext, NoOp
from runbook.background import BackgroundSteps, Running
from runbook.checks import Checks, retrying
from runbook.errors import CheckFailed, CommandError, RunbookError, StepError
from runbook.events import Event
from runbook.planner import HostPlan, PlannedStep
from runbook.recorder import Recorder, UntilNotMet, capped
from runbook.result import StepResult
from runbook.rollbacks import RollbackStack

if TYPE_CHECKING:
    from runbook.connections import Connections
    from runbook.executors.base import Executor
    from runbook.journal import StepRecord
    from runbook.models import Playbook, Step
    from runbook.templating import Templates

ContextFor = Callable[["Step | None", "Executor | None"], ActionContext]
Happened = Callable[[PlannedStep, str, "StepRecord"], bool]
"""The resume decision for one host in flight when the runner died."""


@dataclass
class HostResult:
    """A step's outcome on one host."""

    host: str
    status: str = "ok"  # ok, failed, skipped
    rc: int | None = None
    error: str | None = None
    duration_ms: float = 0.0
    value: Any = None
    attempts: int = 0
    captured: Any = None
    resumed: bool = False
    checked: bool = False
    exc: BaseException | None = None
    waits: str | None = None
    """In a plan, a polling step probed once whose ``until`` does not hold yet."""

    @property
    def result(self) -> Any:
        """The value later templates see (a no-op's own result)."""
        return self.value.result if isinstance(self.value, NoOp) else self.value

    def outcome(self) -> dict[str, Any]:
        """The shape of ``StepResult.hosts[host]``."""
        if self.status == "skipped":
            return {"status": "skipped", "error": self.error}
        out: dict[str, Any] = {"status": self.status, "rc": self.rc, "error": self.error,
                               "duration_ms": self.duration_ms}
        if self.resumed:
            out["resumed"] = True
        if self.checked:
            out["checked"] = True
        return out


class HostPath:
    """Runs planned steps on their hosts and records what happened on each."""

    def __init__(self, *, recorder: Recorder, rollbacks: RollbackStack,
                 background: BackgroundSteps, checks: Checks, connections: Connections,
                 templates: Templates, context_for: ContextFor, forks: int) -> None:
        self.recorder = recorder
        self.rollbacks = rollbacks
        self.background = background
        self.checks = checks
        self.connections = connections
        self.templates = templates
        self.context_for = context_for
        self.forks = forks
        self.probe_once = False
        """A plan: a polling step (``until``) is probed once, never waited through."""

    def _executor(self, planned: PlannedStep, host: str) -> Executor | None:
        return None if planned.action.in_engine else self.connections.executor(host)

    def _context(self, planned: PlannedStep, host: HostPlan) -> ActionContext:
        """The action's context on this host, guarding every command it runs against
        values that would become options (``runbook.commandline.OptionGuard``)."""
        actx = self.context_for(planned.step, self._executor(planned, host.name))
        actx.guard = host.guard
        return actx

    # --- one host ------------------------------------------------------------------

    def prepare(self, planned: PlannedStep, host: HostPlan, seq: int) -> HostResult:
        """Before the command: capture prior state, journal "running", audit step.started
        (a fan-out host's record waits for its batch's single commit and fsync)."""
        step, action, rec = planned.step, planned.action, self.recorder
        hr = HostResult(host.name)
        try:
            if step.rollback == "auto":
                hr.captured = action.capture(host.args, self._context(planned, host))
            where = {"host": host.name} if planned.group else {}
            # a mutating step's step.started is durable: "running" may ride in its commit
            rides = action.mutating and rec.audit is not None and rec.durable.rides_with_audit
            rec.durable.step(step.id, "running", seq=seq, captured=rec.redact(hr.captured),
                             defer=planned.group or rides, **where)
            rec.emit("runbook_step_started", Event(
                "step.started", step=step.id, action=step.action, target=host.name,
                argv=list(host.argv[0]) if host.argv else None, mutating=action.mutating,
                **_started(planned, host.name)))
        except RunbookError as exc:
            if not planned.group:
                raise
            _fail(hr, exc, rec)
        return hr

    def run_on_host(self, planned: PlannedStep, host: HostPlan, hr: HostResult) -> HostResult:
        """Run the step's command(s) on one host; a failure is the result, not raised
        (Ctrl-C is raised, with the result filled in)."""
        started = time.monotonic()
        try:
            if hr.error is not None:
                raise StepError(hr.error, step=planned.id, target=host.name)
            hr.value = self._execute(planned, host, hr)
            value = hr.result
            if isinstance(value, dict) and "rc" in value:
                hr.rc = value["rc"]
        except RunbookError as exc:
            _fail(hr, exc, self.recorder)
        except BaseException as exc:
            _fail(hr, exc, self.recorder)
            raise
        finally:
            hr.duration_ms = round((time.monotonic() - started) * 1000, 3)
        return hr

    def _execute(self, planned: PlannedStep, host: HostPlan, hr: HostResult) -> Any:
        step, action = planned.step, planned.action
        actx = self._context(planned, host)

        def attempt() -> Any:
            hr.attempts += 1
            value = action.run(host.args, actx)
            if step.until is not None:
                ok = self.templates.evaluate(step.until, {**self.recorder.ctx, "result": value},
                                             step=step.id, field="until")
                if not ok and self.probe_once:
                    hr.waits = f"would wait until {step.until} (it does not hold yet)"
                elif not ok:
                    raise UntilNotMet(f"until {step.until!r} did not hold after "
                                      f"{hr.attempts} attempt(s)", step=step.id, result=value)
            return value

        if step.retry is None or self.probe_once:
            return attempt()
        return retrying(step.retry, (CommandError, StepError), attempt)

    def _push(self, planned: PlannedStep, hr: HostResult) -> str | None:
        """Stack this host's undo: after a change, or after a failure that may have
        changed something the action captured."""
        step, action = planned.step, planned.action
        if hr.status == "ok":
            if not (action.mutating or step.rollback not in (None, "none")):
                return None
        elif hr.captured is None or not action.mutating:
            return None
        scope = ({**self.recorder.ctx, "target": self.recorder.ctx["targets"][hr.host]}
                 if planned.group else None)
        return self.rollbacks.push(step, action, planned.host(hr.host).args, hr.captured,
                                   hr.host, scope)

    # --- a single target -----------------------------------------------------------

    def single(self, planned: PlannedStep, res: StepResult, seq: int) -> None:
        """A step on one target: the per-host path, recorded as the step itself."""
        step, rec = planned.step, self.recorder
        host = planned.hosts[0]
        hr = self.prepare(planned, host, seq)
        started = time.monotonic()
        try:
            if step.background:
                self._start(planned, host, res)
            else:
                self.run_on_host(planned, host, hr)
        except BaseException as exc:
            if hr.exc is None:  # starting a background step failed
                _fail(hr, exc, rec)
        res.attempts = hr.attempts
        res.duration_ms = hr.duration_ms if not step.background else round(
            (time.monotonic() - started) * 1000, 3)
        if hr.status == "failed":
            self._single_failed(planned, res, hr)
        res.status = "started" if step.background else "ok"
        if hr.waits:
            res.review.append(hr.waits)
        rec.store(step, res, res.result if step.background else hr.value)
        rec.durable.step(step.id, "checking" if step.checks else (
            "started" if step.background else "done"), rc=res.rc, result=res.result,
            attempts=res.attempts, duration_ms=res.duration_ms)
        res.rollback = self._push(planned, hr) or res.rollback  # before anything can fail
        rec.step_finished(res)
        if step.restores:
            self.rollbacks.discharge(step.restores)
        self.post_checks(planned, res, [planned.target])

    def _start(self, planned: PlannedStep, host: HostPlan, res: StepResult) -> None:
        proc = planned.action.start(host.args, self._context(planned, host))
        self.background.add(planned.id, Running(proc, planned.action, host.args, res))
        res.result = {"pid": getattr(getattr(proc, "popen", None), "pid", None)}

    def _single_failed(self, planned: PlannedStep, res: StepResult, hr: HostResult) -> None:
        rec = self.recorder
        assert hr.exc is not None
        rec.failure(res, hr.exc)
        if not isinstance(hr.exc, KeyboardInterrupt):
            rec.durable.step(planned.id, "failed", rc=res.rc, error=res.error,
                             attempts=res.attempts, duration_ms=res.duration_ms)
        if hr.captured is not None:
            res.rollback = self._push(planned, hr) or res.rollback
        rec.step_finished(res)
        raise hr.exc

    # --- a group of hosts ----------------------------------------------------------

    def fan_out(self, planned: PlannedStep, res: StepResult, seq: int,
                earlier: Mapping[str, StepRecord], happened: Happened) -> None:
        """Every host of a group, batch by batch; each host's outcome, events and
        rollback are its own. Hosts done before a crash keep their results."""
        if not planned.hosts:
            self._no_hosts(planned, res)
            return
        started = time.monotonic()
        # Committed with the first wave's hosts, before any command of the step starts.
        self.recorder.durable.step(planned.id, "running", seq=seq, defer=True)
        results: dict[str, HostResult] = {}
        todo = self._resumed(planned, earlier, results, happened)
        workers = max(1, min(self.forks, len(planned.hosts)))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fanout") as pool:
            # Connect every host first: an unreachable one is known before anything changes.
            for host, error in zip(todo, self._reach_all(pool, todo), strict=True):
                if error:
                    results[host] = HostResult(host, status="failed", error=error)
                    self.recorder.durable.step(planned.id, "failed", host=host, error=error,
                                               defer=True)
            ran = False
            for batch in planned.batches if not _too_many(planned, results) else ():
                hosts = [planned.host(h) for h in batch if h in todo and h not in results]
                if not hosts:
                    continue
                if ran and planned.step.pause:
                    time.sleep(planned.step.pause)
                ran = True
                for hr in self._run_batch(pool, planned, hosts, seq, workers):
                    results[hr.host] = hr
                if _too_many(planned, results):
                    break
        self._group_finished(planned, res, results, started)

    def _run_batch(self, pool: ThreadPoolExecutor, planned: PlannedStep,
                   hosts: list[HostPlan], seq: int, workers: int) -> list[HostResult]:
        """A batch in waves of doubling size: the first ``workers`` hosts are prepared,
        made durable and started; each next wave is prepared while the one before runs,
        so the workers find it queued (and the servers are busy, not waiting on the
        engine thread). Each wave is one journal commit and one audit fsync, so every
        command still starts after its own records are on disk."""
        futures: dict[Future[HostResult], HostResult] = {}
        start, size = 0, workers
        try:
            while start < len(hosts):
                wave = hosts[start:start + size]
                start, size = start + size, size * 2
                prepared = self._prepare_batch(pool, planned, wave, seq)
                self.recorder.sync()
                futures.update((pool.submit(self._member, planned, hr), hr) for hr in prepared)
            return [f.result() for f in futures]
        except BaseException:
            self._cancel_queued(planned, futures)
            raise

    def _cancel_queued(self, planned: PlannedStep, futures: Mapping[Future[HostResult],
                                                                    HostResult]) -> None:
        """Interrupted (Ctrl-C, SIGTERM) or stopped: no host waiting for a worker starts.
        Hosts in flight finish (their outcome and rollback are recorded as usual); one
        that never started is journaled ``cancelled`` (a resume runs it) and audited."""
        rec = self.recorder
        for future, hr in futures.items():
            if not future.cancel():
                continue
            rec.durable.step(planned.id, "cancelled", host=hr.host, defer=True)
            self._host_finished(planned, hr.host, status="cancelled",
                                message="not started: the run was interrupted")

    def _host_finished(self, planned: PlannedStep, host: str, **fields: Any) -> None:
        """A fan-out host's step.finished (its outcome in ``fields``)."""
        self.recorder.emit("runbook_step_finished", Event(
            "step.finished", step=planned.id, action=planned.action.name, target=host,
            host=host, mutating=planned.mutating, data={"group": planned.target}, **fields))

    def _reach_all(self, pool: ThreadPoolExecutor, hosts: list[str]) -> list[str | None]:
        """Connect the hosts whose connection is not open (in parallel); an open one
        (every host after a group's first step) is not handed to a worker and back."""
        cold = [h for h in hosts if not self._is_open(h)]
        errors = dict(zip(cold, pool.map(self.reach, cold), strict=True))
        return [errors.get(h) for h in hosts]

    def _is_open(self, host: str) -> bool:
        try:
            return getattr(self.connections.executor(host), "is_open", False) is True
        except RunbookError:
            return False  # reach() reports it

    def _prepare_batch(self, pool: ThreadPoolExecutor, planned: PlannedStep,
                       hosts: list[HostPlan], seq: int) -> list[HostResult]:
        """Prepare a batch's hosts: in parallel when each captures its prior state (a
        command per host), else here, in order: queueing a journal row and writing an
        audit line is quicker than handing each host to a worker thread and back."""
        if planned.step.rollback == "auto":
            return list(pool.map(lambda h: self.prepare(planned, h, seq), hosts))
        return [self.prepare(planned, h, seq) for h in hosts]

    def _no_hosts(self, planned: PlannedStep, res: StepResult) -> None:
        """``hosts`` rendered to an empty list: nothing runs, the step is skipped."""
        res.status = "skipped"
        res.when = f"hosts: {planned.step.hosts} is empty: no hosts, skipped"
        self.recorder.context(planned.id, status="skipped")
        self.recorder.step_finished(res)

    def _resumed(self, planned: PlannedStep, earlier: Mapping[str, StepRecord],
                 results: dict[str, HostResult], happened: Happened) -> list[str]:
        """Resuming: the hosts still to run. Done and failed hosts keep their outcome;
        a host in flight is decided by the one resume decision."""
        todo: list[str] = []
        for host in (h.name for h in planned.hosts):
            rec = earlier.get(host)
            if rec is None or rec.state == "cancelled":  # cancelled: queued at Ctrl-C
                todo.append(host)
            elif rec.state in ("done", "failed"):
                results[host] = HostResult(
                    host, status="ok" if rec.state == "done" else "failed", rc=rec.rc,
                    error=rec.error if rec.state == "failed" else None,
                    duration_ms=rec.duration_ms or 0.0,
                    value=rec.result if rec.state == "done" else None, resumed=True)
            elif happened(planned, host, rec):
                self._settle_resumed(planned, host, rec)
                results[host] = HostResult(host, rc=rec.rc, value=rec.result, resumed=True,
                                           checked=True)
            else:
                todo.append(host)
        return todo

    def _settle_resumed(self, planned: PlannedStep, host: str, rec: StepRecord) -> None:
        # A host still "running" in the journal never had its rollback pushed: the push
        # commits together with the host's "done" (as in _member), so a second crash
        # cannot leave one without the other.
        self.recorder.durable.step(planned.id, "done", host=host, rc=rec.rc, defer=True)
        if planned.mutating:
            self._push(planned, HostResult(host, captured=rec.captured))
        self.recorder.sync()

    def _member(self, planned: PlannedStep, hr: HostResult) -> HostResult:
        """One host of a fan-out: run, journal, audit, push its own rollback."""
        rec = self.recorder
        self.run_on_host(planned, planned.host(hr.host), hr)
        result = rec.redact(capped(hr.result))
        rec.durable.step(planned.id, "done" if hr.status == "ok" else "failed", host=hr.host,
                         rc=hr.rc, error=hr.error, result=result, duration_ms=hr.duration_ms)
        self._host_finished(planned, hr.host, status=hr.status, rc=hr.rc,
                            duration_ms=hr.duration_ms, message=hr.error, result=result)
        if planned.mutating:
            try:
                self._push(planned, hr)
            except RunbookError as exc:
                hr.error = f"{hr.error or ''} (rollback unavailable: {exc})"
        return hr

    def _group_finished(self, planned: PlannedStep, res: StepResult,
                        results: dict[str, HostResult], started: float) -> None:
        step, rec = planned.step, self.recorder
        names = [h.name for h in planned.hosts]
        too_many = self._tally(planned, res, results, started)
        rec.durable.step(step.id, "failed" if too_many else (
            "checking" if step.checks else "done"), result=res.result,
            duration_ms=res.duration_ms)
        if too_many:
            failed = [h for h, r in results.items() if r.status == "failed"]
            res.error = (f"{len(failed)} of {len(names)} hosts failed (max_fail "
                         f"{step.max_fail or 0}): "
                         + "; ".join(f"{h}: {res.hosts[h].get('error')}" for h in failed))
            rec.step_finished(res)
            raise StepError(res.error, step=step.id, target=res.target)
        rec.step_finished(res)
        if step.restores:
            self.rollbacks.discharge(step.restores)
        self.post_checks(planned, res, [h for h in names if res.hosts[h]["status"] == "ok"
                                        and not res.hosts[h].get("checked")])

    def _tally(self, planned: PlannedStep, res: StepResult, results: dict[str, HostResult],
               started: float) -> bool:
        """The group's result from its hosts' (hosts never started are skipped); True
        when more than ``max_fail`` failed."""
        rec = self.recorder
        for host in planned.hosts:
            results.setdefault(host.name, HostResult(
                host.name, status="skipped", error="not started: too many failures"))
        res.hosts = {h: r.outcome() for h, r in results.items()}
        res.duration_ms = round((time.monotonic() - started) * 1000, 3)
        res.attempts = sum(1 for r in results.values() if r.status != "skipped")
        too_many = _too_many(planned, results)
        res.status = "failed" if too_many else "ok"
        values = {h: (r.result if r.status == "ok" else None) for h, r in results.items()}
        rec.context(planned.id, status=res.status, result=values, rc=None, stdout=None,
                    hosts={h: o | {"result": values[h]} for h, o in res.hosts.items()})
        res.result = rec.redact(capped(values))
        if planned.step.register_as:
            rec.ctx[planned.step.register_as] = values
        return too_many

    # --- around the command --------------------------------------------------------

    def post_checks(self, planned: PlannedStep, res: StepResult, targets: list[str]) -> None:
        """A step's post-conditions; the journal marks the step done only once they hold."""
        step, rec = planned.step, self.recorder
        for j, check in enumerate(step.checks):
            for target in targets:
                rec.ctx["target"] = rec.ctx["targets"].get(target)
                cid = check.id or f"{step.id}-check-{j + 1}"
                cres = self.checks.run(check, "check", f"{cid}@{target}" if planned.group
                                       else cid, step=step,
                                       default_target=check.target or target)
                if cres.ok is False and check.on_fail == "abort":
                    res.status = "failed"
                    res.error = cres.message
                    rec.durable.step(step.id, "failed", error=res.error)
                    raise CheckFailed(cres.message or "check failed", step=step.id,
                                      check=cres.id, expected=" and ".join(cres.expected),
                                      observed=cres.observed)
        if step.checks:
            rec.durable.step(step.id, "done")

    def reach_first(self, playbook: Playbook) -> str | None:
        """Connect the first step's target before anything runs, so a wrong host, user or
        key fails the run while nothing has changed yet."""
        first = next(iter(playbook.steps), None)
        conns = self.connections
        if first is None or conns.registry.actions[first.action].in_engine:
            return None
        name = conns.target_name(first.target)
        if conns.is_group(name) or conns.is_local(name):
            return None  # a fan-out connects all its hosts before its first command
        return self.reach(name)

    def reach(self, target: str) -> str | None:
        """Open a target's connection now; the reason it failed, or None."""
        try:
            self.connections.executor(target).connect()
        except RunbookError as exc:
            return self.recorder.redact.text(str(exc))
        return None


def _started(planned: PlannedStep, host: str) -> dict[str, Any]:
    """step.started fields that differ: a fan-out host names itself and its group."""
    if planned.group:
        return {"host": host, "data": {"group": planned.target, "sync": "batch"}}
    return {"data": {"background": planned.step.background, "commands": planned.commands}}


def _fail(hr: HostResult, exc: BaseException, rec: Recorder) -> None:
    hr.status = "failed"
    hr.error = rec.redact.text(str(exc))
    hr.exc = exc
    if isinstance(exc, CommandError):
        hr.rc = exc.rc


def _too_many(planned: PlannedStep, results: Mapping[str, HostResult]) -> bool:
    return sum(1 for r in results.values() if r.status == "failed") > planned.max_fail
