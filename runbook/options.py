"""How to run: every choice the CLI flags (or a script) can make, as data."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from runbook.models import Target

if TYPE_CHECKING:
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
    lock: bool = True
    prefetch: Prefetch | None = None
    """Connections the CLI began opening while the engine loaded (runbook.prefetch)."""
    sandbox: Path | None = None
    """A simulated estate's folder: local commands run with its stand-in tools on PATH."""
    from_cli: bool = False
    """Errors about params and the sandbox speak of the command line (``-p``,
    ``--sandbox``) rather than of the Python call."""
