"""What goes wrong with a state store (apart from the locks: ``LockedError``)."""

from __future__ import annotations

from runbook.errors import RunbookError


class StateError(RunbookError):
    """The state store cannot be used (unreachable, wrong schema): nothing ran (exit 2)."""


class StateLost(StateError):
    """The state store went away mid-run and did not come back within the retry bound."""
