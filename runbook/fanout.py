"""Fan-out arithmetic: batches (``serial``) and the failure budget (``max_fail``).

Both accept a count or a percentage of the hosts, as Ansible's ``serial`` and
``max_fail_percentage`` do, so a playbook reads the same for 3 hosts or 300.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

from runbook.errors import StepError
from runbook.models import Target


def _amount(value: int | str | None, total: int, *, default: int, field: str) -> int:
    if value is None:
        return default
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"{field} cannot be negative, got {value}")
        return value
    text = value.strip()
    try:
        if text.endswith("%"):
            pct = float(text[:-1])
            if not 0 <= pct <= 100:
                raise ValueError
            return math.floor(total * pct / 100)
        return int(text)
    except ValueError:
        raise ValueError(f"{field} must be a count or a percentage such as 25%, "
                         f"got {value!r}") from None


def batches(hosts: Sequence[str], serial: int | str | None) -> list[list[str]]:
    """Hosts split into consecutive batches; no ``serial`` means one batch of all."""
    size = _amount(serial, len(hosts), default=len(hosts), field="serial")
    size = max(1, size)
    return [list(hosts[i:i + size]) for i in range(0, len(hosts), size)]


def failure_budget(max_fail: int | str | None, total: int) -> int:
    """How many hosts may fail before the step fails (default: none)."""
    return _amount(max_fail, total, default=0, field="max_fail")


def group_members(targets: Mapping[str, Target], name: str,
                  _seen: frozenset[str] = frozenset(), *,
                  takes_host: Callable[[str], bool] = lambda kind: True,
                  ) -> tuple[list[str], dict[str, Target]]:
    """The target names a group fans out to, and the targets its bare host names stand
    for: each inherits the group's connection settings, with ``host`` set to it when
    its connection kind has a host (``takes_host(kind)``)."""
    group = targets[name]
    out: list[str] = []
    made: dict[str, Target] = {}
    for entry in group.hosts or []:
        if entry in _seen or entry == name:
            raise StepError(f"group {name!r} contains itself through {entry!r}", target=name)
        known = targets.get(entry)
        if known is not None:
            if known.hosts:
                names, more = group_members(targets, entry, _seen | {name},
                                            takes_host=takes_host)
                out += names
                made.update(more)
            else:
                out.append(entry)
            continue
        inherited = group.model_dump(exclude={"hosts"}, exclude_none=True, by_alias=True)
        if takes_host(group.connection):
            inherited["host"] = entry
        made[entry] = Target.model_validate(inherited)
        out.append(entry)
    return list(dict.fromkeys(out)), made
