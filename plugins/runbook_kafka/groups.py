"""What every consumer-group action shares: the group's arguments and one describe.

Kept apart so the reset and the window-watching actions use the same argv and
parsing as ``kafka.group_describe`` without importing each other.
"""

from __future__ import annotations

from pydantic import Field

from runbook.actions import ActionContext, Args, parse_or_fail
from runbook_kafka.parse import GroupDescription, parse_group_describe


class GroupArgs(Args):
    bootstrap_server: str = Field(description="host:port of a broker")
    group: str = Field(description="the consumer group")
    tool: str = Field(default="kafka-consumer-groups.sh", description="the script")


def describe_argv(args: GroupArgs) -> list[str]:
    return [args.tool, "--bootstrap-server", args.bootstrap_server, "--describe",
            "--group", args.group]


def describe(args: GroupArgs, ctx: ActionContext) -> GroupDescription:
    res = ctx.exec(describe_argv(args))
    return parse_or_fail(res, parse_group_describe, res.stdout, res.stderr, args.group)
