"""The CFS procedures end to end against the simulated estate.

Each test runs the real CLI on a sandbox folder and then reads the world
(the sandbox's state file) and the audit trail: lag on cfs-session-events,
the operator's replicas, the batcher options.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from runbook import sim

ROOT = Path(__file__).resolve().parent.parent
PURGE = ROOT / "playbooks" / "cfs-purge.yaml"
BACKOFF = ROOT / "playbooks" / "cfs-backoff-reset.yaml"


def sandbox(tmp_path: Path, scenario: str) -> Path:
    directory = tmp_path / scenario
    sim.init_sandbox(scenario, directory)
    return directory


def runbook(*args: str | Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "runbook", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout, check=False)


def world(directory: Path) -> dict[str, Any]:
    """The estate now (loading advances the simulated clock to the present)."""
    return sim.load_state(directory)


def lag(state: dict[str, Any], group: str = "cfs-operator",
        topic: str = "cfs-session-events") -> int:
    partitions = state["kafka"]["topics"][topic]["partitions"]
    offsets = state["kafka"]["groups"][group]["offsets"][topic]
    pairs = zip(partitions, offsets, strict=True)
    return sum(p["start"] + len(p["records"]) - (o or 0) for p, o in pairs)


def operator_replicas(state: dict[str, Any]) -> int:
    replicas: int = state["namespaces"]["services"]["deployments"]["cray-cfs-operator"][
        "replicas"]
    return replicas


def audit_events(home: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (home / "audit.jsonl").read_text().splitlines()]


def test_purge_drains_the_queue_and_restores_the_operator(tmp_path: Path,
                                                          runbook_home: Path) -> None:
    box = sandbox(tmp_path, "cfs-stuck-sessions")
    before = world(box)
    assert lag(before) > 0 and operator_replicas(before) == 1

    proc = runbook("run", PURGE, "--sandbox", box, "--yes", "-p", "quiet_for=1s",
                   "--reason", "INC-7")
    assert proc.returncode == 0, proc.stdout + proc.stderr

    after = world(box)
    assert lag(after) == 0
    assert operator_replicas(after) == 1
    assert after["options"]["batcher_disable"] is False
    assert after["options"]["batcher_max_backoff"] == 3600
    assert after["kafka"]["groups"]["cfs-operator"]["members"] == [] or all(
        m["client_id"] != "console-consumer" for m in after["kafka"]["groups"]["cfs-operator"][
            "members"])

    events = audit_events(runbook_home)
    started = [e["step"] for e in events if e["event"] == "step.started"]
    assert started == ["disable-batcher", "consume", "scale-down", "drained", "stop-consumer",
                       "scale-up", "operator-ready", "enable-batcher"]
    scale = next(e for e in events if e["event"] == "step.started" and e["step"] == "scale-down")
    assert scale["argv"] == ["kubectl", "-n", "services", "scale", "deployment/cray-cfs-operator",
                             "--replicas=0"]
    consume = next(e for e in events if e["event"] == "step.started" and e["step"] == "consume")
    assert consume["argv"][:7] == ["kubectl", "-n", "services", "exec",
                                   "cray-shared-kafka-kafka-0", "-c", "kafka"]
    assert {e["reason"] for e in events} == {"INC-7"}
    gates = [e for e in events if e["event"] == "gate.answered"]
    assert [g["step"] for g in gates] == ["disable-batcher", "scale-down"]
    assert not [e for e in events if e["event"].startswith("rollback")]
    assert events[-1]["event"] == "run.finished" and events[-1]["status"] == "succeeded"


def test_backoff_reset_fixes_the_option_and_the_backlog_drains(tmp_path: Path) -> None:
    box = sandbox(tmp_path, "cfs-backoff-changed")
    assert world(box)["options"]["batcher_max_backoff"] == 120

    proc = runbook("run", BACKOFF, "--sandbox", box, "--yes")
    assert proc.returncode == 0, proc.stdout + proc.stderr

    after = world(box)
    assert after["options"]["batcher_max_backoff"] == 3600
    assert lag(after) == 0


def test_backoff_reset_is_a_noop_when_already_at_default(tmp_path: Path,
                                                         runbook_home: Path) -> None:
    box = sandbox(tmp_path, "cfs-stuck-sessions")  # symptoms, but backoff already 3600
    proc = runbook("plan", BACKOFF, "--sandbox", box, "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    reset = next(s for s in result["steps"] if s["id"] == "reset-backoff")
    assert reset["status"] == "skipped"
    assert "-> false" in reset["when"]
    assert world(box)["options"]["batcher_max_backoff"] == 3600
    updates = [e for e in audit_events(runbook_home)
               if e["event"] == "step.started" and e["step"] == "reset-backoff"]
    assert updates == []


@pytest.mark.parametrize("playbook", [PURGE, BACKOFF], ids=["purge", "backoff-reset"])
def test_both_refuse_on_a_healthy_estate(tmp_path: Path, playbook: Path) -> None:
    box = sandbox(tmp_path, "cfs-healthy")
    before = world(box)
    proc = runbook("run", playbook, "--sandbox", box, "--yes")
    assert proc.returncode == 6, proc.stdout + proc.stderr
    assert "this runbook does not apply" in proc.stdout
    after = world(box)
    assert after["options"] == before["options"]
    assert operator_replicas(after) == operator_replicas(before)


def test_plan_shows_live_state_and_changes_nothing(tmp_path: Path) -> None:
    box = sandbox(tmp_path, "cfs-stuck-sessions")
    before = world(box)
    proc = runbook("plan", PURGE, "--sandbox", box)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    # live answers: the backlog, and rollbacks computed from the captured state
    assert "result.total_lag = " in out
    observed_lag = int(out.split("result.total_lag = ")[1].split(")")[0])
    assert observed_lag > 0
    assert "rollback: auto: kubectl -n services scale deployment/cray-cfs-operator " \
           "--replicas=1" in out
    assert "rollback: auto: cray cfs v3 options update --batcher-disable false" in out
    assert "$ cray cfs v3 options update --batcher-disable true --format json" in out
    assert out.count("MUTATES") == 5  # batcher x2, consumer, operator x2
    assert "gate: asks: Scaling cray-cfs-operator to 0" in out
    after = world(box)
    assert after["options"] == before["options"]
    assert operator_replicas(after) == 1
    assert after["kafka"]["groups"]["cfs-operator"]["members"] == []
    assert lag(after) > 0


def test_plan_of_backoff_reset_shows_the_live_backoff(tmp_path: Path) -> None:
    box = sandbox(tmp_path, "cfs-backoff-changed")
    proc = runbook("plan", BACKOFF, "--sandbox", box)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "observed options.batcher_max_backoff = 120" in proc.stdout
    assert "rollback: auto: cray cfs v3 options update --batcher-max-backoff 120" in proc.stdout
    assert world(box)["options"]["batcher_max_backoff"] == 120


def test_a_consumer_that_never_goes_quiet_rolls_everything_back(tmp_path: Path,
                                                                runbook_home: Path) -> None:
    box = sandbox(tmp_path, "cfs-stuck-sessions")
    sim.set_fault(box, "consumer_never_quiet", True)
    proc = runbook("run", PURGE, "--sandbox", box, "--yes", "-p", "quiet_for=2s",
                   "-p", "max_wait=4s")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "still printing" in proc.stdout

    after = world(box)
    assert operator_replicas(after) == 1           # scaled back to the captured count
    assert after["options"]["batcher_disable"] is False  # batcher restored
    members = after["kafka"]["groups"]["cfs-operator"]["members"]
    assert all(m.get("pid") is None or not _alive(m["pid"]) for m in members)

    events = audit_events(runbook_home)
    rolled = [e["step"] for e in events if e["event"] == "rollback.finished"]
    assert rolled == ["scale-down", "disable-batcher"]
    assert all(e["status"] == "ok" for e in events if e["event"] == "rollback.finished")
    assert events[-1]["status"] == "rolled-back"


def _alive(pid: int) -> bool:
    import os

    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_stand_in_rejects_flags_the_real_tool_rejects(tmp_path: Path) -> None:
    box = sandbox(tmp_path, "cfs-healthy")
    env = {"PATH": sim.sandbox_env(box)["PATH"]}
    proc = subprocess.run(["kubectl", "scale", "deployment/x", "--replicas=1", "--frobnicate"],
                          env=env, capture_output=True, text=True, check=False, timeout=30)
    assert proc.returncode != 0
    assert "unknown flag" in proc.stderr
