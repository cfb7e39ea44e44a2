"""The Kafka consumer post-mortem end to end: kafka-consumer-stalled and -health on the
simulated estate (scenarios kafka-commits-stalled, kafka-lagging, kafka-healthy).

Each test runs the real CLI on a sandbox and then reads the estate through the
stand-ins (``kafka-consumer-groups.sh --describe``, ``kubectl get``) and the
run's JSON result.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from helpers import run_cli, write_playbook

from runbook import sim
from runbook.journal import Journal

ROOT = Path(__file__).resolve().parent.parent
STALLED = ROOT / "playbooks" / "kafka-consumer-stalled.yaml"
HEALTH = ROOT / "playbooks" / "kafka-consumer-health.yaml"
TOPIC = "platform.upload.available"
FAST = ("-p", "samples=4", "-p", "interval=1s")
BROKEN, FIXED = "quay.io/cloudservices/puptoo:2.4.0", "quay.io/cloudservices/puptoo:2.3.1"


def sandbox(tmp_path: Path, scenario: str, *faults: str) -> Path:
    directory = tmp_path / scenario
    sim.init_sandbox(scenario, directory, faults=faults)
    return directory


def tool(box: Path, *argv: str) -> str:
    proc = subprocess.run([str(box / "bin" / argv[0]), *argv[1:]], capture_output=True,
                          text=True, check=True, env={"RUNBOOK_SIM_DIR": str(box),
                                                      "PATH": "/usr/bin:/bin"})
    return proc.stdout


def committed(box: Path) -> list[int]:
    """CURRENT-OFFSET per partition, as the stand-in's describe prints it."""
    out = tool(box, "kafka-consumer-groups.sh", "--bootstrap-server", "kafka-1.platform:9092",
               "--describe", "--group", "puptoo")
    rows = [line.split() for line in out.splitlines() if line.startswith("puptoo ")]
    return [int(r[3]) for r in sorted(rows, key=lambda r: int(r[2]))]


def deployment(box: Path) -> tuple[int, str]:
    obj = json.loads(tool(box, "kubectl", "-n", "platform", "get", "deployment", "puptoo",
                          "-o", "json"))
    return obj["spec"]["replicas"], obj["spec"]["template"]["spec"]["containers"][0]["image"]


def run_json(*args: object) -> tuple[int, dict[str, Any]]:
    proc = run_cli("run", *args, "--yes", "--json")
    assert proc.stdout, proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def step(result: dict[str, Any], step_id: str) -> dict[str, Any]:
    found: dict[str, Any] = next(s for s in result["steps"] if s["id"] == step_id)
    return found


def test_stalled_consumer_is_reset_and_rolled_out(tmp_path: Path, runbook_home: Path) -> None:
    box = sandbox(tmp_path, "kafka-commits-stalled")
    assert deployment(box) == (2, BROKEN)
    before = committed(box)
    assert before == [1000, 2000, 3000, 4000], "the broken client never committed"

    rc, result = run_json(STALLED, "--sandbox", box, *FAST)
    assert rc == 0, result

    preview = step(result, "preview")["result"]["partitions"]
    reset = step(result, "reset")["result"]
    assert reset["confirmed"] is True  # --to-latest: the producer kept producing since
    assert all(r["new_offset"] >= p["new_offset"] for r, p in zip(reset["partitions"], preview,
                                                                 strict=True))
    assert [p["partition"] for p in preview] == [0, 1, 2, 3]
    assert all(p["new_offset"] > b for p, b in zip(preview, before, strict=True))
    assert deployment(box) == (2, FIXED)
    after = committed(box)
    assert all(a >= p["new_offset"] for a, p in zip(after, preview, strict=True))
    checks = {c["id"]: c for c in result["checks"]}
    assert checks["commits-advance"]["ok"] and checks["lag-ok"]["ok"]


def test_reset_failing_midway_restores_the_captured_offsets(tmp_path: Path,
                                                            runbook_home: Path) -> None:
    box = sandbox(tmp_path, "kafka-commits-stalled", "reset_fails_midway")
    before = committed(box)

    rc, result = run_json(STALLED, "--sandbox", box, *FAST)
    assert rc == 1, result
    assert "reset failed: Error: Executing consumer group command failed" in (
        step(result, "reset")["error"])
    assert committed(box) == before
    assert deployment(box) == (2, BROKEN)
    journal = Journal(runbook_home / "journal.db")
    captured = next(r.captured for r in journal.steps(result["run_id"]) if r.step_id == "reset")
    assert captured == "".join(f"{TOPIC},{p},{o}\n" for p, o in enumerate(before))


def test_a_lagging_group_is_a_warn_finding_and_nothing_changes(tmp_path: Path,
                                                               runbook_home: Path) -> None:
    box = sandbox(tmp_path, "kafka-lagging")
    rc, result = run_json(HEALTH, "--sandbox", box, *FAST)
    assert rc == 6, result
    lag = next(f for f in result["findings"] if f["severity"] == "critical")
    assert lag["evidence"]["observed"]["result.status"] == "WARN"
    assert any(u.startswith(f"{TOPIC}-") and " WARN " in u
               for u in lag["evidence"]["observed"]["result.unhealthy"])
    assert deployment(box) == (2, FIXED)

    rc, result = run_json(STALLED, "--sandbox", box, *FAST)
    assert rc == 6, "a WARN is not the stalled runbook"
    assert deployment(box) == (2, FIXED)


def test_health_of_a_stalled_group_names_stopped_partitions_churn_and_duplicates(
        tmp_path: Path, runbook_home: Path) -> None:
    box = sandbox(tmp_path, "kafka-commits-stalled")
    rc, result = run_json(HEALTH, "--sandbox", box, "-p", "samples=4", "-p", "interval=2s")
    assert rc == 6, result
    observed = [f["evidence"].get("observed", {}) for f in result["findings"]
                if isinstance(f["evidence"], dict)]
    statuses = next(o for o in observed if "result.status" in o)
    assert statuses["result.status"] == "ERR"
    assert all(" STOP " in u for u in statuses["result.unhealthy"])
    assert any(o.get("result.count", 0) > 0 for o in observed), "duplicates are a finding"
    assert any(o.get("result.rebalances", 0) > 0 for o in observed), "churn is a finding"


@pytest.mark.parametrize("scenario", ["kafka-healthy"])
def test_a_healthy_group_exits_0(tmp_path: Path, runbook_home: Path, scenario: str) -> None:
    box = sandbox(tmp_path, scenario)
    rc, result = run_json(HEALTH, "--sandbox", box, *FAST)
    assert rc == 0, result
    assert [f["title"] for f in result["findings"]] == ["consumer group puptoo is healthy"]


def test_reset_on_an_active_group_fails_with_the_tools_message(tmp_path: Path,
                                                               runbook_home: Path) -> None:
    box = sandbox(tmp_path, "kafka-healthy")
    before = committed(box)
    reset = write_playbook(tmp_path / "reset.yaml", {
        "id": "reset", "action": "kafka.reset_offsets",
        "with": {"bootstrap_server": "kafka-1.platform:9092", "group": "puptoo",
                 "topic": TOPIC, "to": "duration", "value": "PT1H", "wait_empty": "1s",
                 "retry_interval": "300ms"}}, name="reset")
    rc, result = run_json(reset, "--sandbox", box)
    assert rc == 1
    assert step(result, "reset")["error"] == (
        "reset refused: Error: Assignments can only be reset if the group 'puptoo' is "
        "inactive, but the current state is Stable.")
    assert all(a >= b for a, b in zip(committed(box), before, strict=True))


def test_the_plan_shows_the_offsets_the_reset_will_set(tmp_path: Path,
                                                       runbook_home: Path) -> None:
    box = sandbox(tmp_path, "kafka-commits-stalled")
    proc = run_cli("plan", STALLED, "--sandbox", box, "--json", "-p", "samples=2",
                   "-p", "interval=500ms")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    planned = json.loads(proc.stdout)
    preview = step(planned, "preview")["result"]
    assert preview["estimated"] is True, "the consumer still runs: estimated from --describe"
    ends = [int(line.split(",")[2]) for line in preview["csv"].splitlines()]
    assert [p["new_offset"] for p in preview["partitions"]] == ends
    assert all(e > c for e, c in zip(ends, committed(box), strict=True))
    assert committed(box) == [1000, 2000, 3000, 4000] and deployment(box) == (2, BROKEN)


def test_reset_waits_for_the_group_to_empty_after_a_scale_down(tmp_path: Path,
                                                               runbook_home: Path) -> None:
    box = sandbox(tmp_path, "kafka-healthy")
    playbook = write_playbook(tmp_path / "stop-reset.yaml", {
        "id": "stop", "action": "kubectl.scale",
        "with": {"namespace": "platform", "deployment": "puptoo", "replicas": 0}}, {
        "id": "reset", "action": "kafka.reset_offsets", "rollback": "auto",
        "with": {"bootstrap_server": "kafka-1.platform:9092", "group": "puptoo",
                 "topic": f"{TOPIC}:0,1", "to": "shift-by", "value": "-3", "wait_empty": "20s",
                 "retry_interval": "200ms"}}, name="stop-reset")
    rc, result = run_json(playbook, "--sandbox", box)
    assert rc == 0, result
    reset = step(result, "reset")["result"]
    assert reset["tries"] > 1, "the stopped pods stay members until their session times out"
    assert [p["partition"] for p in reset["partitions"]] == [0, 1]
    now = committed(box)
    assert [p["new_offset"] for p in reset["partitions"]] == now[:2]
