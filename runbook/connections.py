"""Targets and the executors behind them, for one run.

The engine asks for an executor by target name; this module builds it the
same way for every connection kind (``runbook.executors.kinds``): the
target's templated settings rendered for this run, a connection the CLI
already opened (``runbook.prefetch``) adopted when its settings are the
same, else a ``transport`` given by the caller (the simulated estate's) or
the kind's defaults, typed settings and factory, with the settings that name
another target (``via``, ``jump``) handed that target's executor. One
executor per target for the whole run.

The one setting a run adds itself: the run's environment (``RunOptions.env``,
the sandbox's PATH) goes under the ``env`` of targets whose kind runs
commands on this machine (``ConnectionKind.local``); the target's own
``env`` wins.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from runbook.errors import PluginError, StepError
from runbook.executors.base import Executor
from runbook.executors.kinds import ConnectionKind, kind_of
from runbook.models import Playbook, Target

if TYPE_CHECKING:
    from runbook.plugins import Registry
    from runbook.prefetch import Prefetch

RenderSettings = Callable[[dict[str, Any], str], dict[str, Any]]
"""Renders a target's settings templates: (settings, field) -> rendered settings."""

Transport = Callable[[str, str, dict[str, Any]], "Executor | None"]
"""``transport(target_name, connection_kind, rendered_settings)``: an executor that
stands in for the kind's own (the sandbox's), or None to build the kind's."""


class Connections:
    """One executor per target, built on first use and closed at the end of the run."""

    def __init__(self, playbook: Playbook, registry: Registry, *,
                 overrides: Mapping[str, Target] | None = None,
                 render: RenderSettings,
                 local_env: Mapping[str, str] | None = None,
                 prefetch: Prefetch | None = None,
                 transport: Transport | None = None) -> None:
        self.playbook = playbook
        self.registry = registry
        self.targets: dict[str, Target] = {**playbook.effective_targets(), **(overrides or {})}
        self.executors: dict[str, Executor] = {}
        self._render = render
        self._local_env = dict(local_env or {})
        self._prefetch = prefetch
        self._transport = transport
        self._lock = threading.RLock()

    def target_name(self, explicit: str | None) -> str:
        return explicit or self.playbook.default_target()

    def is_group(self, name: str) -> bool:
        target = self.targets.get(name)
        return bool(target is not None and target.hosts)

    def is_local(self, name: str) -> bool:
        """Whether the target's commands run on this machine (nothing to connect)."""
        kind = kind_of(self.registry, self.targets[name].connection)
        return kind is not None and kind.local

    def members(self, name: str) -> tuple[list[str], dict[str, Target]]:
        """The target names a group fans out to, and the targets made for bare host names."""
        from runbook.fanout import group_members

        names, made = group_members(self.targets, name, takes_host=self._takes_host)
        for entry, target in made.items():
            self.targets.setdefault(entry, target)
        return names, made

    def _takes_host(self, connection: str) -> bool:
        kind = kind_of(self.registry, connection)
        return kind is None or kind.reaches_hosts

    def executor(self, name: str) -> Executor:
        with self._lock:
            return self._executor(name)

    def close(self) -> None:
        for executor in self.executors.values():
            with contextlib.suppress(Exception):
                executor.close()

    def _executor(self, name: str) -> Executor:
        if name in self.executors:
            return self.executors[name]
        target, kind = self._target(name)
        settings = self._render(target.settings(), f"targets.{name}")
        if self._local_env and kind.local:
            settings["env"] = {**self._local_env, **(settings.get("env") or {})}
        executor = self._prefetch.take(name, settings) if self._prefetch else None
        if executor is None:
            executor = self._build(name, kind, settings)
        self.executors[name] = executor
        return executor

    def _target(self, name: str) -> tuple[Target, ConnectionKind]:
        target = self.targets.get(name)
        if target is None:
            raise StepError(f"undeclared target {name!r}", target=name)
        if target.hosts:
            raise StepError(f"target {name!r} is a group of hosts; it can only be the target "
                            "of a step (which then runs on every host)", target=name)
        kind = kind_of(self.registry, target.connection)
        if kind is None:
            raise PluginError(f"no executor for connection {target.connection!r}")
        return target, kind

    def _build(self, name: str, kind: ConnectionKind, settings: dict[str, Any]) -> Executor:
        """The caller's transport's executor if it has one, else the kind's factory's,
        given the executors of the targets the references name."""
        prepared = kind.prepare(settings, where=f"targets.{name}")
        if self._transport is not None:
            stand_in = self._transport(name, kind.name, dict(prepared))
            if stand_in is not None:
                return stand_in
        for key in kind.references:
            if isinstance(prepared.get(key), str):
                prepared[key] = self._executor(prepared[key])
        return kind.factory(name, prepared)
