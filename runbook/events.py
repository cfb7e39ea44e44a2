"""What observers of a run are told: the run itself and each lifecycle event.

The engine builds these already redacted (secret values replaced by ``***``),
so no observer (audit log, console, notifier) can leak a secret by accident.
"""

from __future__ import annotations

import datetime as _dt
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


def utcnow() -> str:
    """UTC ISO 8601 with milliseconds and a Z, as the audit log writes it."""
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z")


@dataclass
class RunInfo:
    """One execution of a playbook, as observers see it."""

    run_id: str
    playbook: str
    playbook_sha256: str
    playbook_path: str
    actor: str
    reason: str | None
    params: dict[str, Any]
    dry_run: bool
    started_at: str = field(default_factory=utcnow)
    audit_path: str | None = None
    sandbox: str | None = None
    """The simulated estate's folder the run works on (None: the real systems)."""
    selection: dict[str, Any] = field(default_factory=dict)
    """``--limit``, ``--tags``, ``--skip-tags``, ``--start-at`` as given (only those set)."""
    notify: dict[str, Any] | None = None
    """The playbook's ``notify:`` key as written (channel names, events, gate_wait)."""


@dataclass
class Event:
    """One thing that happened in a run.

    ``name`` is one of the audit log's events: run.started, check.finished,
    gate.answered, step.started, step.finished, rollback.started,
    rollback.finished, run.finished. ``host`` is set for a fan-out step's
    per-host outcome.
    """

    name: str
    step: str | None = None
    action: str | None = None
    target: str | None = None
    host: str | None = None
    argv: list[str] | None = None
    status: str | None = None
    rc: int | None = None
    duration_ms: float | None = None
    mutating: bool = False
    message: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    result: Any = None
    """step.finished: the step's result, redacted and capped, for observers that show
    it (``-vv``); the audit log does not keep it."""


class ObserverDispatch:
    """A run's own observers, per hook: each method with the arguments it accepts.

    Works out once, like pluggy does for installed plugins, which argument names
    (``run``, ``event``) each observer's method takes, so that an observer may
    implement a hook with fewer arguments than the spec."""

    def __init__(self, observers: list[object]) -> None:
        self.observers = observers
        self._cache: dict[str, list[tuple[Callable[..., Any], tuple[str, ...]]]] = {}

    def get(self, hook: str) -> list[tuple[Callable[..., Any], tuple[str, ...]]]:
        found = self._cache.get(hook)
        if found is None:
            found = []
            for observer in self.observers:
                method = getattr(observer, hook, None)
                if callable(method):
                    params = inspect.signature(method).parameters
                    found.append((method, tuple(n for n in ("run", "event") if n in params)))
            self._cache[hook] = found
        return found
