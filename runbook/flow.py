"""The built-in ``flow`` actions: waiting, stopping, pausing, people and findings.

They run inside the engine rather than on a target: they watch background
steps, ask a person, or record what a diagnosis concluded.
"""

from __future__ import annotations

import time
from typing import Any, Literal

from pydantic import Field

from runbook._plugin_markers import hookimpl
from runbook.actions import Action, ActionContext, Args
from runbook.durations import format_duration
from runbook.errors import GateDeclined, StepError
from runbook.models import Duration


class StepRef(Args):
    step: str = Field(description="id of an earlier background step")


class WaitQuietArgs(StepRef):
    quiet_for: Duration = Field(description="how long the output must stay silent")
    max_wait: Duration | None = Field(default=None,
                                      description="give up after this long (else the step's "
                                                  "timeout)")


class WaitQuiet(Action[WaitQuietArgs]):
    name = "flow.wait_quiet"
    summary = "wait until a background step's output has been silent for a while"
    Args = WaitQuietArgs
    in_engine = True

    def describe(self, args: WaitQuietArgs) -> str:
        return f"wait until {args.step} prints nothing for {format_duration(args.quiet_for)}"

    def run(self, args: WaitQuietArgs, ctx: ActionContext) -> Any:
        proc = ctx.background(args.step)
        limit = min(x for x in (ctx.timeout, args.max_wait, float("inf")) if x is not None)
        deadline = time.monotonic() + limit if limit != float("inf") else None
        while True:
            quiet = proc.quiet_for
            if quiet >= args.quiet_for or proc.poll() is not None:
                return {"quiet_for": round(quiet, 3), "lines": proc.output_lines,
                        "ended": proc.poll() is not None}
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                raise StepError(
                    f"{args.step} was still printing after {format_duration(limit)}"
                    f" (never quiet for {format_duration(args.quiet_for)}; "
                    f"{proc.output_lines} lines so far)", step=ctx.step)
            pause = min(args.quiet_for - quiet, 0.2)
            if deadline is not None:
                pause = min(pause, deadline - now)
            time.sleep(max(pause, 0.01))


class StopArgs(StepRef):
    grace: Duration = Field(default=5.0, description="time to exit after SIGTERM")


class Stop(Action[StopArgs]):
    name = "flow.stop"
    summary = "end a background step (SIGTERM, then SIGKILL after grace)"
    Args = StopArgs
    in_engine = True

    def describe(self, args: StopArgs) -> str:
        return f"stop background step {args.step}"

    def run(self, args: StopArgs, ctx: ActionContext) -> Any:
        return ctx.stop_background(args.step, args.grace)


class SleepArgs(Args):
    duration: Duration


class Sleep(Action[SleepArgs]):
    name = "flow.sleep"
    summary = "pause for a duration"
    Args = SleepArgs
    in_engine = True

    def describe(self, args: SleepArgs) -> str:
        return f"sleep {format_duration(args.duration)}"

    def run(self, args: SleepArgs, ctx: ActionContext) -> Any:
        time.sleep(args.duration)
        return {"slept": args.duration}


class ManualArgs(Args):
    instructions: str
    commands: list[str] = Field(default_factory=list)


class Manual(Action[ManualArgs]):
    name = "flow.manual"
    summary = "show instructions for something a person must do; always gated"
    Args = ManualArgs
    in_engine = True
    always_gated = True

    def describe(self, args: ManualArgs) -> str:
        return f"manual: {args.instructions}"

    def run(self, args: ManualArgs, ctx: ActionContext) -> Any:
        text = args.instructions + "".join(f"\n    $ {c}" for c in args.commands)
        if not ctx.confirm(f"{text}\nDone?"):
            raise GateDeclined(f"manual step {ctx.step!r} was not confirmed as done",
                               step=ctx.step)
        return {"done": True}


class FindingArgs(Args):
    severity: Literal["info", "warning", "critical"] = "warning"
    title: str
    evidence: Any = None
    next: str | None = None


class Finding(Action[FindingArgs]):
    name = "flow.finding"
    summary = "record a finding (severity, title, evidence, next step)"
    Args = FindingArgs
    in_engine = True

    def describe(self, args: FindingArgs) -> str:
        return f"finding [{args.severity}] {args.title}"

    def run(self, args: FindingArgs, ctx: ActionContext) -> Any:
        ctx.finding(args.severity, args.title, args.evidence, args.next)
        return {"severity": args.severity, "title": args.title}


class FailArgs(Args):
    message: str


class Fail(Action[FailArgs]):
    name = "flow.fail"
    summary = "stop the run with a message"
    Args = FailArgs
    in_engine = True

    def describe(self, args: FailArgs) -> str:
        return f"fail: {args.message}"

    def run(self, args: FailArgs, ctx: ActionContext) -> Any:
        raise StepError(args.message, step=ctx.step)


@hookimpl
def runbook_actions() -> list[type[Action[Any]]]:
    return [WaitQuiet, Stop, Sleep, Manual, Finding, Fail]
