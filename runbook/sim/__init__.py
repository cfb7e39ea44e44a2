"""The simulated estate: stand-in CLI tools sharing one state file.

``init_sandbox("cfs-stuck-sessions", path)`` creates ``path/state.json`` and
``path/bin/`` (``kubectl``, ``kafka-console-consumer.sh``,
``kafka-consumer-groups.sh``, ``cray``); with ``sandbox_env(path)`` merged
into the environment, plugins drive the simulation through their usual
commands. Stdlib only, and the names below are imported on first use: every
stand-in invocation is a fresh process that needs only its own tool.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runbook.sim.sandbox import (
        describe_state,
        init_sandbox,
        load_state,
        sandbox_env,
        set_fault,
    )
    from runbook.sim.scenarios import DEFAULT_KNOBS, FAULTS, SCENARIOS, Scenario, list_scenarios
    from runbook.sim.store import SandboxError

_HOMES = {
    "describe_state": "sandbox", "init_sandbox": "sandbox", "load_state": "sandbox",
    "sandbox_env": "sandbox", "set_fault": "sandbox", "DEFAULT_KNOBS": "scenarios",
    "FAULTS": "scenarios", "SCENARIOS": "scenarios", "Scenario": "scenarios",
    "list_scenarios": "scenarios", "SandboxError": "store",
}

__all__ = [
    "DEFAULT_KNOBS",
    "FAULTS",
    "SCENARIOS",
    "SandboxError",
    "Scenario",
    "describe_state",
    "init_sandbox",
    "list_scenarios",
    "load_state",
    "sandbox_env",
    "set_fault",
]


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'runbook.sim' has no attribute {name!r}")
    return getattr(importlib.import_module(f"runbook.sim.{_HOMES[name]}"), name)
