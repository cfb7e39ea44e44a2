"""Fan-out arithmetic: batches (``serial``) and the failure budget (``max_fail``).

Both accept a count or a percentage of the hosts, as Ansible's ``serial`` and
``max_fail_percentage`` do, so a playbook reads the same for 3 hosts or 300.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


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
