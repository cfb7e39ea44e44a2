"""The ``kubectl`` plugin: read and change Kubernetes objects through the real kubectl."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from runbook import hookimpl
from runbook_kubectl.actions import ACTIONS
from runbook_kubectl.set_image import SetImage

if TYPE_CHECKING:
    from runbook.samples import OutputParser


@hookimpl
def runbook_actions() -> list[type[Any]]:
    from runbook_kubectl.pods import PodsLogScan, RestartPods
    from runbook_kubectl.restart import RolloutRestart

    return [*ACTIONS, SetImage, RolloutRestart, PodsLogScan, RestartPods]


@hookimpl
def runbook_parsers() -> dict[str, OutputParser]:
    from runbook_kubectl.parse import PARSERS

    return PARSERS


@hookimpl
def runbook_sim_parts() -> list[Any]:
    from runbook_kubectl.sim.part import PART

    return [PART]
