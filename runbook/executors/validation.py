"""A target's settings checked against its connection kind, where they are written.

The loader (playbooks) and the inventory ask the same question of every
target mapping: is each key a setting of this target's kind? A key that
belongs to another kind is named as such (``namespace`` on an ssh target,
``host`` where ``connection: ssh`` was forgotten); any other key gets a
did-you-mean; the values are checked by the kind's own settings model, so a
plugin's kind is validated with the same quality of message as a built-in.
Problems come back as (path inside the target, message) for the caller to
locate in its file.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from runbook.executors.kinds import COMMON_KEYS, ConnectionKind, kinds

if TYPE_CHECKING:
    from runbook.plugins import Registry
    from runbook.yamlsrc import Path as FieldPath

MISSING = "required field is missing"
"""The message of a required setting left out (see ``complete``)."""

Problems = list[tuple["FieldPath", str]]


def target_problems(registry: Registry, spec: Mapping[Any, Any], *,
                    inherited: str | None = None, complete: bool = False,
                    member: bool = False) -> Problems:
    """Every problem of a target mapping's settings (see ``check_target``)."""
    return check_target(registry, spec, inherited=inherited, complete=complete,
                        member=member)[0]


def check_target(registry: Registry, spec: Mapping[Any, Any], *,
                 inherited: str | None = None, complete: bool = False,
                 member: bool = False) -> tuple[Problems, dict[str, Any] | None]:
    """The problems of a target mapping, and its kind's settings as the model types
    them (None when there are problems). ``inherited``: the connection a group member
    gets from its group; ``complete``: report required settings left out (an
    inventory's own target, which nothing else completes); ``member``: a group
    member mapping, which also takes ``name`` and never ``hosts``."""
    every = kinds(registry)
    name = spec.get("connection", inherited or "local")
    if not isinstance(name, str):
        return [], None  # not a string: the model's type check reports it
    kind = every.get(name)
    if kind is None:
        return [(("connection",), f"unknown connection {name!r}; expected one of: "
                                  f"{', '.join(sorted(every))}")], None
    problems: Problems = []
    mine = _own_settings(kind, _declared(every), spec, member, problems)
    typed = _typed(kind, mine, complete, problems)
    return problems, (typed if not problems else None)


def _own_settings(kind: ConnectionKind, declared: Mapping[str, list[str]],
                  spec: Mapping[Any, Any], member: bool, problems: Problems) -> dict[str, Any]:
    """The keys of ``spec`` that are the kind's settings; the others become problems."""
    own = kind.setting_names if kind.settings is not None else tuple(declared)
    mine: dict[str, Any] = {}
    for key, value in spec.items():
        key = str(key)
        if key in COMMON_KEYS or (member and key == "name"):
            continue
        if key in own:
            mine[key] = value
        elif key in declared:
            problems.append(((key,), _misplaced(key, kind, own, declared[key])))
        else:
            problems.append(((key,), _unknown(key, declared, member)))
    return mine


def _declared(every: Mapping[str, ConnectionKind]) -> dict[str, list[str]]:
    """Each setting any kind declares -> the kinds that declare it, in order."""
    out: dict[str, list[str]] = {}
    for kind in every.values():
        for setting in kind.setting_names:
            out.setdefault(setting, []).append(kind.name)
    return out


def _misplaced(key: str, kind: ConnectionKind, own: tuple[str, ...],
               owners: list[str]) -> str:
    return (f"{key!r} is not a setting of connection: {kind.name} "
            f"(it belongs to connection: {' or '.join(owners)}); "
            f"connection: {kind.name} takes {', '.join(own)}")


def _unknown(key: str, declared: Mapping[str, list[str]], member: bool) -> str:
    allowed = {*COMMON_KEYS, *declared}
    if member:
        allowed = (allowed | {"name"}) - {"hosts"}
    hint = difflib.get_close_matches(key, sorted(allowed), n=1)
    return (f"unknown key {key!r}" + (f" (did you mean {hint[0]!r}?)" if hint else "")
            + f"; expected one of: {', '.join(sorted(allowed))}")


def _typed(kind: ConnectionKind, settings: dict[str, Any], complete: bool,
           problems: Problems) -> dict[str, Any]:
    if kind.settings is None:
        return settings
    try:
        model = kind.settings.model_validate(settings)
    except ValidationError as exc:
        from runbook.loader import pydantic_problems

        for loc, message in pydantic_problems(exc):
            if complete or message != MISSING:
                problems.append((loc, message))
        return settings  # only required settings left out: typed once complete
    return model.model_dump(exclude_unset=True, by_alias=True)
