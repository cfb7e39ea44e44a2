"""Durations as playbooks write them: ``500ms``, ``30s``, ``5m``, ``2h``, or seconds."""

from __future__ import annotations

import math
import re

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")


MAX_DURATION = 366 * 86400.0
"""No wait, timeout or delay is longer than a year (a huge one overflows the clock)."""


def parse_duration(value: object) -> float:
    """Seconds as a float; ValueError with what was expected otherwise."""
    seconds = _parse(value)
    if seconds > MAX_DURATION:
        raise ValueError(f"a duration cannot be longer than a year (366d), got {value!r}")
    return seconds


def _parse(value: object) -> float:
    if isinstance(value, bool):
        raise ValueError(f"expected a duration such as 30s, 5m or 500ms, got {value!r}")
    if isinstance(value, (int, float)):
        if not math.isfinite(value):
            raise ValueError(f"a duration must be a finite number of seconds, got {value!r}")
        if value < 0:
            raise ValueError(f"a duration cannot be negative, got {value!r}")
        return float(value)
    if isinstance(value, str):
        match = _PATTERN.match(value)
        if match:
            return float(match.group(1)) * _UNITS[match.group(2) or "s"]
    raise ValueError(f"expected a duration such as 30s, 5m or 500ms, got {value!r}")


def format_duration(seconds: float) -> str:
    """The shortest readable form, for plans and the console."""
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 60:
        return f"{seconds:.3g}s"
    if seconds < 3600:
        return f"{seconds / 60:.3g}m"
    return f"{seconds / 3600:.3g}h"
