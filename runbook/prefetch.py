"""Connections opened while the rest of runbook is still loading.

The CLI knows the playbook and its targets a few hundred milliseconds before
the engine, the audit log and the console are imported and ready. An SSH
handshake is mostly waiting (network, and the server's own key exchange), so
for a real run the connections it will need first (the preconditions' targets
and the first step's, every host of a group) are opened in the background
meanwhile. Which targets qualify is their connection kind's answer
(``ConnectionKind.connect_early``: ssh says yes unless the target accepts a
new host key, which writes known_hosts); this module knows no kind by name.

Nothing here may change what a run does:

* the engine adopts a connection only for a target whose settings are exactly
  the ones used to open it;
* a failed attempt is handed over with its error, which the run's first
  attempt then reports instead of trying (and waiting out a timeout) again;
* targets with templated settings or a setting naming another target (a jump
  host) are left to the engine, and any problem working
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
from runbook.executors.kinds import ConnectionKind, kind_of
from runbook.models import Playbook, Target
from runbook.plugins import Registry
from runbook.templating import is_template


def first_targets(playbook: Playbook, targets: Mapping[str, Target],
                  registry: Registry) -> dict[str, Target]:
    """The targets a run reaches first: the preconditions' and the first step's (every
    host when that is a group), by name. Names that do not resolve are left out."""
    out: dict[str, Target] = {}
    for name in _first_names(playbook, registry):
        target = targets.get(name)
        if target is None:
            continue
        if target.hosts:
            out.update(_group_hosts(targets, name))
        else:
            out[name] = target
    return out


def _first_names(playbook: Playbook, registry: Registry) -> list[str]:
    names = [c.target or playbook.default_target() for c in playbook.preconditions]
    first = next(iter(playbook.steps), None)
    action = registry.actions.get(first.action) if first is not None else None
    if first is not None and action is not None and not action.in_engine:
        names.append(first.target or playbook.default_target())
    return list(dict.fromkeys(names))


def _group_hosts(targets: Mapping[str, Target], name: str) -> dict[str, Target]:
    from runbook.fanout import group_members

    try:
        members, made = group_members(targets, name)
    except Exception:  # a broken group is the run's to report, step by step
        return {}
    return {member: made.get(member) or targets[member] for member in members}


def _prefetchable(kind: ConnectionKind, settings: Mapping[str, Any]) -> bool:
    """The kind wants it, no other target is involved (``jump``, ``via``), and nothing
    is templated (only the engine can render it)."""
    return (kind.connect_early is not None and kind.connect_early(settings)
            and not any(key in settings for key in kind.references)
            and not any(is_template(v) for v in _strings(settings)))


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, Mapping):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _early_executor(name: str, target: Target, registry: Registry) -> Executor | None:
    """The executor to connect early for ``target``, unbuilt when it should not be."""
    kind = kind_of(registry, target.connection)
    if kind is None:
        return None
    settings = target.settings()
    prepared = kind.prepare(settings, where=f"targets.{name}")
    if not _prefetchable(kind, prepared):
        return None
    return kind.factory(name, prepared)


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
                # Built here, on the caller's thread: the import of paramiko it may
                # trigger stays out of the worker threads.
                executor = _early_executor(name, target, registry)
            except Exception:
                continue
            if executor is None:
                continue
            done: Future[None] = Future()
            self._pending[name] = (target.settings(), executor, done)
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
