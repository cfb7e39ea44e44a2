"""The ``host`` plugin: commands on a host (local or over SSH)."""

from __future__ import annotations

from typing import Any

from runbook import hookimpl
from runbook_host.shell import Query, Shell


@hookimpl
def runbook_actions() -> list[type[Any]]:
    return [Shell, Query]
