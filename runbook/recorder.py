"""One place where a run's state changes are written down.

Each change is sent once, redacted once, to everyone who keeps it: the
journal (``Durable``), the observers (the audit log first, then installed
plugins), the typed ``RunResult`` and the template context later steps read.
No other part of the engine talks to observers or fills the context directly.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runbook.actions import NoOp
from runbook.durable import Durable
from runbook.errors import AuditError, CommandError, StepError
from runbook.events import Event, ObserverDispatch, RunInfo
from runbook.models import Playbook, Step
from runbook.redact import Redactor
from runbook.result import Finding, RunResult, StepResult

if TYPE_CHECKING:
    from runbook.options import RunOptions
    from runbook.state import AuditSink, StateBackend


class UntilNotMet(StepError):
    """A step's ``until`` never held; ``result`` is the last value it saw."""

    def __init__(self, message: str, *, step: str, result: Any) -> None:
        super().__init__(message, step=step)
        self.result = result


class Recorder:
    """The run's journal, observers, result and template context, written together."""

    def __init__(self, *, info: RunInfo, result: RunResult, ctx: dict[str, Any],
                 durable: Durable, redact: Redactor, observers: list[object],
                 plugin_hook: Any) -> None:
        self.info = info
        self.result = result
        self.ctx = ctx
        self.durable = durable
        self.redact = redact
        self.observers = observers
        self._dispatch = ObserverDispatch(observers)
        self._hook = plugin_hook
        self.audit: object | None = None
        """The audit log's observer (switched off if its disk refuses a write)."""

    @classmethod
    def for_run(cls, playbook: Playbook, options: RunOptions, *, result: RunResult,
                ctx: dict[str, Any], redact: Redactor, plugin_hook: Any) -> Recorder:
        """The recorder of a run: its audit log (first observer) and journal, as asked."""
        observers = list(options.observers)
        audit: object | None = None
        audit_path: Path | None = None
        backend = _backend(options)
        if options.audit:
            from runbook.audit import AuditPlugin, default_audit_path

            audit_path = Path(options.audit_log or default_audit_path())
            result.audit_log = backend.shown if options.state_url else str(audit_path)
            observers.insert(0, AuditPlugin(_sink(backend, options, audit_path), redact.text))
            audit = observers[0]
        info = RunInfo(
            run_id=result.run_id, playbook=playbook.name, playbook_sha256=playbook.sha256,
            playbook_path=playbook.origin, actor=result.actor, reason=options.reason,
            params=result.params, dry_run=options.dry_run,
            audit_path=result.audit_log if audit_path else None,
            sandbox=str(Path(options.sandbox).resolve()) if options.sandbox else None,
            selection=options.selection(),
            notify=playbook.notify.model_dump(exclude_unset=True) if playbook.notify else None)
        result.started_at = info.started_at
        journal = backend.journal() if options.journal and not options.dry_run else None
        recorder = cls(info=info, result=result, ctx=ctx,
                       durable=Durable(journal, result.run_id), redact=redact,
                       observers=observers, plugin_hook=plugin_hook)
        recorder.audit = audit
        return recorder

    # --- observers -----------------------------------------------------------------

    def emit(self, hook: str, event: Event | None = None) -> None:
        """Tell every observer: this run's own (the audit log first), then installed plugins.

        The run's observers are called directly, not through pluggy's ``call_extra``,
        which rebuilds and re-inspects every extra implementation on each call (a
        third of a millisecond per event, twice per step)."""
        kwargs: dict[str, Any] = {"run": self.info}
        if event is not None:
            event.argv = self.redact.argv(event.argv) if event.argv else event.argv
            event.message = self.redact.text(event.message) if event.message else event.message
            event.data = self.redact(event.data)
            kwargs["event"] = event
        for method, names in self._dispatch.get(hook):
            try:
                method(**{n: kwargs[n] for n in names})
            except (OSError, AuditError) as exc:
                if self.audit is None or getattr(method, "__self__", None) is not self.audit:
                    raise
                self._audit_lost(exc)
        getattr(self._hook, hook)(**kwargs)

    def _audit_lost(self, exc: OSError | AuditError) -> None:
        """The audit log's disk refused a write (full, say). Nothing more may run
        unaudited: raise, so the step about to start does not; the rollback that
        follows runs without the audit log and is recorded in the journal."""
        self.observers.remove(self.audit)
        self.audit = None
        self._dispatch = ObserverDispatch(self.observers)
        raise AuditError(f"the audit log could not be written ({exc}); "
                         "stopped before running anything more, rolling back (recorded in "
                         "the journal)") from exc

    def sync(self) -> None:
        """Make everything recorded so far durable (journal commit, audit fsync)."""
        if self.durable.journal is not None:
            self.durable.journal.flush()
        for observer in list(self.observers):
            sync = getattr(observer, "sync", None)
            if callable(sync):
                try:
                    sync()
                except (OSError, AuditError) as exc:
                    if observer is not self.audit:
                        raise
                    self._audit_lost(exc)

    def gate_answered(self, step: str, status: str, message: str, **data: Any) -> None:
        self.emit("runbook_gate_answered", Event(
            "gate.answered", step=step, status=status, message=message, data=data))

    def run_finished(self) -> None:
        res = self.result
        self.emit("runbook_run_finished", Event(
            "run.finished", status=res.outcome, rc=res.exit_code, duration_ms=res.duration_ms,
            message=res.error, data={"findings": [asdict(f) for f in res.findings],
                                     "manual": res.manual}))

    # --- steps ---------------------------------------------------------------------

    def step_added(self, res: StepResult) -> StepResult:
        self.result.steps.append(res)
        return res

    def step_started(self, res: StepResult, *, background: bool) -> None:
        self.emit("runbook_step_started", Event(
            "step.started", step=res.id, action=res.action, target=res.target,
            argv=_first(res.argv), mutating=res.mutating,
            data={"background": background, "commands": res.commands}))

    def step_finished(self, res: StepResult) -> None:
        self.emit("runbook_step_finished", Event(
            "step.finished", step=res.id, action=res.action, target=res.target,
            argv=_first(res.argv), status=res.status, rc=res.rc, duration_ms=res.duration_ms,
            mutating=res.mutating, message=res.error,
            data={"when": res.when, "gate": res.gate, "rollback": res.rollback,
                  "attempts": res.attempts, **({"hosts": len(res.hosts)} if res.hosts else {})},
            result=res.result))

    def context(self, step_id: str, **entry: Any) -> None:
        """What later templates see as ``steps.<id>``."""
        self.ctx["steps"][step_id] = entry

    def store(self, step: Step, res: StepResult, value: Any) -> None:
        """A step's value: into its result (redacted), the context and its register."""
        if isinstance(value, NoOp):
            res.result = self.redact(capped({"noop": value.reason, "result": value.result}))
            value = value.result
        else:
            res.result = self.redact(capped(value))
        if isinstance(value, dict) and "rc" in value:
            res.rc = value.get("rc")
        self.context(step.id, status=res.status, result=value, rc=res.rc,
                     stdout=value.get("stdout") if isinstance(value, dict) else None)
        if step.register_as:
            self.ctx[step.register_as] = value

    def failure(self, res: StepResult, exc: BaseException) -> None:
        """A step that did not finish: ``failed``, or ``interrupted`` (Ctrl-C, SIGTERM:
        the operator stopped it, the step itself did not fail)."""
        interrupted = isinstance(exc, KeyboardInterrupt)
        res.status = "interrupted" if interrupted else "failed"
        res.error = "interrupted" if interrupted else self.redact.text(str(exc))
        if isinstance(exc, CommandError):
            res.rc = exc.rc
        if isinstance(exc, UntilNotMet):
            res.result = self.redact(capped(exc.result))

    # --- findings ------------------------------------------------------------------

    def add_finding(self, *, severity: str, title: str, evidence: Any = None,
                    next_step: str | None = None, step: str | None = None) -> None:
        self.result.findings.append(Finding(severity, self.redact.text(title),
                                            self.redact(evidence),
                                            self.redact.text(next_step) if next_step else None,
                                            step))


STORED_TEXT = 64_000
"""Characters of one text value (a command's stdout, say) that the result, the journal
and ``--json`` keep: the first and last halves, with what was left out stated.
Templates of later steps still see the whole value."""


def capped(value: Any, limit: int = STORED_TEXT) -> Any:
    """value with every long string cut to its head and tail."""
    if isinstance(value, str) and len(value) > limit:
        half = limit // 2
        return (f"{value[:half]}\n[... {len(value) - 2 * half} characters not stored: "
                f"stored output is capped at {limit} characters ...]\n{value[-half:]}")
    if isinstance(value, dict):
        return {k: capped(v, limit) for k, v in value.items()}
    if isinstance(value, list):
        return [capped(v, limit) for v in value]
    return value


def _first(argv: list[list[str]]) -> list[str] | None:
    """The audited argv: the step's command (the first, when it runs several)."""
    return list(argv[0]) if argv else None


def _sink(backend: StateBackend, options: RunOptions, path: Path) -> AuditSink:
    """The backend's audit sink; with a state database and an explicit ``--audit-log``
    FILE, mirrored to that file as well."""
    sink = backend.audit_log(path)
    if options.state_url and options.audit_log and "://" not in str(options.audit_log):
        from runbook.audit import AuditLog
        from runbook.state.mirror import MirroredAudit

        return MirroredAudit(sink, AuditLog(path))
    return sink


def _backend(options: RunOptions) -> StateBackend:
    """Where the run is kept: the local journal and audit file, or ``--state URL``."""
    from runbook.state import open_state, state_url

    options.state_url = state_url(options.state_url)
    return open_state(options.state_url, journal_path=Path(options.journal_path)
                      if options.journal_path else None)
