"""A whole plugin family, contributed from outside ``runbook/``: the lighthouse.

One package brings everything a new family needs: actions (``lamp.status``,
``lamp.switch`` with an automatic rollback), a connection kind with a
setting of its own (``connection: lamp-console``, ``tower: NAME``), and its
part of the simulated estate (the ``lampctl`` stand-in, the towers' world,
the ``bulb_broken`` fault and the ``lighthouse-dark`` scenario).
docs/hooks.md shows these files as its complete example; a test keeps the
two identical and runs a playbook against the scenario with ``--sandbox``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from runbook import hookimpl


@hookimpl
def runbook_actions() -> list[type[Any]]:
    from runbook_lighthouse.actions import LampStatus, LampSwitch

    return [LampStatus, LampSwitch]


@hookimpl
def runbook_executors() -> Mapping[str, Any]:
    from runbook_lighthouse.console import LAMP_CONSOLE

    return {"lamp-console": LAMP_CONSOLE}


@hookimpl
def runbook_sim_parts() -> list[Any]:
    from runbook_lighthouse.sim.part import PART

    return [PART]
