"""How tests bring this fixture plugin in: registered in-process, or installed by entry point."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PLUGINS_DIR = Path(__file__).resolve().parent.parent
ROOT = PLUGINS_DIR.parent.parent


@contextmanager
def registered() -> Iterator[None]:
    """The plugin registered with the default plugin manager for the block."""
    import runbook_simhosts
    from runbook.plugins import default_registry

    pm = default_registry().pm
    pm.register(runbook_simhosts, name="runbook_simhosts")
    try:
        yield
    finally:
        pm.unregister(name="runbook_simhosts")


def installed_env(site: Path) -> dict[str, str]:
    """An environment where the plugin is installed as a third-party one: a ``.dist-info``
    with an entry point in the ``runbook`` group, found on PYTHONPATH like site-packages."""
    info = site / "runbook_simhosts-0.1.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: runbook-simhosts\n"
                                   "Version: 0.1\n")
    (info / "entry_points.txt").write_text("[runbook]\nsimhosts = runbook_simhosts\n")
    path = [str(ROOT), str(ROOT / "plugins"), str(PLUGINS_DIR), str(site)]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(path)}


if str(PLUGINS_DIR) not in sys.path:
    sys.path.insert(0, str(PLUGINS_DIR))
