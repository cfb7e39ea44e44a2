"""Shared vocabulary of the simulated world: knobs, clocks, names and logs.

Every other module speaks in these terms, so timing (the ``time_scale``
knob), identifier shapes and log line formats are decided in one place.
"""

from __future__ import annotations

import random
import time
import uuid
from datetime import datetime, timezone
from typing import Any

State = dict[str, Any]
"""The whole simulated world as JSON-compatible data (see ``scenarios.build``)."""

LOG_CAP = 1000
"""Lines kept per deployment log; older ones fall off like a rotated log."""

_K8S_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def knob(state: State, name: str) -> float:
    return float(state["knobs"][name])


def dur(state: State, name: str) -> float:
    """A knob that is a duration, in wall seconds after ``time_scale``."""
    return knob(state, name) / knob(state, "time_scale")


def new_uuid() -> str:
    return str(uuid.uuid4())


def k8s_suffix(length: int = 5) -> str:
    """The random tail Kubernetes gives generated names (pods, replica sets)."""
    return "".join(random.choice(_K8S_ALPHABET) for _ in range(length))


def hex_id(length: int = 64) -> str:
    return "".join(random.choice("0123456789abcdef") for _ in range(length))


def pod_ip() -> str:
    return f"10.32.{random.randint(0, 15)}.{random.randint(2, 254)}"


def next_version(state: State) -> str:
    """A fresh resourceVersion, increasing across the whole estate like etcd's."""
    state["resource_version"] = int(state["resource_version"]) + 1
    return str(state["resource_version"])


def _utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=timezone.utc)


def rfc3339(ts: float) -> str:
    """Kubernetes timestamps: ``2024-05-14T08:02:03Z``."""
    return _utc(ts).strftime("%Y-%m-%dT%H:%M:%SZ")


def cfs_time(ts: float) -> str:
    """CFS session timestamps: ``2024-05-14T09:12:55`` (no zone, as captured)."""
    return _utc(ts).strftime("%Y-%m-%dT%H:%M:%S")


def log_time(ts: float) -> str:
    """Python logging's asctime: ``2022-08-24 04:09:12,391`` (UTC in the pods)."""
    moment = _utc(ts)
    return moment.strftime("%Y-%m-%d %H:%M:%S") + f",{moment.microsecond // 1000:03d}"


def append_log(state: State, source: str, ts: float, level: str, logger: str,
               message: str) -> None:
    """Append one service log line in the CFS services' logging format.

    ``source`` is ``namespace/deployment``; lines keep their real time so that
    ``kubectl logs --since`` windows tell old symptoms from new ones.
    """
    lines: list[Any] = state["logs"].setdefault(source, [])
    lines.append([ts, f"{log_time(ts)} - {level} - {logger} - {message}"])
    if len(lines) > LOG_CAP:
        del lines[: len(lines) - LOG_CAP]


def now() -> float:
    return time.time()
