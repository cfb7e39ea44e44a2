"""Entry point of every stand-in: find the sandbox, dispatch to the tool's module.

The generated scripts in ``DIR/bin`` carry what ``init`` found: the module
that implements the tool and where the parts' packages live. So a stand-in
invocation (a fresh process) imports only that module and the world modules
of the sandbox, never the plugin manager (see ``runbook.sim.loader``).
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from runbook.sim import loader
from runbook.sim.store import SandboxError


def find_sandbox(directory: Path | None = None) -> Path:
    """The sandbox: as given, else ``$RUNBOOK_SIM_DIR``, else the script's ``../``."""
    if directory is not None:
        return Path(directory)
    if os.environ.get("RUNBOOK_SIM_DIR"):
        return Path(os.environ["RUNBOOK_SIM_DIR"])
    return Path(sys.argv[0]).resolve().parent.parent


def main(tool: str, module: str, directory: Path | None = None,
         argv: Sequence[str] | None = None, packages: Mapping[str, str] | None = None) -> int:
    """Run stand-in ``tool`` (implemented by ``module``'s ``run``); its exit status."""
    loader.light_packages(packages or {})
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        code: int = importlib.import_module(module).run(find_sandbox(directory), args)
        sys.stdout.flush()
    except SandboxError as exc:
        print(f"{tool}: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # The reader went away (``| head``): exit quietly, as the real tools do.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except KeyboardInterrupt:
        return 130
    return code
