"""What an action may ask of the run around it: a small typed protocol, not the engine.

The flow actions and plugins reach background steps, a person and the
findings report through ``ActionContext.runtime``; ``RunRuntime`` is the
engine's implementation, made of the collaborators that own each concern.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from runbook.background import BackgroundSteps
    from runbook.executors.base import Process
    from runbook.gates import Gates
    from runbook.recorder import Recorder


OutputCallback = Callable[[str, str, str, str], None]
"""Called with (step id, target, stream, line) for each line a command prints."""


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


@dataclass
class RunRuntime:
    """The engine's runtime: each call goes to the collaborator that owns it."""

    background: BackgroundSteps
    gates: Gates
    recorder: Recorder
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
