"""Background steps: commands that keep running while later steps run.

A later step finds one by its step id (``flow.wait_quiet``), or stops it
(``flow.stop``); whatever is still running when the run ends is stopped. A
resumed run kills the process a dead runner left behind.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from runbook.errors import RunbookError, StepError
from runbook.recorder import Recorder, capped

if TYPE_CHECKING:
    from pydantic import BaseModel

    from runbook.actions import Action
    from runbook.executors.base import Process
    from runbook.result import StepResult


@dataclass
class Running:
    process: Process
    action: Action[Any]
    args: BaseModel
    result: StepResult


class BackgroundSteps:
    """The background steps of one run, by step id."""

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder
        self.running: dict[str, Running] = {}

    def add(self, step_id: str, running: Running) -> None:
        self.running[step_id] = running

    def process(self, step_id: str) -> Process:
        try:
            return self.running[step_id].process
        except KeyError:
            raise StepError(f"background step {step_id!r} is not running") from None

    def stop(self, step_id: str, grace: float = 5.0) -> Any:
        """End it (SIGTERM, then SIGKILL after grace) and record its final result."""
        bg = self.running.pop(step_id, None)
        if bg is None:
            raise StepError(f"background step {step_id!r} is not running")
        exited_by_itself = bg.process.poll()
        bg.process.kill(grace)
        final = bg.process.result()
        value = bg.action.finish(bg.args, final)
        rec = self.recorder
        bg.result.status = "ok"
        bg.result.rc = final.rc
        bg.result.result = rec.redact(capped(value))
        rec.durable.step(step_id, "done", rc=final.rc, result=bg.result.result)
        rec.context(step_id, status="ok", result=value, rc=final.rc, stdout=final.stdout)
        if exited_by_itself not in (None, 0):
            bg.result.status = "failed"
            raise StepError(f"background step {step_id!r} had exited with status "
                            f"{exited_by_itself}", step=step_id)
        return value

    def stop_all(self) -> None:
        for step_id in list(self.running):
            with contextlib.suppress(RunbookError):
                self.stop(step_id, grace=2.0)


def kill_orphan(value: Any) -> None:
    """The process group a dead runner's background step left behind, if still there."""
    import signal

    from runbook.procs import pid_alive

    pid = value.get("pid") if isinstance(value, dict) else None
    if isinstance(pid, int) and pid > 1 and pid_alive(pid) and os.getpgid(pid) == pid:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGTERM)
