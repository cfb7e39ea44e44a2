"""Kafka actions: describe a consumer group, consume in the background, measure whether a
group is committing offsets at all; the reset (``reset``) and the window-watching actions
(``watch``) live in their own modules and are listed here.

They drive Kafka's own scripts, `kafka-consumer-groups.sh` and
`kafka-console-consumer.sh`, wherever the step's target runs them (in the
examples: inside a broker pod through a `kubectl-exec` target); `tool` names
the script when it is not on PATH under its usual name (`bin/...` in the
Strimzi image).
"""

from __future__ import annotations

import time
from typing import Any

from pydantic import Field

from runbook.actions import Action, ActionContext, Args
from runbook.executors.base import CommandResult
from runbook.models import Duration
from runbook_kafka.groups import GroupArgs, describe, describe_argv
from runbook_kafka.parse import parse_console_consumer
from runbook_kafka.reset import ResetOffsets, ResetOffsetsPreview
from runbook_kafka.watch import LagEvaluation, MembershipChurn

_PARTITIONS = ("[{topic, partition, current_offset, log_end_offset, lag, consumer_id, host, "
               "client_id}]")


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
        return [describe_argv(args)]

    def run(self, args: GroupArgs, ctx: ActionContext) -> Any:
        return describe(args, ctx)


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
        return [describe_argv(args), describe_argv(args)]

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


ACTIONS = (GroupDescribe, ResetOffsetsPreview, ResetOffsets, ConsoleConsume, CommitProgress,
           LagEvaluation, MembershipChurn)
