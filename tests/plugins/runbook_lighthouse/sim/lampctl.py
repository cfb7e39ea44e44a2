"""Stand-in ``lampctl [--tower NAME] status | switch on|off`` (the tower: ``$LAMP_TOWER``)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from runbook.sim.store import transaction


def run(directory: Path, argv: list[str]) -> int:
    tower = os.environ.get("LAMP_TOWER", "")
    if argv[:1] == ["--tower"] and len(argv) > 1:
        tower, argv = argv[1], argv[2:]
    with transaction(directory) as state:
        lamps = state["lighthouse"]["lamps"]
        if tower not in lamps:
            print(f"lampctl: no tower {tower!r}", file=sys.stderr)
            return 2
        if argv == ["status"]:
            pass
        elif argv[:1] == ["switch"] and argv[1:] in (["on"], ["off"]):
            if argv[1] == "on" and state["faults"].get("bulb_broken"):
                print("lampctl: the bulb is broken", file=sys.stderr)
                return 1
            lamps[tower] = argv[1]
            state["lighthouse"]["switches"] += 1
        else:
            print("usage: lampctl [--tower NAME] status | switch on|off", file=sys.stderr)
            return 2
        print(json.dumps({"tower": tower, "lamp": lamps[tower]}))
    return 0
