"""The pluggy markers for the ``runbook`` project, importable without the package root.

Built-in plugins inside the core (the audit log) import ``hookimpl`` from
here, so they do not depend on ``runbook/__init__.py`` and its re-exports.
"""

from __future__ import annotations

import pluggy

from runbook.hookspecs import hookspec

hookimpl = pluggy.HookimplMarker("runbook")

__all__ = ["hookimpl", "hookspec"]
