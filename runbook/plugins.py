"""Loading plugins and collecting what they contribute.

Built-in plugins are registered exactly like third-party ones, through the
``runbook`` entry point group declared in ``pyproject.toml``. From a bare
checkout (the distribution not installed, so no entry points) the same table
is read from the ``pyproject.toml`` beside the package: ``DEFAULT_PLUGINS`` is
derived from it, never edited, and ``plugins/`` is put on the path so the
built-in packages import. Adding a built-in plugin is one line in
``pyproject.toml``.
"""

from __future__ import annotations

import importlib
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pluggy

from runbook import hookspecs
from runbook.actions import Action
from runbook.errors import PluginError
from runbook.executors.base import Executor
from runbook.lazyactions import Actions

if TYPE_CHECKING:
    from runbook.samples import OutputParser

ExecutorFactory = Callable[[str, dict[str, Any]], Executor]

ROOT = Path(__file__).resolve().parent.parent
ENTRY_POINT_GROUP = "runbook"

_TABLE = re.compile(r"^\s*\[([^\]]+)\]\s*(?:#.*)?$")
_STRING_KEY = re.compile(r"""^\s*"?([A-Za-z0-9_.-]+)"?\s*=\s*(["'])([^"']*)\2\s*(?:#.*)?$""")


def pyproject_tables(text: str) -> dict[str, dict[str, str]]:
    """The ``key = "string"`` entries of each table of a pyproject.toml.

    Enough TOML for the ``[project]`` name and the entry point tables, without
    importing a TOML parser at start-up (and on Python 3.10, which has none)."""
    tables: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for line in text.splitlines():
        header = _TABLE.match(line)
        if header:
            current = tables.setdefault(header.group(1).strip(), {})
            continue
        entry = _STRING_KEY.match(line)
        if entry and current is not None:
            current[entry.group(1)] = entry.group(3)
    return tables


def declared_plugins(pyproject: Path = ROOT / "pyproject.toml") -> tuple[tuple[str, str], ...]:
    """(name, module) of the ``runbook`` entry points in this checkout's pyproject.toml;
    empty when the package is not in a checkout of the runbook project."""
    try:
        tables = pyproject_tables(pyproject.read_text(encoding="utf-8"))
    except OSError:
        return ()
    if tables.get("project", {}).get("name") != "runbook":
        return ()
    return tuple(tables.get(f"project.entry-points.{ENTRY_POINT_GROUP}", {}).items())


_DECLARED = declared_plugins()
DEFAULT_PLUGINS: tuple[str, ...] = tuple(module for _, module in _DECLARED)
"""The built-in plugins, registered when their entry points are not installed."""


@dataclass
class Registry:
    """Everything the loaded plugins contribute, by name."""

    pm: pluggy.PluginManager
    actions: Actions = field(default_factory=Actions)
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

    def parsers(self) -> dict[str, OutputParser]:
        """The output parsers the plugins declare (asked only by tests and tools)."""
        found: dict[str, OutputParser] = {}
        for mapping in self.pm.hook.runbook_parsers():
            _merge(found, mapping, "output parser")
        return found


def _merge(into: dict[str, Any], mapping: Mapping[str, Any], what: str) -> None:
    for name, value in mapping.items():
        if name in into and into[name] is not value:
            raise PluginError(f"{what} {name!r} is contributed twice")
        into[name] = value


def _import_builtin(name: str) -> Any:
    module_name, _, attr = name.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        plugins_dir = ROOT / "plugins"
        if plugins_dir.is_dir() and str(plugins_dir) not in sys.path:
            sys.path.append(str(plugins_dir))
        module = importlib.import_module(module_name)
    return getattr(module, attr) if attr else module


def make_plugin_manager(extra: Iterable[object] = (), *, entry_points: bool = True,
                        ) -> pluggy.PluginManager:
    pm = pluggy.PluginManager(ENTRY_POINT_GROUP)
    pm.add_hookspecs(hookspecs)
    if entry_points:
        pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
    for name, module_name in _DECLARED:
        try:
            plugin = _import_builtin(module_name)
        except ModuleNotFoundError:
            continue
        if not pm.is_registered(plugin):
            pm.register(plugin, name=name if pm.get_plugin(name) is None else module_name)
    for plugin in extra:
        pm.register(plugin)
    pm.check_pending()
    return pm


def _collect_actions(pm: pluggy.PluginManager) -> Actions:
    """A plugin answers with classes, or with ``{name: "module:Class" or class}`` (the
    module imported when the action is first used: see runbook.lazyactions)."""
    actions = Actions()
    for answer in pm.hook.runbook_actions():
        pairs = answer.items() if isinstance(answer, Mapping) else (
            (getattr(cls, "name", None), cls) for cls in answer)
        for name, value in pairs:
            actions.add(name, value)
    return actions


def _collect_executors(pm: pluggy.PluginManager) -> dict[str, ExecutorFactory]:
    executors: dict[str, ExecutorFactory] = {}
    for mapping in pm.hook.runbook_executors():
        _merge(executors, mapping, "connection kind")
    return executors


def build_registry(pm: pluggy.PluginManager) -> Registry:
    filters: dict[str, Callable[..., Any]] = {}
    for mapping in reversed(pm.hook.runbook_filters()):
        filters.update(mapping)
    return Registry(pm, _collect_actions(pm), _collect_executors(pm), filters)


_DEFAULT: Registry | None = None


def default_registry() -> Registry:
    """The registry of installed plugins, loaded once per process."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = build_registry(make_plugin_manager())
    return _DEFAULT
