"""Is an open run's runner gone? Both signs must say so before anyone else takes it over.

A shared state database knows two things of a runner on another machine: whether
its session still holds the run's lock (``JournalStore.holder_alive``) and when
it last stamped its heartbeat. A lock that is free while the heartbeat is fresh
is a runner between reconnects (the database restarted, the network blinked),
not a dead one; the run is taken over only once nothing was heard of it for
``STALE_BEATS`` heartbeat intervals (``$RUNBOOK_HEARTBEAT``, default 10 s). The
local journal has no heartbeat: there the pid decides, as before.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runbook.state.base import JournalStore

STALE_BEATS = 3
"""Heartbeat intervals without news after which a runner counts as gone."""


def heartbeat_interval() -> float:
    """Seconds between a runner's heartbeats (``$RUNBOOK_HEARTBEAT``, default 10)."""
    try:
        return max(0.05, float(os.environ.get("RUNBOOK_HEARTBEAT", "10")))
    except ValueError:
        return 10.0


def _parse(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def gone_at(run: Mapping[str, Any]) -> datetime | None:
    """When the run's runner counts as gone if nothing more is heard of it (None: the
    run has no heartbeat, e.g. in the local journal)."""
    stamp = run.get("heartbeat")
    if not stamp:
        return None
    return _parse(str(stamp)) + timedelta(seconds=STALE_BEATS * heartbeat_interval())


def heartbeat_fresh(run: Mapping[str, Any], now: datetime | None = None) -> bool:
    """Whether the run's runner was heard of within the last STALE_BEATS intervals."""
    until = gone_at(run)
    return until is not None and (now or datetime.now(timezone.utc)) < until


def still_running(journal: JournalStore, run: Mapping[str, Any]) -> str | None:
    """Why a ``running`` run must not be taken over (resumed, resolved), or None."""
    if run["status"] != "running":
        return None
    if journal.holder_alive(run):
        return (f"run {run['run_id']} is still running (pid {run['pid']} on {run['host']}); "
                "interrupt it first")
    if not heartbeat_fresh(run):
        return None
    until = gone_at(run)
    assert until is not None
    left = max(0.0, (until - datetime.now(timezone.utc)).total_seconds())
    return (f"run {run['run_id']} holds no lock, but its runner on {run['host']} (pid "
            f"{run['pid']}) was heard of at {run['heartbeat']}: it may be reconnecting; it "
            f"counts as gone after {STALE_BEATS} heartbeats of silence "
            f"({STALE_BEATS} x {heartbeat_interval():g}s), at "
            f"{until.isoformat(timespec='seconds').replace('+00:00', 'Z')} (in {left:.0f}s): "
            "resume it then")


def resumable(journal: JournalStore, run: Mapping[str, Any]) -> bool:
    """For ``runbook runs``: open, its lock free and (while ``running``) its heartbeat
    stale."""
    from runbook.journal import FINAL

    if run["status"] in FINAL or journal.holder_alive(run):
        return False
    return run["status"] != "running" or not heartbeat_fresh(run)
