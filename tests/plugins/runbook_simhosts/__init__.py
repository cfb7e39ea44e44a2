"""A fixture plugin: a tiny part of the simulated estate with hosts, contributed only by tests.

It touches nothing under ``runbook/``: one hook brings a stand-in tool
(``hostinfo``), its slice of the world, a fault and a scenario with three
simulated hosts. Tests register it in-process (``pm.register``) or install
it through an entry point (a ``.dist-info`` folder on PYTHONPATH).
"""

from __future__ import annotations

from typing import Any

from runbook import hookimpl


@hookimpl
def runbook_sim_parts() -> list[Any]:
    from runbook_simhosts.sim.part import PART

    return [PART]
