"""paramiko, imported without ``invoke``.

``paramiko.config`` imports ``invoke`` (as long again as the rest of paramiko's
import) only to run ssh_config's ``Match exec``; runbook never reads an ssh_config,
and every SSH run waits for this import before its first handshake. ``invoke`` is
hidden only while paramiko loads, so a later ``import invoke`` (a plugin's, a
script's) works as usual.
"""

from __future__ import annotations

import sys


def load() -> None:
    """Import paramiko with ``import invoke`` failing, unless either is loaded already."""
    if "paramiko" in sys.modules or "invoke" in sys.modules:
        return
    sys.modules["invoke"] = None  # type: ignore[assignment]  # import invoke -> ImportError
    try:
        import paramiko  # noqa: F401
    finally:
        if "invoke" in sys.modules and sys.modules["invoke"] is None:
            del sys.modules["invoke"]


load()
