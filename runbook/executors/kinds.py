"""Connection kinds: what an executor declares about the targets it serves.

A target's ``connection`` names a kind, and the kind alone knows its
targets: which settings they take (a pydantic model, checked when a
playbook or inventory is loaded so a misspelt setting is refused with file,
line and field), how ``--target NAME=SCHEME://...`` becomes those settings,
which settings it fills in itself, which settings name other targets
(``via``, ``jump``: the run hands over those targets' executors), whether
its connection is worth opening before the run starts, and how its executor
is built. Nothing outside this package asks "is this an ssh target?".

Plugins contribute kinds through the ``runbook_executors`` hook, as a
mapping of kind name to ``ConnectionKind``; a bare factory (the older
shape) is still accepted and becomes a kind without a settings model of its
own (it takes the settings the other kinds declare, as before).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from runbook.errors import PlaybookError, PluginError
from runbook.executors.base import Executor

if TYPE_CHECKING:
    from runbook.plugins import Registry

ExecutorFactory = Callable[[str, dict[str, Any]], Executor]
"""Builds the executor of one target: ``factory(target_name, settings)``."""

COMMON_KEYS = ("connection", "hosts", "vars", "shared")
"""What every target has, whatever its kind."""


@dataclass(frozen=True)
class TargetURI:
    """A ``--target`` URI in parts: the query options are decoded, each given once."""

    text: str
    scheme: str
    netloc: str
    path: str
    options: dict[str, str]


@dataclass(frozen=True, eq=False)
class ConnectionKind:
    """One connection kind, as its plugin declares it.

    ``settings`` is a pydantic model (``extra="forbid"``) of the settings a
    target of this kind takes; a setting that is required there may still be
    left out of a playbook's target or a group (an inventory fills it in) but
    not out of an inventory's own target. ``defaults`` are settings filled in
    when a target leaves them out (a reference there names a target, such as
    ``via: local``). ``references`` are the settings that name another target:
    the factory receives that target's ``Executor`` instead of the name.
    ``scheme`` with ``from_uri`` (``TargetURI`` -> settings, ValueError saying
    what is wrong) parses ``--target NAME=SCHEME://...``; ``uri_options`` are
    the query options it accepts and ``uri_form`` shows the URI in messages.
    ``connect_early`` (given the settings) says whether a run may open the
    connection in the background while it loads. ``local`` kinds run commands
    on this machine: a run's own environment (the sandbox's PATH) is added
    to their ``env`` setting. The ``factory`` should import heavy modules
    (paramiko) only when called.
    """

    name: str
    factory: ExecutorFactory
    settings: type[BaseModel] | None = None
    defaults: Mapping[str, Any] = field(default_factory=dict)
    references: tuple[str, ...] = ()
    scheme: str | None = None
    from_uri: Callable[[TargetURI], dict[str, Any]] | None = None
    uri_options: tuple[str, ...] = ()
    uri_form: str = ""
    connect_early: Callable[[Mapping[str, Any]], bool] | None = None
    local: bool = False

    def __call__(self, name: str, settings: dict[str, Any]) -> Executor:
        """A kind is also its factory (what ``Registry.executors`` always held)."""
        return self.factory(name, settings)

    @property
    def setting_names(self) -> tuple[str, ...]:
        """The settings this kind declares, in their declared order."""
        if self.settings is None:
            return ()
        return tuple(f.alias or n for n, f in self.settings.model_fields.items())

    @property
    def reaches_hosts(self) -> bool:
        """Whether a bare host name in a group becomes a target of this kind
        (``host:`` set to it): kinds with a ``host`` setting, and older kinds
        that declare nothing."""
        return self.settings is None or "host" in self.setting_names

    def typed(self, settings: Mapping[str, Any], *, where: str) -> dict[str, Any]:
        """``settings`` as the model types them (``10s`` -> 10.0); PlaybookError naming
        the field when one does not fit. Required settings left out are the executor's
        to report (a playbook's target may be completed by an inventory)."""
        if self.settings is None:
            return dict(settings)
        try:
            model = self.settings.model_validate(dict(settings))
        except ValidationError as exc:
            wrong = [e for e in exc.errors(include_url=False) if e["type"] != "missing"]
            if wrong:
                loc = ".".join(str(p) for p in wrong[0]["loc"])
                message = str(wrong[0]["msg"]).removeprefix("Value error, ")
                raise PlaybookError(f"{self.name} target: {loc}: {message}",
                                    field=f"{where}.{loc}") from exc
            return dict(settings)
        typed = model.model_dump(exclude_unset=True, exclude_none=True, by_alias=True)
        return {**settings, **{k: v for k, v in typed.items() if k in settings}}

    def prepare(self, settings: Mapping[str, Any], *, where: str) -> dict[str, Any]:
        """The settings the factory gets (before references become executors): the
        kind's defaults under the target's own, typed by the model."""
        return self.typed({**self.defaults, **settings}, where=where)


def kinds(registry: Registry) -> dict[str, ConnectionKind]:
    """Every connection kind of a registry, by name (older bare factories wrapped)."""
    out: dict[str, ConnectionKind] = {}
    for name, value in registry.executors.items():
        if isinstance(value, ConnectionKind):
            if value.name != name:
                raise PluginError(f"connection kind {value.name!r} is contributed "
                                  f"under the name {name!r}")
            out[name] = value
        else:
            out[name] = _legacy(name, value)
    return out


_LEGACY: dict[tuple[str, int], ConnectionKind] = {}


def _legacy(name: str, factory: ExecutorFactory) -> ConnectionKind:
    key = (name, id(factory))
    found = _LEGACY.get(key)
    if found is None or found.factory is not factory:
        found = _LEGACY[key] = ConnectionKind(name=name, factory=factory,
                                               references=("jump", "via"))
    return found


def reference_settings(registry: Registry) -> tuple[str, ...]:
    """Every setting that names another target, over all kinds (``jump``, ``via``)."""
    return tuple(dict.fromkeys(ref for kind in kinds(registry).values()
                               for ref in kind.references))


def leads_back(start: str, ref_of: Callable[[str], str | None]) -> bool:
    """Whether following a reference (``jump``, ``via``: ``ref_of(name)``) from ``start``
    comes back to it: a playbook's targets and an inventory's are checked the same way."""
    seen, current = {start}, start
    while True:
        ref = ref_of(current)
        if ref is None:
            return False
        if ref in seen:
            return ref == start
        seen.add(ref)
        current = ref


def kind_of(registry: Registry, name: str) -> ConnectionKind | None:
    """The kind called ``name``, or None when no plugin contributes it."""
    value = registry.executors.get(name)
    if value is None or isinstance(value, ConnectionKind):
        return value
    return _legacy(name, value)
