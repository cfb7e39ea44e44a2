"""Burrow's consumer-lag rules, as pure functions over a window of observations.

LinkedIn's Burrow judges a partition by its recent history rather than one
lag number: a growing lag with advancing commits is a slow consumer (WARN),
commits that stopped or repeat are a dead one (ERR). We observe the window by
sampling ``--describe``; each sample of a partition is a `Commit` (the
committed offset, when that offset was first seen, the log-end offset then).
Kept apart from the action so each rule is tested on constructed windows.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

STATUSES = ("OK", "WARN", "STOP", "STALL", "REWIND")
_RANK = {"OK": 0, "WARN": 1, "REWIND": 2, "STALL": 3, "STOP": 4}
ERRORS = frozenset({"STOP", "STALL", "REWIND"})


@dataclass(frozen=True)
class Commit:
    """One observation of a partition: committed offset, commit time, log end then."""

    offset: int
    timestamp: float
    log_end: int

    @property
    def lag(self) -> int:
        return max(0, self.log_end - self.offset)


def stopped(window: Sequence[Commit], now: float) -> bool:
    """STOP: no commit for longer than the window spans, unless the log end reached it."""
    first, last = window[0], window[-1]
    if last.log_end <= last.offset:
        return False
    return now - last.timestamp > last.timestamp - first.timestamp


def rewound(window: Sequence[Commit]) -> bool:
    """REWIND: an offset went backwards and the last one never got back above it."""
    return window[-1].offset < max(c.offset for c in window)


def lag_ok_somewhere(window: Sequence[Commit], allowed_lag: int) -> bool:
    """OK: the lag was at or below ``allowed_lag`` at some point of the window."""
    return any(c.lag <= allowed_lag for c in window)


def stalled(window: Sequence[Commit]) -> bool:
    """STALL: every committed offset of the window is the same."""
    return len(window) > 1 and all(c.offset == window[0].offset for c in window)


def lag_not_decreasing(window: Sequence[Commit]) -> bool:
    """WARN: the lag never went down from one observation to the next."""
    return all(b.lag >= a.lag for a, b in itertools.pairwise(window))


def partition_status(window: Sequence[Commit], now: float, allowed_lag: int = 0) -> str:
    """Burrow's rules in Burrow's order; only while the current lag exceeds ``allowed_lag``."""
    if not window or window[-1].lag <= allowed_lag:
        return "OK"
    if stopped(window, now):
        return "STOP"
    if rewound(window):
        return "REWIND"
    if lag_ok_somewhere(window, allowed_lag):
        return "OK"
    if stalled(window):
        return "STALL"
    if lag_not_decreasing(window):
        return "WARN"
    return "OK"


def group_status(statuses: Sequence[str]) -> str:
    """The worst partition decides: STOP/STALL/REWIND are ERR for the group."""
    worst = max(statuses, key=lambda s: _RANK[s], default="OK")
    return "ERR" if worst in ERRORS else worst


def window_from_samples(offsets: Sequence[int | None], log_ends: Sequence[int | None],
                        times: Sequence[float]) -> list[Commit]:
    """Samples of one partition as commits: a commit's time is when its offset first showed.

    Samples where the group has no committed offset (``-``) are left out.
    """
    window: list[Commit] = []
    for offset, end, t in zip(offsets, log_ends, times, strict=True):
        if offset is None or end is None:
            continue
        seen = window[-1].timestamp if window and window[-1].offset == offset else t
        window.append(Commit(offset, seen, end))
    return window
