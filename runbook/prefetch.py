"""SSH connections opened while the rest of runbook is still loading.

The CLI knows the playbook and its targets a few hundred milliseconds before
the engine, the audit log and the console are imported and ready. An SSH
handshake is mostly waiting (network, and the server's own key exchange), so
for a real run the connections it will need first (the preconditions' targets
and the first step's, every host of a group) are opened in the background
meanwhile.

Nothing here may change what a run does:

* the engine adopts a connection only for a target whose settings are exactly
  the ones used to open it;
* a failed attempt is handed over with its error, which the run's first
  attempt then reports instead of trying (and waiting out a timeout) again;
* targets with templated settings, a jump host or ``accept_new_host_key``
  (which writes known_hosts) are left to the engine, and any problem working
  out the targets is left for the run to report in its own way;
* the threads are daemons and ``close`` never waits for a handshake: a run
  refused early (locked, bad params) exits at once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from typing import Any

from runbook.errors import ConnectionError_
from runbook.executors.base import Executor
from runbook.models import Playbook, Target
from runbook.plugins import Registry
from runbook.templating import is_template


def first_targets(playbook: Playbook, targets: Mapping[str, Target],
                  registry: Registry) -> dict[str, Target]:
    """The targets a run reaches first: the preconditions' and the first step's (every
    host when that is a group), by name. Names that do not resolve are left out."""
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
        try:
            members, made = group_members(targets, name)
        except Exception:  # a broken group is the run's to report, step by step
            continue
        for member in members:
            out[member] = made.get(member) or targets[member]
    return out


def _prefetchable(target: Target, settings: Mapping[str, Any]) -> bool:
    return (target.connection == "ssh" and bool(settings.get("host"))
            and not settings.get("accept_new_host_key")
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

    def __init__(self, forks: int = 10) -> None:
        self._pending: dict[str, tuple[dict[str, Any], Executor, Future[None]]] = {}
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(max(1, forks))
        self._closed = False

    @classmethod
    def start(cls, playbook: Playbook, targets: Mapping[str, Target], registry: Registry,
              forks: int) -> Prefetch:
        """Begin connecting (at most ``forks`` at once); returns at once. ``targets`` are
        those given besides the playbook's own (inventory, ``--target``), as for a run.
        Never raises: whatever cannot be prefetched is left to the run."""
        self = cls(forks)
        try:
            every = {**playbook.effective_targets(), **targets}
            wanted = first_targets(playbook, every, registry)
        except Exception:
            return self
        for name, target in wanted.items():
            try:
                settings = target.settings()
                factory = registry.executors.get(target.connection)
                if factory is None or not _prefetchable(target, settings):
                    continue
                # Built here, on the caller's thread: the import of paramiko it may
                # trigger stays out of the worker threads.
                executor = factory(name, dict(settings))
            except Exception:
                continue
            done: Future[None] = Future()
            self._pending[name] = (settings, executor, done)
            threading.Thread(target=self._connect, args=(executor, done), daemon=True,
                             name=f"connect-{name}").start()
        return self

    def _connect(self, executor: Executor, done: Future[None]) -> None:
        with self._slots:
            if self._closed:
                done.cancel()
                return
            done.set_running_or_notify_cancel()
            try:
                executor.connect()
            except BaseException as exc:
                done.set_exception(exc)
                return
            done.set_result(None)

    def __len__(self) -> int:
        return len(self._pending)

    def take(self, name: str, settings: Mapping[str, Any]) -> Executor | None:
        """The executor opened for ``name`` if it was built from exactly ``settings``,
        once its handshake has finished; None when there is nothing to hand over. If the
        handshake failed, the executor's first connection attempt reports that failure."""
        with self._lock:
            entry = self._pending.get(name)
            if entry is None or entry[0] != dict(settings):
                return None
            del self._pending[name]
        _, executor, done = entry
        try:
            error = done.exception()
        except BaseException:  # cancelled, or Ctrl-C while waiting: not handed over
            executor.close()
            raise
        if error is None:
            return executor
        fail_next = getattr(executor, "fail_next_connect", None)
        if isinstance(error, ConnectionError_) and callable(fail_next):
            fail_next(error)
            return executor
        executor.close()
        return None  # not a connection error we can vouch for: the engine tries itself

    def close(self) -> None:
        """Close what was never claimed (the run stopped early or skipped those steps),
        without waiting: a handshake still under way is closed when it ends."""
        with self._lock:
            self._closed = True
            left, self._pending = list(self._pending.values()), {}
        for _, executor, done in left:
            done.add_done_callback(_closer(executor))


def _closer(executor: Executor) -> Callable[[Future[None]], None]:
    def close(_: Future[None]) -> None:
        executor.close()

    return close
