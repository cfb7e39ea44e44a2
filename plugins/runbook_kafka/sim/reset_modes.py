"""Where ``--reset-offsets`` moves each partition, for every mode the real tool has.

``--to-earliest``, ``--to-latest``, ``--to-current``, ``--to-offset N``,
``--shift-by N``, ``--to-datetime YYYY-MM-DDTHH:mm:SS.sss`` (the first record
at or after it; naive times are local, as in the JVM), ``--by-duration
PnDTnHnMnS`` (that long before now) and ``--from-file CSV`` (``--export``'s
``topic,partition,offset`` rows). Offsets outside the log are clamped with the
tool's warning. Kept apart from the stand-in's table printing.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from runbook.sim.model import State
from runbook_kafka.sim import kafka

_DURATION = re.compile(r"P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?")


@dataclass(frozen=True)
class How:
    """A parsed reset mode: its name, a number (offset, shift, epoch seconds), file rows."""

    mode: str
    number: float = 0.0
    rows: tuple[tuple[str, int, int], ...] | None = None


def how(mode: str, value: str | None) -> How | str:
    """The mode with its value parsed, else the message the tool prints."""
    text = value or ""
    if mode in ("to-offset", "shift-by"):
        try:
            return How(mode, int(text))
        except ValueError:
            return f"Cannot parse argument '{text}' of option {mode}"
    if mode == "to-datetime":
        if "T" not in text:
            return ("Error parsing timestamp. It does not contain a 'T' according to ISO8601 "
                    f"format: {text}")
        try:
            return How(mode, datetime.fromisoformat(text).timestamp())
        except ValueError:
            return f"Error parsing timestamp {text}"
    if mode == "by-duration":
        found = _DURATION.fullmatch(text)
        if not found or text in ("P", "PT"):
            return f"Error parsing duration {text}: Text cannot be parsed to a Duration"
        d, h, m, sec = (float(g or 0) for g in found.groups())
        return How(mode, ((d * 24 + h) * 60 + m) * 60 + sec)
    if mode == "from-file":
        return _rows(text)
    return How(mode)


def _rows(path: str) -> How | str:
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        return f"Error: Executing consumer group command failed due to {exc}"
    rows: list[tuple[str, int, int]] = []
    for line in filter(None, (raw.strip() for raw in lines)):
        cells = line.split(",")
        try:
            rows.append((cells[-3], int(cells[-2]), int(cells[-1])))
        except (IndexError, ValueError):
            return f"Error: Executing consumer group command failed due to bad line: {line}"
    return How("from-file", rows=tuple(rows))


def plan(state: State, name: str, scope: list[tuple[str, int]], how: How,
         now: float) -> list[tuple[str, int, int]]:
    """(topic, partition, new offset) for each partition of the scope, clamped to the log."""
    wanted = {(tp, p): o for tp, p, o in how.rows or ()}
    found = []
    for tp, p in scope:
        part = state["kafka"]["topics"][tp]["partitions"][p]
        start, end = int(part["start"]), kafka.end_offset(part)
        current = kafka.committed(state, name, tp)[p]
        base = end if current is None else current
        target = wanted.get((tp, p), base) if how.rows is not None else _target(
            part, how, start, end, base, now)
        if target > end:
            print(f"New offset ({target}) is higher than latest offset for topic partition "
                  f"{tp}-{p}. Value will be set to {end}")
        elif target < start:
            print(f"New offset ({target}) is lower than earliest offset for topic partition "
                  f"{tp}-{p}. Value will be set to {start}")
        found.append((tp, p, min(max(target, start), end)))
    sys.stdout.flush()
    return found


def _target(part: kafka.Obj, how: How, start: int, end: int, base: int, now: float) -> int:
    if how.mode in ("to-datetime", "by-duration"):
        since = how.number if how.mode == "to-datetime" else now - how.number
        return next((start + i for i, (ts, _) in enumerate(part["records"]) if ts >= since),
                    end)
    return {"to-earliest": start, "to-latest": end, "to-current": base,
            "to-offset": int(how.number), "shift-by": base + int(how.number)}[how.mode]
