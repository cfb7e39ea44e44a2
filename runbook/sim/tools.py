"""Entry point of every stand-in: find the sandbox, dispatch to the tool.

The generated scripts in ``DIR/bin`` call ``main(tool, DIR)``. Imports stay
lazy and stdlib-only because each stand-in invocation is a fresh process.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from runbook.sim.store import SandboxError

TOOLS: dict[str, str] = {
    "kubectl": "runbook.sim.kubectl",
    "kafka-consumer-groups.sh": "runbook.sim.kafka_groups",
    "kafka-console-consumer.sh": "runbook.sim.kafka_console",
    "cray": "runbook.sim.cray",
}
"""Stand-in name -> module with ``run(directory, argv) -> int``."""


def find_sandbox(directory: Path | None = None) -> Path:
    """The sandbox: as given, else ``$RUNBOOK_SIM_DIR``, else the script's ``../``."""
    if directory is not None:
        return Path(directory)
    if os.environ.get("RUNBOOK_SIM_DIR"):
        return Path(os.environ["RUNBOOK_SIM_DIR"])
    return Path(sys.argv[0]).resolve().parent.parent


def main(tool: str, directory: Path | None = None, argv: Sequence[str] | None = None) -> int:
    module = importlib.import_module(TOOLS[tool])
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        code: int = module.run(find_sandbox(directory), args)
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
