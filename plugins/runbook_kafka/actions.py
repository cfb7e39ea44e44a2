"""Kafka actions: describe a consumer group, reset its offsets, consume in the background,
and measure whether a group is committing offsets at all.

They drive Kafka's own scripts, `kafka-consumer-groups.sh` and
`kafka-console-consumer.sh`, wherever the step's target runs them (in the
examples: inside a broker pod through a `kubectl-exec` target); `tool` names
the script when it is not on PATH under its usual name (`bin/...` in the
Strimzi image).
"""

from __future__ import annotations

import time
from typing import Any, Literal

from pydantic import Field, model_validator

from runbook.actions import Action, ActionContext, Args, parse_or_fail
from runbook.errors import StepError
from runbook.executors.base import CommandResult
from runbook.models import Duration
from runbook_kafka.parse import (
    GroupDescription,
    parse_console_consumer,
    parse_group_describe,
    parse_reset_offsets,
)


class GroupArgs(Args):
    bootstrap_server: str = Field(description="host:port of a broker")
    group: str = Field(description="the consumer group")
    tool: str = Field(default="kafka-consumer-groups.sh", description="the script")


def _describe_argv(args: GroupArgs) -> list[str]:
    return [args.tool, "--bootstrap-server", args.bootstrap_server, "--describe",
            "--group", args.group]


def describe(args: GroupArgs, ctx: ActionContext) -> GroupDescription:
    res = ctx.exec(_describe_argv(args))
    return parse_or_fail(res, parse_group_describe, res.stdout, res.stderr, args.group)


_PARTITIONS = ("[{topic, partition, current_offset, log_end_offset, lag, consumer_id, host, "
               "client_id}]")
_RESET_RESULT = {
    "group": "the group",
    "partitions": "[{topic, partition, new_offset}]",
    "dry_run": "whether the tool only previewed the reset",
    "error": "the tool's `Error: ...` line, if any",
}


class GroupDescribe(Action[GroupArgs]):
    """argv: `TOOL --bootstrap-server SERVER --describe --group GROUP`"""

    name = "kafka.group_describe"
    summary = "a consumer group's offsets, lag and members ({active, members, total_lag, ...})"
    Args = GroupArgs
    result_fields = {
        "group": "the group",
        "active": "false when the tool says the group has no active members (or does not "
                  "exist), or no row names a consumer",
        "members": "the number of distinct consumer ids",
        "total_lag": "the sum of the known lags",
        "state_message": "the tool's state line, if any",
        "partitions": _PARTITIONS,
    }

    def commands(self, args: GroupArgs) -> list[list[str]]:
        return [_describe_argv(args)]

    def run(self, args: GroupArgs, ctx: ActionContext) -> Any:
        return describe(args, ctx)


class ResetArgs(GroupArgs):
    topic: str = Field(description="the topic (TOPIC or TOPIC:PARTITION,...)")
    to: Literal["earliest", "latest", "current", "offset", "datetime", "shift-by"] = Field(
        default="latest", description="where to move the offsets")
    value: str | None = Field(default=None, description="the offset, datetime or shift: "
                                                        "required for offset, datetime, "
                                                        "shift-by; refused for the others")

    @model_validator(mode="after")
    def _value_when_needed(self) -> ResetArgs:
        needs = self.to in ("offset", "datetime", "shift-by")
        if needs and self.value is None:
            raise ValueError(f"to: {self.to} needs a value")
        if not needs and self.value is not None:
            raise ValueError(f"to: {self.to} takes no value")
        return self

    def argv(self, mode: str) -> list[str]:
        spec = [f"--to-{self.to}"] + ([self.value] if self.value is not None else [])
        return [self.tool, "--bootstrap-server", self.bootstrap_server, "--group", self.group,
                "--reset-offsets", *spec, "--topic", self.topic, mode]


class ResetOffsetsPreview(Action[ResetArgs]):
    """argv: `TOOL --bootstrap-server SERVER --group GROUP --reset-offsets --to-TO [VALUE]
    --topic TOPIC --dry-run`

    A non-zero exit is a result.
    """

    name = "kafka.reset_offsets_preview"
    summary = "the new offsets a reset would set (--dry-run); changes nothing"
    Args = ResetArgs
    result_fields = _RESET_RESULT

    def commands(self, args: ResetArgs) -> list[list[str]]:
        return [args.argv("--dry-run")]

    def run(self, args: ResetArgs, ctx: ActionContext) -> Any:
        res = ctx.exec(args.argv("--dry-run"), check=False)
        return parse_or_fail(res, parse_reset_offsets, res.stdout, res.stderr)


class ResetOffsets(Action[ResetArgs]):
    """argv (two commands, both shown in plans):

    ```
    TOOL --bootstrap-server SERVER --describe --group GROUP
    TOOL --bootstrap-server SERVER --group GROUP --reset-offsets --to-TO [VALUE] \\
         --topic TOPIC --execute
    ```

    It describes the group first and refuses while the group is active:
    `group 'cfs-operator' has 1 active member(s); stop its consumers before
    resetting offsets`. It fails with `reset refused: ...` when the tool prints
    an error or exits non-zero. The result is that of the preview.
    """

    name = "kafka.reset_offsets"
    summary = "reset a group's offsets (--execute); refused while the group is active"
    Args = ResetArgs
    mutating = True
    result_fields = _RESET_RESULT

    def commands(self, args: ResetArgs) -> list[list[str]]:
        return [_describe_argv(args), args.argv("--execute")]

    def run(self, args: ResetArgs, ctx: ActionContext) -> Any:
        state = describe(args, ctx)
        if state["active"]:
            raise StepError(f"group {args.group!r} has {state['members']} active member(s); "
                            "stop its consumers before resetting offsets", step=ctx.step)
        res = ctx.exec(args.argv("--execute"), check=False)
        plan = parse_or_fail(res, parse_reset_offsets, res.stdout, res.stderr)
        if plan["error"] or res.rc != 0:
            raise StepError(f"reset refused: {plan['error'] or res.stderr.strip()}",
                            step=ctx.step)
        return plan


class ConsumeArgs(Args):
    bootstrap_server: str = Field(description="host:port of a broker")
    topic: str = Field(description="the topic")
    group: str | None = Field(default=None, description="--group; without it the tool uses an "
                                                        "ephemeral group")
    from_beginning: bool = Field(default=False, description="--from-beginning")
    max_messages: int | None = Field(default=None, ge=1, description="--max-messages N")
    timeout_ms: int | None = Field(default=None, ge=1, description="--timeout-ms N")
    tool: str = Field(default="kafka-console-consumer.sh", description="the script")


class ConsoleConsume(Action[ConsumeArgs]):
    """A group member commits offsets, so it is mutating.

    argv: `TOOL --bootstrap-server SERVER --topic TOPIC [--group GROUP] [--from-beginning]
    [--max-messages N] [--timeout-ms N]`

    The result comes at the end, or after `flow.stop` for a background step.
    Typical use: in the background, watched by `flow.wait_quiet` and ended by
    `flow.stop` (see `playbooks/cfs-purge.yaml`).
    """

    name = "kafka.console_consume"
    summary = "consume a topic (in a group, committing offsets); background-capable"
    Args = ConsumeArgs
    mutating = True
    can_background = True
    result_fields = {
        "messages": "from the tool's `Processed a total of N messages` (else the number of "
                    "records)",
        "timed_out": "whether `--timeout-ms` expired",
        "last": "the last 5 records",
    }

    def commands(self, args: ConsumeArgs) -> list[list[str]]:
        argv = [args.tool, "--bootstrap-server", args.bootstrap_server, "--topic", args.topic]
        if args.group:
            argv += ["--group", args.group]
        if args.from_beginning:
            argv.append("--from-beginning")
        if args.max_messages is not None:
            argv += ["--max-messages", str(args.max_messages)]
        if args.timeout_ms is not None:
            argv += ["--timeout-ms", str(args.timeout_ms)]
        return [argv]

    def parse(self, result: CommandResult) -> Any:
        consumed = parse_console_consumer(result.stdout, result.stderr)
        return {"messages": consumed["messages"], "timed_out": consumed["timed_out"],
                "last": consumed["records"][-5:]}


class ProgressArgs(GroupArgs):
    interval: Duration = Field(default=10.0, description="how long to watch")


class CommitProgress(Action[ProgressArgs]):
    """argv (two commands, `interval` apart):
    `TOOL --bootstrap-server SERVER --describe --group GROUP`, twice.
    """

    name = "kafka.commit_progress"
    summary = "whether a group commits offsets: describe, wait, describe again"
    Args = ProgressArgs
    waits = True
    result_fields = {
        "committed": "the sum of offset increases per partition",
        "progressing": "`committed > 0`",
        "lag_before": "total lag at the first describe",
        "lag_after": "total lag at the second describe",
        "active": "whether the group has members (second describe)",
        "members": "the number of members (second describe)",
        "interval": "the seconds waited",
    }

    def commands(self, args: ProgressArgs) -> list[list[str]]:
        return [_describe_argv(args), _describe_argv(args)]

    def run(self, args: ProgressArgs, ctx: ActionContext) -> Any:
        before = describe(args, ctx)
        time.sleep(args.interval)
        after = describe(args, ctx)
        old = {(p["topic"], p["partition"]): p["current_offset"] for p in before["partitions"]}
        committed = 0
        for p in after["partitions"]:
            prev = old.get((p["topic"], p["partition"]))
            if prev is not None and p["current_offset"] is not None:
                committed += max(0, p["current_offset"] - prev)
        return {"committed": committed, "progressing": committed > 0,
                "lag_before": before["total_lag"], "lag_after": after["total_lag"],
                "active": after["active"], "members": after["members"],
                "interval": args.interval}


ACTIONS = (GroupDescribe, ResetOffsetsPreview, ResetOffsets, ConsoleConsume, CommitProgress)
