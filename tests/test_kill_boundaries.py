"""A runner SIGKILLed at EVERY step boundary of ``cfs-purge`` (issue 13, faults).

The runner is a real process running ``playbooks/cfs-purge.yaml`` against a sandbox
of ``cfs-stuck-sessions``; an observer registered after the audit log kills it with
SIGKILL right after the Nth ``step.finished`` was written (or right after
``run.started``): exactly between two steps. ``runbook resume`` (or ``--rollback``)
then has to end consistently: the run finished in the journal and the audit log,
the lock free, the estate as the playbook promises (operator back at one replica,
batcher enabled), the audit chain verified. The cases run side by side (each with
its own state folder and sandbox) to keep the whole test well under a minute.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
PLAYBOOK = ROOT / "playbooks" / "cfs-purge.yaml"
STEPS = ["disable-batcher", "consume", "scale-down", "drained", "stop-consumer", "scale-up",
         "operator-ready", "enable-batcher"]
BOUNDARIES = [None, *STEPS]
"""Kill right after run.started (None), or right after step.finished of each step."""

DRIVER = """
import os, signal, sys
import runbook

after = sys.argv[3]

class Killer:
    def runbook_run_started(self, run):
        if after == "-":
            os.kill(os.getpid(), signal.SIGKILL)
    def runbook_step_finished(self, run, event):
        if event.step == after:
            os.kill(os.getpid(), signal.SIGKILL)

runbook.run(sys.argv[1], {"quiet_for": "1s"}, sandbox=sys.argv[2], yes=True,
            observers=[Killer()])
"""


def env(home: Path) -> dict[str, str]:
    return {**os.environ, "RUNBOOK_HOME": str(home), "RUNBOOK_ACTOR": "tester"}


def cli(home: Path, *args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "runbook", *map(str, args)], env=env(home),
                          stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=120, check=False)


def kill_and_finish(base: Path, after: str | None, rollback: bool) -> dict[str, Any]:
    """One case: the killed run, then resume (or --rollback); what the test checks."""
    from runbook import audit, sim
    from runbook.journal import Journal

    home, box = base / "home", base / "sandbox"
    sim.init_sandbox("cfs-stuck-sessions", box)
    killed = subprocess.run([sys.executable, "-c", DRIVER, PLAYBOOK, box, after or "-"],
                            env=env(home), stdin=subprocess.DEVNULL, capture_output=True,
                            text=True, timeout=120, check=False)
    try:
        assert killed.returncode == -signal.SIGKILL, killed.stderr
        events = [json.loads(line) for line in (home / "audit.jsonl").read_text().splitlines()]
        run_id = events[0]["run_id"]
        assert events[-1]["event"] == ("run.started" if after is None else "step.finished")
        finish = cli(home, "resume", run_id, "--yes", *(["--rollback"] if rollback else []))
        journal = Journal(home / "journal.db")
        try:
            run = journal.run(run_id)
        finally:
            journal.close()
        return {"run_id": run_id, "finish": finish, "home": home, "run": run,
                "verify": audit.verify(home / "audit.jsonl"),
                "state": json.loads((box / "state.json").read_text()),
                "locks": _locks(home)}
    finally:
        _stop_leftovers(box)


def _locks(home: Path) -> int:
    db = sqlite3.connect(home / "journal.db")
    try:
        return int(db.execute("SELECT count(*) FROM locks").fetchone()[0])
    finally:
        db.close()


def _stop_leftovers(box: Path) -> None:
    """The killed runner's background consumer outlives it: stop what runs in this
    sandbox (and only there)."""
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes()
        except OSError:
            continue
        if f"RUNBOOK_SIM_DIR={box}".encode() in environ.split(b"\0"):
            with contextlib.suppress(OSError):
                os.kill(int(pid), signal.SIGKILL)


CASES = [(after, i % 2 == 1) for i, after in enumerate(BOUNDARIES)]
"""Every boundary once; every other one finished with --rollback, the rest resumed."""


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str | None, bool],
                                                                 dict[str, Any]]:
    base = tmp_path_factory.mktemp("kills")

    def one(case: tuple[str | None, bool]) -> dict[str, Any]:
        after, rollback = case
        return kill_and_finish(base / f"{after or 'start'}-{'rb' if rollback else 'go'}",
                               after, rollback)

    with ThreadPoolExecutor(max_workers=len(CASES)) as pool:
        return dict(zip(CASES, pool.map(one, CASES), strict=True))


@pytest.mark.parametrize(("after", "rollback"), CASES)
def test_a_run_killed_at_a_step_boundary_ends_consistently(
        outcomes: dict[tuple[str | None, bool], dict[str, Any]], after: str | None,
        rollback: bool) -> None:
    got = outcomes[(after, rollback)]
    finish, run = got["finish"], got["run"]
    assert run is not None
    if rollback:
        assert run["status"] == "rolled-back", finish.stdout + finish.stderr
    else:
        assert run["status"] == "succeeded", finish.stdout + finish.stderr
    assert finish.returncode == run["exit_code"] == (1 if rollback else 0)
    # finished in the audit log too, with the journal's status and exit code
    events = [e for e in map(json.loads, (got["home"] / "audit.jsonl").read_text()
                             .splitlines()) if e["run_id"] == got["run_id"]]
    last = [e for e in events if e["event"] == "run.finished"]
    assert last and (last[-1]["status"], last[-1]["rc"]) == (run["status"], run["exit_code"])
    # the lock is free, the chain verifies, the estate is as the playbook promises
    assert got["locks"] == 0
    assert got["verify"].ok, got["verify"]
    state = got["state"]
    assert state["options"]["batcher_disable"] is False
    assert state["namespaces"]["services"]["deployments"]["cray-cfs-operator"]["replicas"] == 1
