"""The library: run, plan and resume playbooks from Python, as the CLI does."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from runbook.engine import Engine, RunOptions
from runbook.models import Playbook
from runbook.result import RunResult


def run(playbook: Playbook | str | Path, params: Mapping[str, Any] | None = None,
        **options: Any) -> RunResult:
    """Run a playbook (a loaded one, or a path) and return the typed result."""
    if not isinstance(playbook, Playbook):
        from runbook.loader import load

        playbook = load(playbook)
    registry = options.pop("registry", None)
    return Engine(playbook, params, RunOptions(**options), registry=registry).run()


def plan(playbook: Playbook | str | Path, params: Mapping[str, Any] | None = None,
         **options: Any) -> RunResult:
    """A dry-run: the same engine with mutating execution switched off."""
    return run(playbook, params, dry_run=True, **options)
