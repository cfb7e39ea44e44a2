"""Where runbook keeps its state, shared by the audit log and the journal.

One function decides, so that ``runbook audit`` and ``runbook resume`` never
look in different places for the same run.
"""

from __future__ import annotations

import os
from pathlib import Path


def runbook_home() -> Path:
    """The state directory: ``$RUNBOOK_HOME``, else ``$XDG_STATE_HOME/runbook``,
    else ``~/.local/state/runbook``.

    Nothing is created here; writers create what they need with private
    permissions. A relative ``XDG_STATE_HOME`` is ignored, as the XDG base
    directory spec requires, so the answer never depends on the current
    directory by accident.
    """
    home = os.environ.get("RUNBOOK_HOME")
    if home:
        return Path(home).expanduser()
    xdg = os.environ.get("XDG_STATE_HOME")
    if xdg and os.path.isabs(xdg):
        return Path(xdg) / "runbook"
    return Path.home() / ".local" / "state" / "runbook"
