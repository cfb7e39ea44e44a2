"""Parsers for the Kafka command-line tools (see /work/shared/formats/kafka-*.md).

Pure functions over captured stdout/stderr. The tools print whitespace-aligned
tables whose column widths depend on the data, so tables are split by their
header words (``runbook.parsing.table_rows``), never by position. Malformed
output raises ``runbook.parsing.ParseError``.
"""

from __future__ import annotations

import re
from typing import TypedDict

from runbook.parsing import (
    none_if_dash,
    parse_errors,
    split_lines,
    table_rows,
    to_int,
    to_int_or_none,
)
from runbook.samples import OutputParser

DESCRIBE_COLUMNS = ("TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG",
                    "CONSUMER-ID", "HOST", "CLIENT-ID")
RESET_COLUMNS = ("TOPIC", "PARTITION", "NEW-OFFSET")
DRY_RUN_WARNING = "WARN: No action will be performed as the --execute option is missing."

_GROUP_STATE = re.compile(
    r"(?:(?:Warning|Error): )?Consumer group '(?P<group>[^']*)' "
    r"(?P<state>has no active members|is rebalancing|does not exist)\."
)
_INACTIVE_STATES = ("has no active members", "does not exist")
_GROUP_IN_ERROR = re.compile(r"group '(?P<group>[^']*)'")
_PROCESSED = re.compile(r"(?:\^C)?Processed a total of (?P<count>[0-9]+) messages")
_TIMEOUT_EXCEPTION = re.compile(r"(?:[A-Za-z_][\w$]*\.)+TimeoutException(?::.*)?")


class PartitionOffsets(TypedDict):
    """One row of ``--describe``; ``None`` where the tool printed ``-``."""

    topic: str
    partition: int
    current_offset: int | None
    log_end_offset: int | None
    lag: int | None
    consumer_id: str | None
    host: str | None
    client_id: str | None


class GroupDescription(TypedDict):
    """A consumer group as ``kafka-consumer-groups.sh --describe`` shows it."""

    group: str | None
    active: bool
    members: int
    partitions: list[PartitionOffsets]
    total_lag: int
    state_message: str | None


class NewOffset(TypedDict):
    """One row of the ``--reset-offsets`` plan."""

    topic: str
    partition: int
    new_offset: int


class ResetPlan(TypedDict):
    """The offsets ``--reset-offsets`` set (or, in a dry run, would set)."""

    group: str | None
    partitions: list[NewOffset]
    dry_run: bool
    error: str | None


class Consumed(TypedDict):
    """What ``kafka-console-consumer.sh`` consumed before it exited."""

    messages: int
    records: list[str]
    timed_out: bool


def parse_group_describe(stdout: str, stderr: str = "",
                         group: str | None = None) -> GroupDescription:
    """Offsets, lag and membership of one consumer group from ``--describe``.

    Handles the current layout (GROUP column, widths that grow with the data),
    the pre-2.0 layout (a ``Note:`` line, no GROUP column, a ``-`` row for a
    member without partitions: counted as a member, not listed as a partition)
    and output with several groups (``--all-groups``): the group named
    ``group`` is returned, else the first. ``active`` is False when the tool
    says the group has no active members (or does not exist) or no row names a
    consumer. The state messages are looked for on both streams, so output
    captured from a terminal with the streams merged parses the same.
    """
    with parse_errors("kafka-consumer-groups.sh --describe", stdout or stderr):
        states = _group_states(stdout, stderr)
        rows = table_rows(stdout, DESCRIBE_COLUMNS)
        if rows is None and not states:
            raise ValueError(f"no consumer group table (header {' '.join(DESCRIBE_COLUMNS)})")
        by_group: dict[str | None, list[dict[str, str]]] = {}
        for row in rows or []:
            by_group.setdefault(row.get("GROUP", group), []).append(row)
        chosen = _chosen_group(group, list(by_group) + [n for n in states if n not in by_group])
        partitions, consumers = _partitions(by_group.get(chosen, []))
        state = states.get(chosen) if chosen is not None else next(iter(states.values()), None)
        inactive = state is not None and state[1] in _INACTIVE_STATES
        return {
            "group": chosen,
            "active": bool(consumers) and not inactive,
            "members": len(consumers),
            "partitions": partitions,
            "total_lag": sum(p["lag"] for p in partitions if p["lag"] is not None),
            "state_message": state[0] if state else None,
        }


def _group_states(stdout: str, stderr: str) -> dict[str, tuple[str, str]]:
    """group -> (the state line, the state) from either stream, first mention wins."""
    states: dict[str, tuple[str, str]] = {}
    for line in split_lines(stderr) + split_lines(stdout):
        found = _GROUP_STATE.fullmatch(line.strip())
        if found:
            states.setdefault(found["group"], (line.strip(), found["state"]))
    return states


def _chosen_group(group: str | None, names: list[str | None]) -> str | None:
    """The group asked for (it must be in the output), else the first one shown."""
    if group is not None and group not in names:
        raise ValueError(f"group {group!r} is not in the output "
                         f"(found {', '.join(repr(n) for n in names) or 'none'})")
    return group if group is not None else (names[0] if names else None)


def _partitions(rows: list[dict[str, str]]) -> tuple[list[PartitionOffsets], list[str]]:
    """The partitions of a group's rows, and its distinct consumer ids in order."""
    partitions: list[PartitionOffsets] = []
    consumers: list[str] = []
    for row in rows:
        consumer = none_if_dash(row["CONSUMER-ID"])
        if consumer is not None and consumer not in consumers:
            consumers.append(consumer)
        partition = _partition(row, consumer)
        if partition is not None:
            partitions.append(partition)
    return partitions, consumers


def _partition(row: dict[str, str], consumer: str | None) -> PartitionOffsets | None:
    topic = none_if_dash(row["TOPIC"])
    partition = to_int_or_none(row["PARTITION"])
    if topic is None and partition is None:
        return None  # legacy layout: a member without any assigned partition
    if topic is None or partition is None:
        raise ValueError(f"row without topic or partition: {row}")
    return {
        "topic": topic,
        "partition": partition,
        "current_offset": to_int_or_none(row["CURRENT-OFFSET"]),
        "log_end_offset": to_int_or_none(row["LOG-END-OFFSET"]),
        "lag": to_int_or_none(row["LAG"]),
        "consumer_id": consumer,
        "host": none_if_dash(row["HOST"]),
        "client_id": none_if_dash(row["CLIENT-ID"]),
    }


def parse_reset_offsets(stdout: str, stderr: str) -> ResetPlan:
    """The plan table of ``--reset-offsets``, whether it was a dry run, and the refusal.

    ``dry_run`` is True only when the tool warned that ``--execute`` is missing;
    an explicit ``--dry-run`` prints nothing that tells it apart from
    ``--execute``, so the caller knows that from its own arguments. ``error``
    is the ``Error: ...`` line (e.g. the group is still active: the header is
    then printed without rows).
    """
    with parse_errors("kafka-consumer-groups.sh --reset-offsets", stdout or stderr):
        lines = [line.strip() for line in split_lines(stdout) + split_lines(stderr)]
        error = next((line for line in lines if line.startswith("Error: ")), None)
        dry_run = any(line.startswith(DRY_RUN_WARNING) for line in lines)
        rows = table_rows(stdout, RESET_COLUMNS)
        if rows is None and error is None:
            raise ValueError(f"no reset plan table (header {' '.join(RESET_COLUMNS)})")
        rows = rows or []
        group = _reset_group(rows, error)
        partitions: list[NewOffset] = [
            {"topic": row["TOPIC"], "partition": to_int(row["PARTITION"]),
             "new_offset": to_int(row["NEW-OFFSET"])}
            for row in rows
        ]
        return {"group": group, "partitions": partitions, "dry_run": dry_run, "error": error}


def _reset_group(rows: list[dict[str, str]], error: str | None) -> str | None:
    """The group of the plan's rows, else the one the error names."""
    group = next((row["GROUP"] for row in rows if "GROUP" in row), None)
    if group is None and error is not None:
        named = _GROUP_IN_ERROR.search(error)
        group = named["group"] if named else None
    return group


def parse_console_consumer(stdout: str, stderr: str) -> Consumed:
    """Records printed by ``kafka-console-consumer.sh`` and its exit summary.

    ``records`` are the stdout lines (values may be empty or contain spaces).
    ``messages`` comes from ``Processed a total of N messages`` (also after a
    terminal's ``^C``), which stays right when a value spans several lines; it
    falls back to the number of records. When stderr is empty the streams are
    taken as merged (a terminal capture): a final summary line is then removed
    from the records and the timeout exception is looked for on stdout.
    ``timed_out`` means ``--timeout-ms`` expired (a ``...TimeoutException`` line).
    """
    records = split_lines(stdout)
    merged = not stderr.strip()
    diagnostics = records if merged else split_lines(stderr)
    messages: int | None = None
    for line in split_lines(stderr):
        found = _PROCESSED.fullmatch(line.strip())
        if found:
            messages = int(found["count"])
    if messages is None and merged and records:
        found = _PROCESSED.fullmatch(records[-1].strip())
        if found:
            messages = int(found["count"])
            records = records[:-1]
    timed_out = any(_TIMEOUT_EXCEPTION.fullmatch(line.strip()) for line in diagnostics)
    return {
        "messages": len(records) if messages is None else messages,
        "records": records,
        "timed_out": timed_out,
    }


# --- the parsers as declared to runbook_parsers(), each tested on its samples folder ----------

def _describe_sample(stdout: str, stderr: str, rc: int,
                     group: str | None = None) -> GroupDescription:
    return parse_group_describe(stdout, stderr, group=group)


def _reset_sample(stdout: str, stderr: str, rc: int) -> ResetPlan:
    return parse_reset_offsets(stdout, stderr)


def _consume_sample(stdout: str, stderr: str, rc: int) -> Consumed:
    return parse_console_consumer(stdout, stderr)


PARSERS = {
    "kafka-consumer-groups-describe": OutputParser(_describe_sample),
    "kafka-consumer-groups-reset-offsets": OutputParser(_reset_sample),
    "kafka-console-consumer": OutputParser(_consume_sample),
}


def parse_export(stdout: str, stderr: str = "") -> ResetPlan:
    """``--reset-offsets --export``: ``topic,partition,offset`` rows (a ``group,`` first
    cell when several groups are reset), or the tool's ``Error: ...`` line."""
    with parse_errors("kafka-consumer-groups.sh --reset-offsets --export", stdout or stderr):
        lines = [line.strip() for line in split_lines(stdout) + split_lines(stderr)]
        error = next((line for line in lines if line.startswith("Error: ")), None)
        partitions: list[NewOffset] = []
        group = None
        for line in split_lines(stdout):
            cells = line.strip().split(",")
            if len(cells) not in (3, 4) or line.startswith(("Error: ", "GROUP ")):
                continue
            if len(cells) == 4:
                group = cells[0]
            partitions.append({"topic": cells[-3], "partition": to_int(cells[-2]),
                               "new_offset": to_int(cells[-1])})
        dry_run = any(line.startswith(DRY_RUN_WARNING) for line in lines)
        return {"group": group, "partitions": partitions, "dry_run": dry_run, "error": error}
