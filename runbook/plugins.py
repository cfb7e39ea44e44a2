"""Loading plugins and collecting what they contribute.

Built-in plugins are registered exactly like third-party ones, through the
``runbook`` entry point group. From a bare checkout (no installed
distribution) ``DEFAULT_PLUGINS`` is the fallback, with ``plugins/`` put on
the path so the built-in packages import.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pluggy

from runbook import hookspecs
from runbook.actions import Action
from runbook.errors import PluginError
from runbook.executors.base import Executor

ExecutorFactory = Callable[[str, dict[str, Any]], Executor]

DEFAULT_PLUGINS = (
    "runbook.flow",
    "runbook.executors.builtin",
    "runbook_host",
    "runbook_kubectl",
    "runbook_kafka",
    "runbook_cfs",
)


@dataclass
class Registry:
    """Everything the loaded plugins contribute, by name."""

    pm: pluggy.PluginManager
    actions: dict[str, type[Action[Any]]] = field(default_factory=dict)
    executors: dict[str, ExecutorFactory] = field(default_factory=dict)
    filters: dict[str, Callable[..., Any]] = field(default_factory=dict)

    def action(self, name: str) -> Action[Any]:
        try:
            return self.actions[name]()
        except KeyError:
            raise PluginError(f"unknown action {name!r}") from None

    @property
    def hook(self) -> Any:
        return self.pm.hook


def _import_builtin(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name != name:
            raise
        plugins_dir = Path(__file__).resolve().parent.parent / "plugins"
        if plugins_dir.is_dir() and str(plugins_dir) not in sys.path:
            sys.path.append(str(plugins_dir))
        return importlib.import_module(name)


def make_plugin_manager(extra: Iterable[object] = (), *, entry_points: bool = True,
                        ) -> pluggy.PluginManager:
    pm = pluggy.PluginManager("runbook")
    pm.add_hookspecs(hookspecs)
    if entry_points:
        pm.load_setuptools_entrypoints("runbook")
    for name in DEFAULT_PLUGINS:
        try:
            module = _import_builtin(name)
        except ModuleNotFoundError:
            continue
        if not pm.is_registered(module):
            pm.register(module, name=name)
    for plugin in extra:
        pm.register(plugin)
    pm.check_pending()
    return pm


def build_registry(pm: pluggy.PluginManager) -> Registry:
    reg = Registry(pm)
    for plugin_actions in pm.hook.runbook_actions():
        for cls in plugin_actions:
            if not cls.name or "." not in cls.name:
                raise PluginError(f"action class {cls.__qualname__} has no dotted name")
            if cls.name in reg.actions and reg.actions[cls.name] is not cls:
                raise PluginError(f"action {cls.name!r} is contributed twice")
            reg.actions[cls.name] = cls
    for mapping in pm.hook.runbook_executors():
        for kind, cls in mapping.items():
            if kind in reg.executors and reg.executors[kind] is not cls:
                raise PluginError(f"connection kind {kind!r} is contributed twice")
            reg.executors[kind] = cls
    for mapping in reversed(pm.hook.runbook_filters()):
        reg.filters.update(mapping)
    return reg


_DEFAULT: Registry | None = None


def default_registry() -> Registry:
    """The registry of installed plugins, loaded once per process."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = build_registry(make_plugin_manager())
    return _DEFAULT
