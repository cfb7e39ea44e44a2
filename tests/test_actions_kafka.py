"""The Kafka actions on the CFS estate, run through the engine against the simulated estate.

``kafka.reset_offsets`` moves the group's committed offsets in the estate (and
refuses while the group has members), ``kafka.reset_offsets_preview`` shows the
same plan and moves nothing, ``kafka.commit_progress`` tells a consuming group
from a stopped one. Each test runs the real CLI with ``--sandbox`` and then
reads the world and the audit trail.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import audit_events, json_step, run_json, write_playbook

from runbook import sim

GROUP = "cfs-operator"
TOPIC = "cfs-session-events"
KAFKA = {"bootstrap_server": "kafka:9092", "group": GROUP}
RESET = {**KAFKA, "topic": TOPIC, "to": "earliest"}

SCALE_DOWN = [
    {"id": "scale-down", "action": "kubectl.scale",
     "with": {"namespace": "services", "deployment": "cray-cfs-operator", "replicas": 0}},
    {"id": "operator-gone", "action": "kubectl.wait_replicas",
     "with": {"namespace": "services", "deployment": "cray-cfs-operator", "ready": 0,
              "interval": "200ms", "timeout": "20s"}},
]


@pytest.fixture
def box(tmp_path: Path) -> Path:
    directory = tmp_path / "estate"
    sim.init_sandbox("cfs-stuck-sessions", directory)
    return directory


def offsets(directory: Path) -> list[int]:
    state = sim.load_state(directory)
    found: list[int] = state["kafka"]["groups"][GROUP]["offsets"][TOPIC]
    return found


def log_starts(directory: Path) -> list[int]:
    state = sim.load_state(directory)
    return [int(p["start"]) for p in state["kafka"]["topics"][TOPIC]["partitions"]]


step = json_step


def test_preview_changes_nothing_and_reset_moves_the_committed_offsets(
        tmp_path: Path, box: Path, runbook_home: Path) -> None:
    stop = write_playbook(tmp_path / "stop.yaml", *SCALE_DOWN, name="stop")
    rc, _ = run_json(stop, box)
    assert rc == 0
    before = offsets(box)
    assert before != log_starts(box), "the group has consumed past the start of the log"

    preview = write_playbook(tmp_path / "preview.yaml",
                             {"id": "preview", "action": "kafka.reset_offsets_preview",
                              "with": RESET}, name="preview")
    rc, planned = run_json(preview, box)
    assert rc == 0
    assert offsets(box) == before, "a preview (--dry-run) moves nothing"
    plan = step(planned, "preview")["result"]
    assert plan["error"] is None
    assert [p["new_offset"] for p in plan["partitions"]] == log_starts(box)

    reset = write_playbook(tmp_path / "reset.yaml",
                           {"id": "reset", "action": "kafka.reset_offsets", "with": RESET},
                           name="reset")
    rc, done = run_json(reset, box)
    assert rc == 0, done
    assert offsets(box) == log_starts(box)
    assert step(done, "reset")["result"]["partitions"] == plan["partitions"]

    describe = ["kafka-consumer-groups.sh", "--bootstrap-server", "kafka:9092", "--describe",
                "--group", GROUP]
    reset_argv = ["kafka-consumer-groups.sh", "--bootstrap-server", "kafka:9092", "--group",
                  GROUP, "--reset-offsets", "--to-earliest", "--topic", TOPIC]
    dry_run = [*reset_argv, "--dry-run", "--export"]
    execute = [*reset_argv, "--execute", "--export"]
    assert step(done, "reset")["argv"] == [dry_run, execute, describe]
    assert step(done, "reset")["result"]["confirmed"] is True
    started = [e for e in audit_events(runbook_home / "audit.jsonl")
               if e["event"] == "step.started" and e["step"] == "reset"]
    assert [e["argv"] for e in started] == [dry_run]


def test_reset_refuses_a_group_with_active_members(tmp_path: Path, box: Path,
                                                   runbook_home: Path) -> None:
    reset = write_playbook(tmp_path / "reset.yaml",
                           {"id": "reset", "action": "kafka.reset_offsets",
                            "with": {**RESET, "wait_empty": "1s", "retry_interval": "200ms"}},
                           name="reset")
    rc, result = run_json(reset, box)
    assert rc == 1
    assert step(result, "reset")["status"] == "failed"
    assert step(result, "reset")["error"] == (
        "reset refused: Error: Assignments can only be reset if the group 'cfs-operator' is "
        "inactive, but the current state is Stable.")
    assert offsets(box) != log_starts(box), "nothing was reset"
    finished = [e for e in audit_events(runbook_home / "audit.jsonl")
                if e["event"] == "step.finished" and e["step"] == "reset"]
    assert [e["status"] for e in finished] == ["failed"]


def test_commit_progress_tells_a_consuming_group_from_a_stopped_one(tmp_path: Path,
                                                                   box: Path) -> None:
    watch = {"action": "kafka.commit_progress", "with": {**KAFKA, "interval": "1s"}}
    playbook = write_playbook(tmp_path / "progress.yaml", {"id": "consuming", **watch},
                              *SCALE_DOWN, {"id": "stopped", **watch}, name="progress")
    rc, result = run_json(playbook, box)
    assert rc == 0, result

    consuming = step(result, "consuming")["result"]
    assert consuming["progressing"] is True and consuming["committed"] > 0
    assert (consuming["active"], consuming["members"], consuming["interval"]) == (True, 1, 1.0)

    stopped = step(result, "stopped")["result"]
    assert (stopped["progressing"], stopped["committed"]) == (False, 0)
    assert (stopped["active"], stopped["members"]) == (False, 0)
    assert stopped["lag_after"] >= stopped["lag_before"] > 0
