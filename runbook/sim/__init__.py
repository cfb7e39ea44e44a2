"""The simulated estate: a framework for stand-in CLI tools sharing one state file.

The estate itself comes from plugins: each contributes parts (stand-in tools,
its slice of the world and how it evolves, faults, scenarios, simulated
hosts) through the ``runbook_sim_parts`` hook (see ``runbook.sim.parts`` and
docs/simulated-estate.md). ``init_sandbox("cfs-stuck-sessions", path)``
creates ``path/state.json``, ``path/bin/`` (one script per stand-in) and
``path/hosts/``; with ``sandbox_env(path)`` merged into the environment,
plugins drive the simulation through their usual commands. Stdlib only, and
the names below are imported on first use: every stand-in invocation is a
fresh process that needs only its own tool.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runbook.sim.parts import Fault, Host, Part, Scenario
    from runbook.sim.sandbox import (
        describe_state,
        init_sandbox,
        list_tools,
        load_state,
        sandbox_env,
        set_fault,
        set_host_up,
    )
    from runbook.sim.scenarios import all_parts, all_scenarios, list_scenarios
    from runbook.sim.store import SandboxError
    from runbook.sim.transport import for_sandbox

_HOMES = {
    "describe_state": "sandbox", "init_sandbox": "sandbox", "load_state": "sandbox",
    "sandbox_env": "sandbox", "set_fault": "sandbox", "set_host_up": "sandbox",
    "list_tools": "sandbox", "list_scenarios": "scenarios", "all_scenarios": "scenarios",
    "all_parts": "scenarios", "SandboxError": "store", "Fault": "parts", "Host": "parts",
    "Part": "parts", "Scenario": "parts", "for_sandbox": "transport",
}
_COMPUTED = {"SCENARIOS": "all_scenarios", "FAULTS": "all_faults",
             "DEFAULT_KNOBS": "default_knobs"}
"""Names whose value depends on the loaded plugins: computed on each access."""

__all__ = [
    "DEFAULT_KNOBS",
    "FAULTS",
    "SCENARIOS",
    "Fault",
    "Host",
    "Part",
    "SandboxError",
    "Scenario",
    "all_parts",
    "all_scenarios",
    "describe_state",
    "for_sandbox",
    "init_sandbox",
    "list_scenarios",
    "list_tools",
    "load_state",
    "sandbox_env",
    "set_fault",
    "set_host_up",
]


def __getattr__(name: str) -> Any:
    if name in _COMPUTED:
        return getattr(importlib.import_module("runbook.sim.scenarios"), _COMPUTED[name])()
    if name not in _HOMES:
        raise AttributeError(f"module 'runbook.sim' has no attribute {name!r}")
    return getattr(importlib.import_module(f"runbook.sim.{_HOMES[name]}"), name)
