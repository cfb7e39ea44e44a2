"""Actions that watch a consumer group over a window: Burrow's lag evaluation, churn.

Both sample ``--describe`` ``samples`` times, ``interval`` apart. The lag
evaluation applies ``runbook_kafka.lag`` (Burrow's rules) per partition; the
churn counts how often the group's members and assignment changed.
"""

from __future__ import annotations

import itertools
import time
from typing import Any

from pydantic import Field

from runbook.actions import Action, ActionContext
from runbook.models import Duration
from runbook_kafka import lag
from runbook_kafka.groups import GroupArgs, describe, describe_argv
from runbook_kafka.parse import GroupDescription


class WindowArgs(GroupArgs):
    samples: int = Field(default=10, ge=2, description="describes in the window (Burrow: 10)")
    interval: Duration = Field(default=10.0, description="pause between them")
    topic: str | None = Field(default=None, description="only this topic")


class LagArgs(WindowArgs):
    allowed_lag: int = Field(default=0, ge=0, description="lag that is never a problem")


def sample(args: WindowArgs, ctx: ActionContext) -> list[tuple[float, GroupDescription]]:
    """``samples`` describes ``interval`` apart, each with its time."""
    taken: list[tuple[float, GroupDescription]] = []
    for index in range(args.samples):
        if index:
            time.sleep(args.interval)
        state = describe(args, ctx)
        if args.topic is not None:
            state["partitions"] = [p for p in state["partitions"] if p["topic"] == args.topic]
        taken.append((time.time(), state))
    return taken


def _judged(taken: list[tuple[float, GroupDescription]], topic: str, number: int,
            allowed_lag: int) -> dict[str, Any]:
    """One partition's samples and Burrow's status for them."""
    rows = [next((p for p in s["partitions"] if (p["topic"], p["partition"]) == (topic, number)),
                 None) for _, s in taken]
    committed = [r["current_offset"] if r else None for r in rows]
    log_end = [r["log_end_offset"] if r else None for r in rows]
    window = lag.window_from_samples(committed, log_end, [t for t, _ in taken])
    return {"topic": topic, "partition": number,
            "status": lag.partition_status(window, taken[-1][0], allowed_lag),
            "lag": window[-1].lag if window else None,
            "committed": committed, "log_end": log_end, "complete": len(window) == len(taken)}


def evaluate(taken: list[tuple[float, GroupDescription]], allowed_lag: int) -> dict[str, Any]:
    """Burrow's verdict over sampled describes (the action's result)."""
    keys = sorted({(p["topic"], p["partition"]) for _, s in taken for p in s["partitions"]})
    partitions = [_judged(taken, topic, number, allowed_lag) for topic, number in keys]
    return {
        "status": lag.group_status([p["status"] for p in partitions]),
        "partitions": partitions,
        "unhealthy": [f"{p['topic']}-{p['partition']} {p['status']} (lag {p['lag']})"
                      for p in partitions if p["status"] != "OK"],
        "maxlag": max(partitions, key=lambda p: p["lag"] or 0, default=None),
        "totallag": sum(p["lag"] or 0 for p in partitions),
        "growing": _total(partitions, -1) > _total(partitions, 0),
        "complete": all(p["complete"] for p in partitions),
    }


def _total(partitions: list[dict[str, Any]], sample: int) -> int:
    """The group's lag at one sample (partitions without a commit then count 0)."""
    return sum(max(0, (p["log_end"][sample] or 0) - (p["committed"][sample] or 0))
               for p in partitions if p["committed"][sample] is not None)


class LagEvaluation(Action[LagArgs]):
    """argv: `TOOL --bootstrap-server SERVER --describe --group GROUP`, `samples` times,
    `interval` apart.

    Each partition's window is judged by Burrow's rules, in Burrow's order and
    only while its current lag is above `allowed_lag`: STOP (no new commit for
    longer than the window spans, unless the log end reached the commit),
    REWIND (the offset went back and stayed back), OK (the lag was at or below
    `allowed_lag` somewhere in the window), STALL (the same offset all along),
    WARN (the lag never went down), else OK. The group's status is its worst
    partition, with STOP, STALL and REWIND reported as ERR. A commit's time is
    when its offset first showed in the window.

    ```yaml
    that: result.status == 'OK'
    ```
    """

    name = "kafka.lag_evaluation"
    summary = "Burrow's lag evaluation over a window of describes: OK, WARN or ERR per group"
    Args = LagArgs
    waits = True
    result_fields = {
        "status": "`OK`, `WARN` or `ERR` (the worst partition; STOP/STALL/REWIND are ERR)",
        "partitions": "[{topic, partition, status (OK WARN STOP STALL REWIND), lag, "
                      "committed: [...], log_end: [...], complete}]",
        "unhealthy": "`TOPIC-PARTITION STATUS (lag N)` for every partition not OK",
        "maxlag": "the partition with the largest lag",
        "totallag": "the sum of the partitions' current lag",
        "growing": "the group's total lag is higher at the last sample than at the first",
        "complete": "every partition had a committed offset in every sample",
    }

    def commands(self, args: LagArgs) -> list[list[str]]:
        return [describe_argv(args)] * args.samples

    def run(self, args: LagArgs, ctx: ActionContext) -> Any:
        return evaluate(sample(args, ctx), args.allowed_lag)


def churn(taken: list[tuple[float, GroupDescription]]) -> dict[str, Any]:
    """Members and assignments per sample; a rebalance is a change of the assignment."""
    assignments = [{f"{p['topic']}-{p['partition']}": p["consumer_id"] for p in s["partitions"]}
                   for _, s in taken]
    members = [sorted({m for m in a.values() if m}) for a in assignments]
    rebalances = sum(1 for a, b in itertools.pairwise(assignments) if a != b)
    seen = sorted({m for ids in members for m in ids})
    return {"members": members, "assignments": assignments, "rebalances": rebalances,
            "distinct_members": len(seen), "stable": rebalances == 0}


class MembershipChurn(Action[WindowArgs]):
    """argv: `TOOL --bootstrap-server SERVER --describe --group GROUP`, `samples` times,
    `interval` apart.

    Consumers that crash and rejoin get new member ids and the group
    rebalances: counted here as changes of the partition-to-member assignment
    between samples.
    """

    name = "kafka.membership_churn"
    summary = "member ids and assignments over a window; rebalances counted"
    Args = WindowArgs
    waits = True
    result_fields = {
        "members": "the member ids at each sample",
        "assignments": "at each sample: {TOPIC-PARTITION: member id or null}",
        "rebalances": "how many times the assignment changed",
        "distinct_members": "member ids seen over the window",
        "stable": "`rebalances == 0`",
    }

    def commands(self, args: WindowArgs) -> list[list[str]]:
        return [describe_argv(args)] * args.samples

    def run(self, args: WindowArgs, ctx: ActionContext) -> Any:
        return churn(sample(args, ctx))
