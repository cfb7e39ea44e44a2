"""How to run: every choice the CLI flags (or a script) can make, as data."""

from __future__ import annotations

import getpass
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runbook.models import Target

if TYPE_CHECKING:
    from runbook.approval import PlanApproval
    from runbook.connections import Transport
    from runbook.gates import Prompt
    from runbook.prefetch import Prefetch


@dataclass
class RunOptions:
    """How to run: everything the CLI flags can say, as data."""

    dry_run: bool = False
    offline: bool = False
    yes: bool = False
    reason: str | None = None
    actor: str | None = None
    audit_log: str | Path | None = None
    audit: bool = True
    interactive: bool | None = None
    prompt: Prompt | None = None
    env: dict[str, str] = field(default_factory=dict)
    targets: dict[str, Target] = field(default_factory=dict)
    observers: list[object] = field(default_factory=list)
    forks: int = 10
    expected_commands: dict[str, list[str]] = field(default_factory=dict)
    """From a saved plan: each mutating step must run exactly these commands."""
    journal: bool = True
    journal_path: str | Path | None = None
    force_unlock: bool = False
    state_url: str | None = None
    """Where runs are kept (``--state``): None is ``$RUNBOOK_STATE``, else the local
    journal and audit log; ``postgresql://...`` a team's shared database."""
    lock: bool = True
    prefetch: Prefetch | None = None
    """Connections the CLI began opening while the engine loaded (runbook.prefetch)."""
    sandbox: Path | None = None
    """A simulated estate's folder: local commands run with its stand-in tools on PATH."""
    from_cli: bool = False
    """Errors about params and the sandbox speak of the command line (``-p``,
    ``--sandbox``) rather than of the Python call."""
    approval: PlanApproval | None = None
    """From an approved saved plan: its gates are not asked again (runbook.approval)."""


def run_shape(options: RunOptions) -> dict[str, Any]:
    """What shapes a run besides the playbook and params, as the journal keeps it for
    its resume: the sandbox and the targets given (inventory, ``--target``), without
    settings that look secret."""
    return {"sandbox": str(Path(options.sandbox).resolve()) if options.sandbox else None,
            "targets": {name: {k: v for k, v in t.model_dump(mode="json",
                                                              exclude_none=True).items()
                               if not _SECRET_KEY.search(k)}
                        for name, t in options.targets.items()}}


_SECRET_KEY = re.compile(r"pass|secret|token", re.I)


def local_env(options: RunOptions) -> dict[str, str]:
    """The local executor's environment: the caller's, plus a sandbox's stand-ins."""
    if options.sandbox is None:
        return dict(options.env)
    from runbook import sim

    return {**options.env, **sim.sandbox_env(Path(options.sandbox))}


def transport_for(options: RunOptions) -> Transport | None:
    """In a sandbox, SSH targets on its simulated hosts run there, without an sshd."""
    if options.sandbox is None:
        return None
    from runbook.sim.transport import for_sandbox

    return for_sandbox(Path(options.sandbox))


def default_actor() -> str:
    """Who runs: ``$RUNBOOK_ACTOR``, else the login name (else the uid)."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid())
    return os.environ.get("RUNBOOK_ACTOR", user)
