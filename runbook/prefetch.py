"""SSH connections opened while the rest of runbook is still loading.

The CLI knows the playbook and its targets a few hundred milliseconds before
the engine, the audit log and the console are imported and ready. An SSH
handshake is mostly waiting (network, and the server's own key exchange), so
the connections the run will need first (the preconditions' targets and the
first step's, every host of a group) are opened in the background meanwhile.

Nothing here changes what a run does: the engine adopts a connection only for
a target whose settings are exactly the ones used to open it, and a failed
attempt is handed over as the same error the engine's own attempt would raise.
Targets with templated settings, a jump host or ``accept_new_host_key`` (which
writes known_hosts) are left to the engine. Connections the run never claims
are closed by ``close``.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from runbook.errors import RunbookError
from runbook.executors.base import Executor
from runbook.models import Playbook, Target
from runbook.plugins import Registry
from runbook.templating import is_template


def first_targets(playbook: Playbook, targets: Mapping[str, Target],
                  registry: Registry) -> dict[str, Target]:
    """The targets a run reaches first: the preconditions' and the first step's (every
    host when that is a group), by name."""
    from runbook.fanout import group_members

    names = [c.target or playbook.default_target() for c in playbook.preconditions]
    first = next(iter(playbook.steps), None)
    action = registry.actions.get(first.action) if first is not None else None
    if first is not None and action is not None and not action.in_engine:
        names.append(first.target or playbook.default_target())
    out: dict[str, Target] = {}
    for name in dict.fromkeys(names):
        target = targets.get(name)
        if target is None:
            continue
        if not target.hosts:
            out[name] = target
            continue
        members, made = group_members(targets, name)
        for member in members:
            out[member] = made.get(member) or targets[member]
    return out


def _prefetchable(target: Target, settings: Mapping[str, Any]) -> bool:
    return (target.connection == "ssh" and not settings.get("accept_new_host_key")
            and "jump" not in settings and "via" not in settings
            and not any(is_template(v) for v in _strings(settings)))


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, Mapping):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


class Prefetch:
    """Connections being opened in the background, claimed by the engine by name."""

    def __init__(self) -> None:
        self._pending: dict[str, tuple[dict[str, Any], Executor, Future[None]]] = {}
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None

    @classmethod
    def start(cls, playbook: Playbook, targets: Mapping[str, Target], registry: Registry,
              forks: int) -> Prefetch:
        """Begin connecting (at most ``forks`` at once); returns at once. ``targets`` are
        those given besides the playbook's own (inventory, ``--target``), as for a run."""
        self = cls()
        wanted = []
        every = {**playbook.effective_targets(), **targets}
        for name, target in first_targets(playbook, every, registry).items():
            settings = target.settings()
            factory = registry.executors.get(target.connection)
            if factory is not None and _prefetchable(target, settings):
                # Built here, on the caller's thread: the import of paramiko it may
                # trigger stays out of the worker threads.
                wanted.append((name, settings, factory(name, dict(settings))))
        if not wanted:
            return self
        self._pool = ThreadPoolExecutor(max_workers=max(1, min(forks, len(wanted))),
                                        thread_name_prefix="connect")
        for name, settings, executor in wanted:
            self._pending[name] = (settings, executor, self._pool.submit(executor.connect))
        return self

    def __len__(self) -> int:
        return len(self._pending)

    def take(self, name: str, settings: Mapping[str, Any]
             ) -> tuple[Executor, RunbookError | None] | None:
        """The executor opened for ``name`` if it was built from exactly ``settings``
        (waiting for its handshake to finish), with the error its connection attempt
        ended in, if any; None when there is nothing to hand over."""
        with self._lock:
            entry = self._pending.get(name)
            if entry is None or entry[0] != dict(settings):
                return None
            del self._pending[name]
        _, executor, future = entry
        try:
            future.result()
        except RunbookError as exc:
            return executor, exc
        except Exception:
            executor.close()
            return None  # not a connection error we can vouch for: the engine tries itself
        return executor, None

    def close(self) -> None:
        """Close what was never claimed (the run stopped early or skipped those steps)."""
        with self._lock:
            left, self._pending = list(self._pending.values()), {}
        for *_, future in left:
            future.cancel()
        if self._pool is not None:
            self._pool.shutdown(wait=True)
        for _, executor, _ in left:
            executor.close()
