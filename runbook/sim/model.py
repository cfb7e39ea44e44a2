"""Shared vocabulary of every simulated world: state, knobs, clocks and time formats.

Parts of the estate (contributed by plugins) speak in these terms, so timing
(the ``time_scale`` knob) and the common timestamp shapes are decided in one
place. Stdlib only: every stand-in invocation is a fresh process.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

State = dict[str, Any]
"""The whole simulated world as JSON-compatible data (see ``scenarios.build``)."""

Action = Callable[[float], None]
"""Something that happens in the world at a time (called with that time)."""

Event = tuple[float, int, Action]
"""(time, priority, action): the earliest event runs first, ties by priority."""


def knob(state: State, name: str) -> float:
    return float(state["knobs"][name])


def dur(state: State, name: str) -> float:
    """A knob that is a duration, in wall seconds after ``time_scale``."""
    return knob(state, name) / knob(state, "time_scale")


def new_uuid() -> str:
    import uuid  # here: uuid imports platform, which most stand-in calls never need

    return str(uuid.uuid4())


def hex_id(length: int = 64) -> str:
    return "".join(random.choice("0123456789abcdef") for _ in range(length))


def _utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=timezone.utc)


def rfc3339(ts: float) -> str:
    """RFC 3339 in UTC to the second: ``2024-05-14T08:02:03Z``."""
    return _utc(ts).strftime("%Y-%m-%dT%H:%M:%SZ")


def log_time(ts: float) -> str:
    """Python logging's and log4j's asctime: ``2022-08-24 04:09:12,391`` (UTC)."""
    moment = _utc(ts)
    return moment.strftime("%Y-%m-%d %H:%M:%S") + f",{moment.microsecond // 1000:03d}"


def now() -> float:
    return time.time()
