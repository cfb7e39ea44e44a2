"""The registry's actions by name, imported when first used.

A plugin may declare an action as ``"module:Class"`` under its dotted name instead
of handing over the class: the module is imported the first time the action is
looked up. A run then imports the actions its playbook names, not every action of
every installed plugin (the bundled ones alone define some sixty pydantic models,
a fifth of a one-step run's start-up). Listing every action (``runbook plugins``,
the schema) imports them all, and checks each declaration then.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from runbook.errors import PluginError

if TYPE_CHECKING:
    from runbook.actions import Action

ActionClass = type["Action[Any]"]


class Actions(Mapping[str, ActionClass]):
    """Action classes by dotted name; a declared ``"module:Class"`` is imported on lookup."""

    def __init__(self) -> None:
        self._entries: dict[str, ActionClass | str] = {}
        self._lock = threading.Lock()

    def add(self, name: str | None, value: ActionClass | str) -> None:
        if not isinstance(name, str) or "." not in name:
            what = value if isinstance(value, str) else getattr(value, "__qualname__", value)
            raise PluginError(f"action {what!r} has no dotted name (got {name!r}; expected "
                              "plugin.action)")
        if not isinstance(value, str) and getattr(value, "name", None) != name:
            raise PluginError(f"action {name!r} is declared with class "
                              f"{getattr(value, '__qualname__', value)!r}, whose name is "
                              f"{getattr(value, 'name', None)!r}")
        known = self._entries.get(name)
        if known is not None and known is not value:
            raise PluginError(f"action {name!r} is contributed twice")
        self._entries[name] = value

    def __getitem__(self, name: str) -> ActionClass:
        value = self._entries[name]
        if isinstance(value, str):
            with self._lock:
                value = self._entries[name]
                if isinstance(value, str):
                    value = self._entries[name] = _resolve(name, value)
        return value

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)


def _resolve(name: str, target: str) -> ActionClass:
    from runbook.actions import Action

    module_name, colon, attr = target.partition(":")
    if not colon or not module_name or not attr:
        raise PluginError(f"action {name!r} is declared as {target!r}; expected "
                          "'package.module:Class'")
    try:
        cls = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise PluginError(f"action {name!r} is declared as {target!r}, which cannot be "
                          f"imported: {exc}") from exc
    if not (isinstance(cls, type) and issubclass(cls, Action)):
        raise PluginError(f"action {name!r} is declared as {target!r}, which is not an "
                          "Action subclass")
    if cls.name != name:
        raise PluginError(f"action {name!r} is declared as {target!r}, whose name is "
                          f"{cls.name!r}")
    return cls
