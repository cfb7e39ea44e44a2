"""How to run: every choice the CLI flags (or a script) can make, as data."""

from __future__ import annotations

import getpass
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runbook.models import Playbook, Target

if TYPE_CHECKING:
    from runbook.approval import PlanApproval
    from runbook.connections import Transport
    from runbook.gates import Prompt
    from runbook.plugins import Registry
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
    limit: str | None = None
    """``--limit PATTERN``: narrow every group target (runbook.limit)."""
    tags: tuple[str, ...] = ()
    skip_tags: tuple[str, ...] = ()
    start_at: str | None = None
    """``--tags``/``--skip-tags``/``--start-at``: steps left out (runbook.tags)."""
    on_output: Callable[[str, str, str, str], None] | None = None
    """Given (step, target, stream, line), redacted, for each line a foreground command
    prints as it prints it (``-vv``); commands then stream instead of running quietly."""
    verbosity: int = 0
    """The console: -1 only the summary (``-q``), 1 commands (``-v``), 2 output too."""
    narrowed: str | None = None
    """The limit ``targets`` were already narrowed by (``select`` runs once per limit)."""
    skips: dict[str, str] = field(default_factory=dict)
    """Each step left out and why, as ``selection`` decided (kept for a resume)."""

    def selection(self) -> dict[str, Any]:
        """The choices that narrow a run, as the audit log and plan files keep them."""
        chosen = {"limit": self.limit, "tags": list(self.tags),
                  "skip_tags": list(self.skip_tags), "start_at": self.start_at}
        return {k: v for k, v in chosen.items() if v}


def select(playbook: Playbook, options: RunOptions, registry: Registry) -> dict[str, Target]:
    """Apply ``--limit`` to the targets and decide the steps ``--tags``, ``--skip-tags``
    and ``--start-at`` leave out (PlaybookError when they cannot be honoured); the
    targets the run uses (narrowed, so the journal keeps them for a resume)."""
    if options.limit and options.narrowed != options.limit:
        from runbook.limit import narrow

        options.targets = narrow(playbook, options.targets, options.limit, registry)
        options.narrowed = options.limit
    if options.tags or options.skip_tags or options.start_at:
        from runbook.tags import skipped_steps

        options.skips = skipped_steps(playbook, tags=options.tags,
                                      skip_tags=options.skip_tags, start_at=options.start_at)
    return options.targets


def run_shape(options: RunOptions) -> dict[str, Any]:
    """What shapes a run besides the playbook and params, as the journal keeps it for
    its resume: the sandbox and the targets given (inventory, ``--target``), without
    settings that look secret."""
    return {**({"skips": options.skips} if options.skips else {}),
            **({"approval": options.approval.journaled()} if options.approval else {}),
            "sandbox": str(Path(options.sandbox).resolve()) if options.sandbox else None,
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
