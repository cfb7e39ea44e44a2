"""Stand-in for ``kafka-consumer-groups.sh``: --list, --describe, --reset-offsets.

Tables follow shared/formats/kafka-consumer-groups-*.md: dynamic widths for
describe, fixed widths with trailing spaces for the reset plan, the
no-active-members line on stderr, and the refusal to reset an active group.
Usage errors print jopt-simple's message and exit 1, like the real script.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from runbook.sim.argv import Parsed
from runbook.sim.model import State
from runbook.sim.store import transaction
from runbook_kafka.sim import kafka, reset_modes
from runbook_kafka.sim.reset_modes import How
from runbook_kafka.sim.usage import kafka_usage as _usage
from runbook_kafka.sim.usage import parse_kafka

FLAGS = {
    "bootstrap-server": True, "describe": False, "list": False, "group": True,
    "all-groups": False, "offsets": False, "verbose": False, "reset-offsets": False,
    "to-earliest": False, "to-latest": False, "to-current": False, "to-offset": True,
    "shift-by": True, "topic": True, "all-topics": False, "dry-run": False, "execute": False,
    "command-config": True, "timeout": True, "help": False,
    # real options this stand-in does not simulate:
    "delete": False, "delete-offsets": False, "members": False, "state": False,
    "to-datetime": True, "by-duration": True, "from-file": True, "export": False,
}
NOT_SIMULATED = ("delete", "delete-offsets", "members", "state")
SCENARIOS = ("to-earliest", "to-latest", "to-current", "to-offset", "shift-by", "to-datetime",
             "by-duration", "from-file")
RESET_FAILS = "reset_fails_midway"
DRY_RUN_WARNING = (
    "WARN: No action will be performed as the --execute option is missing.In a future major "
    "release, the default behavior of this command will be to prompt the user before executing "
    "the reset rather than doing a dry run. You should add the --dry-run option explicitly if "
    "you are scripting this command and want to keep the current default behavior without "
    "prompting.")


def run(directory: Path, argv: list[str]) -> int:
    opts = parse_kafka(argv, FLAGS, NOT_SIMULATED)
    if isinstance(opts, str):
        return _usage(opts)
    if opts.flag("help"):
        print("This tool helps to list all consumer groups, describe a consumer group, "
              "delete consumer group info, or reset consumer group offsets.")
        return 0
    if not opts.has("bootstrap-server"):
        return _usage('Missing required argument "[bootstrap-server]"')
    actions = [a for a in ("list", "describe", "reset-offsets") if opts.has(a)]
    if len(actions) != 1:
        return _usage("Command must include exactly one action: --list, --describe, --delete, "
                      "--reset-offsets, --delete-offsets")
    if actions[0] == "list":
        with transaction(directory) as state:
            names = sorted(state["kafka"]["groups"])
        sys.stdout.write("".join(f"{n}\n" for n in names))
        return 0
    groups = opts.all("group")
    if not groups and not opts.has("all-groups"):
        return _usage(f"Option [{actions[0]}] takes one of these options: [all-groups], [group]")
    if actions[0] == "describe":
        return _describe(directory, groups, opts)
    return _reset(directory, groups, opts)


# -- describe -------------------------------------------------------------------

def _describe(directory: Path, groups: list[str], opts: Parsed) -> int:
    with transaction(directory) as state:
        names = groups or sorted(state["kafka"]["groups"])
        t = float(state["updated"])
        tables = [(name, _describe_rows(state, name, t)) for name in names]
    for name, rows in tables:
        if rows is None:
            print(f"\nError: Consumer group '{name}' does not exist.")
            continue
        if all(r[6] == "-" for r in rows):
            print(f"\nConsumer group '{name}' has no active members.", file=sys.stderr)
            sys.stderr.flush()
        sys.stdout.write("\n" + _describe_table(rows))
    return 0


def _describe_rows(state: State, name: str, t: float) -> list[list[str]] | None:
    grp = kafka.group(state, name)
    if grp is None:
        return None
    topics = sorted(set(grp["offsets"]) | {m["topic"] for m in grp["members"]})
    owned: list[tuple[int, list[str]]] = []
    loose: list[list[str]] = []
    for topic_name in topics:
        top = kafka.topic(state, topic_name)
        if top is None:
            continue
        offsets = kafka.committed(state, name, topic_name)
        by_partition: dict[int, dict[str, Any]] = {}
        members = {m["id"]: m for m in kafka.members(state, name, topic_name, t)}
        assigned = kafka.assignment(state, name, topic_name, t)
        for member_id, parts in assigned.items():
            for p in parts:
                by_partition[p] = members[member_id]
        for p, part in enumerate(top["partitions"]):
            end = kafka.end_offset(part)
            current = offsets[p]
            row = [name, topic_name, str(p), "-" if current is None else str(current), str(end),
                   "-" if current is None else str(end - current)]
            member = by_partition.get(p)
            if member is None:
                loose.append([*row, "-", "-", "-"])
            else:
                row += [member["id"], "/" + member["host"], member["client_id"]]
                owned.append((len(assigned[member["id"]]), row))
    owned.sort(key=lambda item: (-item[0], item[1][6], item[1][1], int(item[1][2])))
    return [row for _, row in owned] + loose


def _describe_table(rows: list[list[str]]) -> str:
    header = ["GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG",
              "CONSUMER-ID", "HOST", "CLIENT-ID"]
    widths = [15, 15, 10, 15, 15, 15, 15, 15]
    for column in (0, 1, 6, 7):
        widths[column] = max([15, *(len(r[column]) for r in rows)])
    return "".join(" ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)) + f" {r[8]}\n"
                   for r in [header, *rows])


# -- reset-offsets --------------------------------------------------------------

def _reset(directory: Path, groups: list[str], opts: Parsed) -> int:
    checked = _reset_usage(opts)
    if isinstance(checked, str):
        return _usage(checked)
    if not opts.has("dry-run") and not opts.has("execute"):
        print(DRY_RUN_WARNING, file=sys.stderr)
        sys.stderr.flush()
    with transaction(directory) as state:
        for name in groups or sorted(state["kafka"]["groups"]):
            if not _reset_group(state, name, opts, checked):
                return 1
    return 0


def _reset_usage(opts: Parsed) -> How | str:
    """How to reset, else the usage message Kafka prints."""
    chosen = [s for s in SCENARIOS if opts.has(s)]
    if len(chosen) != 1:
        return ("Option [reset-offsets] takes one of these options: "
                + ", ".join(f"[{s}]" for s in SCENARIOS))
    if not opts.all("topic") and not opts.has("all-topics") and chosen[0] != "from-file":
        return "Option [reset-offsets] takes one of these options: [all-topics], [topic]"
    if opts.has("dry-run") and opts.has("execute"):
        return "Option [reset-offsets] only accepts one of [execute] and [dry-run]"
    return reset_modes.how(chosen[0], opts.get(chosen[0]))


def _reset_group(state: State, name: str, opts: Parsed, how: How) -> bool:
    """Print (and with --execute commit) one group's reset; False when the command fails."""
    header = "\n" + _reset_line("GROUP", "TOPIC", "PARTITION", "NEW-OFFSET")
    t = float(state["updated"])
    grp = kafka.group(state, name)
    scope = _scope(state, name, opts, how)
    if scope is None:
        print("\nError: Executing consumer group command failed due to "
              "org.apache.kafka.common.errors.UnknownTopicOrPartitionException: "
              "This server does not host this topic-partition.")
        return False
    if grp is not None and any(kafka.members(state, name, tp, t) for tp in
                               {*grp["offsets"], *(m["topic"] for m in grp["members"])}):
        print(f"\nError: Assignments can only be reset if the group '{name}' is "
              "inactive, but the current state is Stable.")
        sys.stdout.write(header)
        return True
    plan = reset_modes.plan(state, name, scope, how, t)
    if opts.has("execute") and state["faults"].get(RESET_FAILS) and not state["kafka"].get(
            RESET_FAILS):
        state["kafka"][RESET_FAILS] = True  # once: the retry or the rollback then works
        for tp, p, o in plan[:len(plan) // 2]:
            kafka.commit(state, name, tp, p, o)
        print("\nError: Executing consumer group command failed due to "
              "org.apache.kafka.common.errors.TimeoutException: Timeout of 60000ms expired "
              "before successfully committing offsets")
        return False
    if opts.has("export"):
        sys.stdout.write("".join(f"{tp},{p},{o}\n" for tp, p, o in plan))
    else:
        sys.stdout.write(header + "".join(_reset_line(name, tp, str(p), str(o))
                                          for tp, p, o in plan))
    if opts.has("execute"):
        for tp, p, o in plan:
            kafka.commit(state, name, tp, p, o)
    return True


def _reset_line(*cells: str) -> str:
    return " ".join(c.ljust(w) for c, w in zip(cells, (30, 30, 10, 15), strict=True)) + "\n"


def _scope(state: State, name: str, opts: Parsed, how: How) -> list[tuple[str, int]] | None:
    """(topic, partition) pairs from ``--topic T[:P,P]``, ``--all-topics`` or the file."""
    if how.rows is not None:
        specs = [f"{tp}:{p}" for tp, p, _ in how.rows]
    elif opts.has("all-topics"):
        grp = kafka.group(state, name) or {"offsets": {}}
        specs = sorted(grp["offsets"])
    else:
        specs = opts.all("topic")
    pairs: list[tuple[str, int]] = []
    for spec in specs:
        tp, _, parts = spec.partition(":")
        top = kafka.topic(state, tp)
        if top is None:
            return None
        count = len(top["partitions"])
        wanted = [int(p) for p in parts.split(",")] if parts else list(range(count))
        if any(p >= count for p in wanted):
            return None
        pairs += [(tp, p) for p in wanted]
    return pairs
