"""The built-in ``flow`` actions: waiting, stopping, pausing, people and findings.

They run inside the engine rather than on a target: they watch background
steps, ask a person, or record what a diagnosis concluded. They run no
command; a dry-run lists them with their plan line instead of a command.
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
    """Plan line: `wait until consume prints nothing for 1m`

    It returns when the output has been quiet for `quiet_for`, or when the
    background command has ended. The limit is the smaller of `max_wait` and the
    step's `timeout` (or `defaults.timeout`); with neither it waits without
    limit. Past the limit the step fails:
    `consume was still printing after 4s (never quiet for 1m; 48 lines so far)`.
    """

    name = "flow.wait_quiet"
    summary = "wait until a background step's output has been silent for a while"
    Args = WaitQuietArgs
    in_engine = True
    result_fields = {"quiet_for": "seconds quiet", "lines": "output lines so far",
                     "ended": "whether the command had ended"}

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
    """Plan line: `stop background step consume`

    SIGTERM goes to the process group, then SIGKILL after `grace`. The result
    is the background action's result for its whole output (for
    `kafka.console_consume`: `{messages, timed_out, last}`); it also becomes
    `steps.<background step>.result`. Fails if the command had already exited
    with a non-zero status by itself.
    """

    name = "flow.stop"
    summary = "end a background step (SIGTERM, then SIGKILL after grace)"
    Args = StopArgs
    in_engine = True
    result_fields = {"...": "the background action's own result fields"}

    def describe(self, args: StopArgs) -> str:
        return f"stop background step {args.step}"

    def run(self, args: StopArgs, ctx: ActionContext) -> Any:
        return ctx.stop_background(args.step, args.grace)


class SleepArgs(Args):
    duration: Duration = Field(description="how long to pause")


class Sleep(Action[SleepArgs]):
    """Plan line: `sleep 30s`"""

    name = "flow.sleep"
    summary = "pause for a duration"
    Args = SleepArgs
    in_engine = True
    result_fields = {"slept": "seconds"}

    def describe(self, args: SleepArgs) -> str:
        return f"sleep {format_duration(args.duration)}"

    def run(self, args: SleepArgs, ctx: ActionContext) -> Any:
        time.sleep(args.duration)
        return {"slept": args.duration}


class ManualArgs(Args):
    instructions: str = Field(description="what the person must do")
    commands: list[str] = Field(default_factory=list, description="shown as $ command lines")


class Manual(Action[ManualArgs]):
    """Plan line: `manual: INSTRUCTIONS`, followed by a `gate:` line.

    On a terminal it prints the instructions and commands, then `Done? [y/N]`.
    "No", or no terminal, declines: the run rolls back and ends `declined`
    (exit 4). `--yes` answers "done" without asking.
    """

    name = "flow.manual"
    summary = "show instructions for something a person must do; always gated"
    Args = ManualArgs
    in_engine = True
    always_gated = True
    result_fields = {"done": "true"}

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
    title: str = Field(description="what was found")
    evidence: Any = Field(default=None, description="what shows it (any value)")
    next: str | None = Field(default=None, description="the next step to take")


class Finding(Action[FindingArgs]):
    """Plan line: `finding [warning] TITLE`. A run's findings are printed as a
    report at its end, listed in `--json` and written to the audit log's
    `run.finished` event (see [findings](guide.md#findings)).
    """

    name = "flow.finding"
    summary = "record a finding (severity, title, evidence, next step)"
    Args = FindingArgs
    in_engine = True
    result_fields = {"severity": "as given", "title": "as given"}

    def describe(self, args: FindingArgs) -> str:
        return f"finding [{args.severity}] {args.title}"

    def run(self, args: FindingArgs, ctx: ActionContext) -> Any:
        ctx.finding(args.severity, args.title, args.evidence, args.next)
        return {"severity": args.severity, "title": args.title}


class FailArgs(Args):
    message: str = Field(description="why the run stops")


class Fail(Action[FailArgs]):
    """Plan line: `fail: MESSAGE`. The step fails with the message, and its
    `on_fail` decides what happens (by default: roll back).

    ```yaml
      - id: give-up
        when: not checks.backlog.ok      # a precondition with id: backlog and on_fail: warn
        action: flow.fail
        with: {message: "no backlog; use cfs-backoff-reset instead"}
    ```
    """

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
