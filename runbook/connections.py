"""Targets and the executors behind them, for one run.

The engine asks for an executor by target name; this module decides how it
is built (the connection kind's factory from the registry, templated
settings, a connection the CLI already opened, ``via``/``jump`` chains) and
keeps one per target for the whole run.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from runbook.errors import PluginError, StepError
from runbook.executors.base import Executor
from runbook.models import Playbook, Target

if TYPE_CHECKING:
    from runbook.plugins import Registry
    from runbook.prefetch import Prefetch

RenderSettings = Callable[[dict[str, Any], str], dict[str, Any]]
"""Renders a target's settings templates: (settings, field) -> rendered settings."""


class Connections:
    """One executor per target, built on first use and closed at the end of the run."""

    def __init__(self, playbook: Playbook, registry: Registry, *,
                 overrides: Mapping[str, Target] | None = None,
                 render: RenderSettings,
                 local_env: Mapping[str, str] | None = None,
                 prefetch: Prefetch | None = None) -> None:
        self.playbook = playbook
        self.registry = registry
        self.targets: dict[str, Target] = {**playbook.effective_targets(), **(overrides or {})}
        self.executors: dict[str, Executor] = {}
        self._render = render
        self._local_env = dict(local_env or {})
        self._prefetch = prefetch
        self._lock = threading.RLock()

    def target_name(self, explicit: str | None) -> str:
        return explicit or self.playbook.default_target()

    def is_group(self, name: str) -> bool:
        target = self.targets.get(name)
        return bool(target is not None and target.hosts)

    def is_local(self, name: str) -> bool:
        return self.targets[name].connection == "local"

    def members(self, name: str) -> tuple[list[str], dict[str, Target]]:
        """The target names a group fans out to, and the targets made for bare host names."""
        from runbook.fanout import group_members

        names, made = group_members(self.targets, name)
        for entry, target in made.items():
            self.targets.setdefault(entry, target)
        return names, made

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
        target = self.targets.get(name)
        if target is None:
            raise StepError(f"undeclared target {name!r}", target=name)
        if target.hosts:
            raise StepError(f"target {name!r} is a group of hosts; it can only be the target "
                            "of a step (which then runs on every host)", target=name)
        factory = self.registry.executors.get(target.connection)
        if factory is None:
            raise PluginError(f"no executor for connection {target.connection!r}")
        settings = self._render(target.settings(), f"targets.{name}")
        if self._local_env and target.connection == "local":
            settings["env"] = {**self._local_env, **(settings.get("env") or {})}
        handed = self._prefetch.take(name, settings) if self._prefetch else None
        if handed is not None:
            self.executors[name] = handed
            return handed
        for key in ("via", "jump"):
            if key in settings:
                settings[key] = self._executor(settings[key])
        if target.connection == "kubectl-exec" and "via" not in settings:
            settings["via"] = self._executor("local")
        executor = factory(name, settings)
        self.executors[name] = executor
        return executor
