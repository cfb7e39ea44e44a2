"""What an action may ask of the run around it: a small typed protocol, not the engine.

The flow actions and plugins reach background steps, a person and the
findings report through ``ActionContext.runtime``; ``RunRuntime`` is the
engine's implementation, made of the collaborators that own each concern.

An action runs on its own target's executor only. When it must look at another
target of the run (``host.package_drift`` reads the reference host's
packages), ``executor_for(name)`` gives a ``ReadOnlyExecutor``: it runs that
target's read-only actions (probes) and reads its files; a mutating action is
refused, and running a bare command or writing a file is not offered.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from runbook.errors import StepError

if TYPE_CHECKING:
    from runbook.background import BackgroundSteps
    from runbook.connections import Connections
    from runbook.executors.base import Executor, Process
    from runbook.gates import Gates
    from runbook.plugins import Registry
    from runbook.recorder import Recorder


OutputCallback = Callable[[str, str, str, str], None]
"""Called with (step id, target, stream, line) for each line a command prints."""
@dataclass(frozen=True)
class ReadOnlyExecutor:
    """Another target of the run, as an action may use it: probes and file reads only."""

    name: str
    step: str
    _executor: Executor
    _registry: Registry
    timeout: float | None = None

    def probe(self, action: str, args: Mapping[str, Any] | None = None) -> Any:
        """The result of read-only ``action`` run with ``args`` on this target
        (StepError for a mutating or engine-side action)."""
        from runbook.actions import ActionContext, NoOp

        found = self._registry.action(action)
        if found.mutating or found.in_engine:
            raise StepError(f"{action} would change {self.name}: another target is "
                            "read-only to an action (probes only)", step=self.step)
        typed = found.validate_args(dict(args or {}))
        value = found.run(typed, ActionContext(executor=self._executor, step=self.step,
                                               timeout=self.timeout))
        return value.result if isinstance(value, NoOp) else value

    def read_file(self, path: str) -> bytes:
        """A file on this target (CommandError if it cannot be read)."""
        return self._executor.read_file(path)

    def describe(self, argv: list[str]) -> str:
        """How a command would be typed against this target (for messages)."""
        return self._executor.describe(argv)


class Runtime(Protocol):
    """The run, as an action sees it."""

    def background_process(self, step_id: str) -> Process:
        """The process of an earlier background step (StepError if it is not running)."""

    def stop_background(self, step_id: str, grace: float = 5.0) -> Any:
        """End a background step; its final result."""

    def ask(self, step_id: str, message: str) -> bool:
        """Ask a person (audited); False without a terminal unless --yes."""

    def add_finding(self, *, severity: str, title: str, evidence: Any = None,
                    next_step: str | None = None, step: str | None = None) -> None:
        """Record a finding for the run's report."""

    def executor_for(self, target: str, step: str = "") -> ReadOnlyExecutor:
        """Another (single) target of the run, read-only (StepError if there is none)."""


@dataclass
class RunRuntime:
    """The engine's runtime: each call goes to the collaborator that owns it."""

    background: BackgroundSteps
    gates: Gates
    recorder: Recorder
    connections: Connections | None = None
    registry: Registry | None = None
    on_output: OutputCallback | None = None
    """``RunOptions.on_output``: each line foreground commands print (``-vv``)."""

    @property
    def output_tap(self) -> OutputCallback | None:
        """What ``ActionContext.exec`` streams lines to (None: run commands quietly):
        the caller's callback, given each line redacted."""
        callback = self.on_output
        if callback is None:
            return None
        redact = self.recorder.redact.text

        def tap(step: str, target: str, stream: str, line: str) -> None:
            callback(step, target, stream, redact(line))

        return tap

    def background_process(self, step_id: str) -> Process:
        return self.background.process(step_id)

    def stop_background(self, step_id: str, grace: float = 5.0) -> Any:
        return self.background.stop(step_id, grace)

    def ask(self, step_id: str, message: str) -> bool:
        return self.gates.ask(step_id, message)

    def add_finding(self, *, severity: str, title: str, evidence: Any = None,
                    next_step: str | None = None, step: str | None = None) -> None:
        self.recorder.add_finding(severity=severity, title=title, evidence=evidence,
                                  next_step=next_step, step=step)

    def executor_for(self, target: str, step: str = "") -> ReadOnlyExecutor:
        conns, registry = self.connections, self.registry
        if conns is None or registry is None or target not in conns.targets:
            known = ", ".join(sorted(conns.targets)) if conns else "none"
            raise StepError(f"no target {target!r} in this run (targets: {known})", step=step)
        if conns.is_group(target):
            raise StepError(f"target {target!r} is a group; name one of its hosts", step=step)
        return ReadOnlyExecutor(target, step, conns.executor(target), registry)
