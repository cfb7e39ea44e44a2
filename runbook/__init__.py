"""runbook: operational procedures as code, planned, executed, rolled back and audited.

    import runbook
    playbook = runbook.load("playbooks/cfs-purge.yaml")
    result = runbook.run(playbook, {"namespace": "services"}, yes=True, reason="INC-1234")
    print(result.outcome, result.exit_code)

Heavy modules (pydantic models, the engine) load on first use, so that
``runbook --help`` and plugin imports stay fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runbook._plugin_markers import hookimpl
    from runbook.actions import (
        Action,
        ActionContext,
        Args,
        Invocation,
        NoOp,
    )
    from runbook.api import (
        plan,
        resume,
        run,
    )
    from runbook.engine import (
        Engine,
        RunOptions,
    )
    from runbook.errors import (
        CheckFailed,
        CommandError,
        PlaybookError,
        RunbookError,
        StepError,
        ValidationErrors,
    )
    from runbook.executors.base import (
        CommandResult,
        Executor,
        Process,
    )
    from runbook.loader import (
        load,
        loads,
        validate,
    )
    from runbook.models import (
        Check,
        Param,
        Playbook,
        Retry,
        Rollback,
        Step,
        Target,
    )
    from runbook.planner import (
        PlannedStep,
        WaitsOn,
    )
    from runbook.result import (
        CheckResult,
        Finding,
        RollbackResult,
        RunResult,
        StepResult,
    )
    from runbook.runtime import Runtime

__version__ = "0.1.0"

_LAZY = {
    "Action": "runbook.actions",
    "ActionContext": "runbook.actions",
    "Args": "runbook.actions",
    "Check": "runbook.models",
    "CheckFailed": "runbook.errors",
    "CheckResult": "runbook.result",
    "CommandError": "runbook.errors",
    "CommandResult": "runbook.executors.base",
    "Engine": "runbook.engine",
    "Executor": "runbook.executors.base",
    "Finding": "runbook.result",
    "Invocation": "runbook.actions",
    "NoOp": "runbook.actions",
    "Param": "runbook.models",
    "Playbook": "runbook.models",
    "PlannedStep": "runbook.planner",
    "PlaybookError": "runbook.errors",
    "Process": "runbook.executors.base",
    "Retry": "runbook.models",
    "Rollback": "runbook.models",
    "RollbackResult": "runbook.result",
    "RunOptions": "runbook.engine",
    "RunResult": "runbook.result",
    "RunbookError": "runbook.errors",
    "Runtime": "runbook.runtime",
    "Step": "runbook.models",
    "StepError": "runbook.errors",
    "StepResult": "runbook.result",
    "Target": "runbook.models",
    "ValidationErrors": "runbook.errors",
    "WaitsOn": "runbook.planner",
    "hookimpl": "runbook._plugin_markers",
    "load": "runbook.loader",
    "loads": "runbook.loader",
    "plan": "runbook.api",
    "resume": "runbook.api",
    "run": "runbook.api",
    "validate": "runbook.loader",
}

__all__ = [
    "Action",
    "ActionContext",
    "Args",
    "Check",
    "CheckFailed",
    "CheckResult",
    "CommandError",
    "CommandResult",
    "Engine",
    "Executor",
    "Finding",
    "Invocation",
    "NoOp",
    "Param",
    "PlannedStep",
    "Playbook",
    "PlaybookError",
    "Process",
    "Retry",
    "Rollback",
    "RollbackResult",
    "RunOptions",
    "RunResult",
    "RunbookError",
    "Runtime",
    "Step",
    "StepError",
    "StepResult",
    "Target",
    "ValidationErrors",
    "WaitsOn",
    "__version__",
    "hookimpl",
    "load",
    "loads",
    "plan",
    "resume",
    "run",
    "validate",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'runbook' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
