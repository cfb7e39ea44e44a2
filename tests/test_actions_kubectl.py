"""The kubectl actions no playbook uses yet, run through the engine against the simulated estate.

``kubectl.rollout_status`` waits for a scaled-up deployment's pods and reports
a missing deployment as a result, not a failure; ``kubectl.exec`` runs an argv
inside a pod (here a console consumer whose commits land in the estate) and
fails the step on a non-zero exit.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import audit_events, json_step, run_json, write_playbook

from runbook import sim

NS = {"namespace": "services"}
OPERATOR = {**NS, "deployment": "cray-cfs-operator"}
POD = {**NS, "pod": "cray-shared-kafka-kafka-0", "container": "kafka"}
TOPIC = "cfs-session-events"


@pytest.fixture
def box(tmp_path: Path) -> Path:
    directory = tmp_path / "estate"
    sim.init_sandbox("cfs-stuck-sessions", directory)
    return directory


step = json_step


def test_rollout_status_waits_until_the_new_pods_are_ready(tmp_path: Path, box: Path) -> None:
    playbook = write_playbook(
        tmp_path / "rollout.yaml",
        {"id": "scale-down", "action": "kubectl.scale", "with": {**OPERATOR, "replicas": 0}},
        {"id": "gone", "action": "kubectl.wait_replicas",
         "with": {**OPERATOR, "ready": 0, "interval": "200ms", "timeout": "20s"}},
        {"id": "scale-up", "action": "kubectl.scale", "with": {**OPERATOR, "replicas": 1}},
        {"id": "rolled-out", "action": "kubectl.rollout_status",
         "with": {**OPERATOR, "timeout": "30s"}},
        verify=[{"probe": "kubectl.get",
                 "with": {**NS, "kind": "deployment", "name": "cray-cfs-operator"},
                 "that": "result.replicas.ready == 1"}],
        name="rollout")
    rc, result = run_json(playbook, box)
    assert rc == 0, result
    rolled = step(result, "rolled-out")
    assert rolled["argv"] == [["kubectl", "-n", "services", "rollout", "status",
                               "deployment/cray-cfs-operator", "--timeout=30s"]]
    assert rolled["result"]["complete"] is True
    assert rolled["result"]["message"] == (
        'deployment "cray-cfs-operator" successfully rolled out')
    assert rolled["result"]["lines"][0].startswith(
        'Waiting for deployment "cray-cfs-operator" rollout to finish: 0 of 1')
    state = sim.load_state(box)
    assert state["namespaces"]["services"]["deployments"]["cray-cfs-operator"]["replicas"] == 1
    assert [c["ok"] for c in result["checks"] if c["kind"] == "verify"] == [True]


def test_rollout_status_of_a_missing_deployment_is_a_result(tmp_path: Path, box: Path) -> None:
    playbook = write_playbook(
        tmp_path / "missing.yaml",
        {"id": "rolled-out", "action": "kubectl.rollout_status",
         "with": {**NS, "deployment": "no-such-thing", "timeout": "2s"}},
        name="missing")
    rc, result = run_json(playbook, box)
    assert rc == 0, result
    assert step(result, "rolled-out")["result"] == {
        "complete": False,
        "lines": ['Error from server (NotFound): deployments.apps "no-such-thing" not found'],
        "message": 'Error from server (NotFound): deployments.apps "no-such-thing" not found',
    }


def test_exec_runs_an_argv_in_the_pod(tmp_path: Path, box: Path, runbook_home: Path) -> None:
    consume = ["bin/kafka-console-consumer.sh", "--bootstrap-server", "kafka:9092", "--topic",
               TOPIC, "--group", "audit-probe", "--from-beginning", "--max-messages", "5"]
    playbook = write_playbook(tmp_path / "exec.yaml",
                              {"id": "consume-five", "action": "kubectl.exec",
                               "with": {**POD, "command": consume}}, name="exec")
    rc, result = run_json(playbook, box)
    assert rc == 0, result
    argv = ["kubectl", "-n", "services", "exec", "cray-shared-kafka-kafka-0", "-c", "kafka",
            "--", *consume]
    ran = step(result, "consume-five")
    assert ran["argv"] == [argv]
    assert ran["result"]["rc"] == 0
    assert len(ran["result"]["lines"]) == 5
    assert all(json.loads(line)["type"] == "CREATE" for line in ran["result"]["lines"])

    state = sim.load_state(box)
    starts = [int(p["start"]) for p in state["kafka"]["topics"][TOPIC]["partitions"]]
    committed = state["kafka"]["groups"]["audit-probe"]["offsets"][TOPIC]
    assert sum(c - s for c, s in zip(committed, starts, strict=True)) == 5

    started = [e for e in audit_events(runbook_home / "audit.jsonl")
               if e["event"] == "step.started"]
    assert [(e["step"], e["argv"]) for e in started] == [("consume-five", argv)]


def test_exec_fails_the_step_on_a_non_zero_exit(tmp_path: Path, box: Path) -> None:
    script = "echo out; echo broken >&2; exit 3"
    playbook = write_playbook(tmp_path / "exec.yaml",
                              {"id": "broken", "action": "kubectl.exec",
                               "with": {**POD, "command": ["sh", "-c", script]}}, name="exec")
    rc, result = run_json(playbook, box)
    assert rc == 1
    failed = step(result, "broken")
    assert failed["status"] == "failed"
    assert failed["error"].startswith(
        "command exited 3: kubectl -n services exec cray-shared-kafka-kafka-0 -c kafka -- "
        "sh -c 'echo out; echo broken >&2; exit 3'")
    assert "broken" in failed["error"].splitlines()[-1]
