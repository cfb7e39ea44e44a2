"""The cassandra actions against the simulated session store (through the sandbox transport).

Each test runs a small playbook on one simulated Cassandra host and asserts
the result and the estate afterwards, read back through ``nodetool`` itself.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import run_cli

from runbook import sim

QUORUM = {"keyspace": "sessionstore", "table": "values"}


@pytest.fixture
def box(tmp_path: Path) -> Path:
    directory = tmp_path / "estate"
    sim.init_sandbox("sessionstore-healthy", directory)
    return directory


def run(tmp_path: Path, box: Path, *steps: dict[str, Any],
        host: str = "sessionstore1001") -> tuple[int, dict[str, Any]]:
    doc = {"runbook": 1, "name": "t", "title": "cassandra actions",
           "targets": {"db": {"connection": "ssh", "host": host}, "cumin": {"connection": "local"}},
           "defaults": {"target": "db"}, "steps": list(steps)}
    path = tmp_path / "t.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    proc = run_cli("run", path, "--sandbox", box, "--yes", "--json")
    assert proc.stdout, proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def result(doc: dict[str, Any], step: str) -> Any:
    return next(s for s in doc["steps"] if s["id"] == step)


def nodetool(box: Path, *argv: str, host: str = "sessionstore2001") -> str:
    proc = run_cli("sim", "exec", box, "--host", host, "--", "nodetool", *argv)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_status_info_and_describecluster_read_the_estate(tmp_path: Path, box: Path) -> None:
    rc, doc = run(tmp_path, box,
                  {"id": "status", "action": "cassandra.status",
                   "with": {"keyspace": "sessionstore"}},
                  {"id": "info", "action": "cassandra.info"},
                  {"id": "cluster", "action": "cassandra.describecluster"})
    assert rc == 0
    status = result(doc, "status")["result"]
    assert status["datacenters"] == ["codfw", "eqiad"]
    assert status["all_normal"] is True and len(status["up"]) == 6 and status["down"] == []
    info = result(doc, "info")["result"]
    assert (info["data_center"], info["gossip_active"], info["native_transport_active"]) == \
        ("eqiad", True, True)
    cluster = result(doc, "cluster")["result"]
    assert cluster["cluster_name"] == "sessionstore" and cluster["schema_agreement"] is True


def test_disablebinary_rolls_back_to_enablebinary(tmp_path: Path, box: Path) -> None:
    rc, doc = run(tmp_path, box,
                  {"id": "off", "action": "cassandra.disablebinary", "rollback": "auto"},
                  {"id": "port", "action": "host.query",
                   "with": {"command": ["nc", "-z", "-w", "2", "localhost", "9042"]}},
                  {"id": "boom", "action": "flow.fail", "with": {"message": "stop"}})
    assert rc == 1
    assert result(doc, "off")["result"] == {"native_transport_active": False}
    assert result(doc, "port")["result"]["rc"] == 1
    assert [r["step"] for r in doc["rollbacks"]] == ["off"]
    assert "Native Transport active: true" in nodetool(box, "info", host="sessionstore1001")


def test_enablebinary_after_disablebinary_opens_the_cql_port(tmp_path: Path, box: Path) -> None:
    rc, doc = run(tmp_path, box,
                  {"id": "off", "action": "cassandra.disablebinary"},
                  {"id": "on", "action": "cassandra.enablebinary"},
                  {"id": "port", "action": "host.wait_port",
                   "with": {"port": 9042, "timeout": 1, "interval": 0.1}})
    assert rc == 0
    assert result(doc, "on")["result"] == {"native_transport_active": True}


def test_drain_shows_the_node_down_to_the_others(tmp_path: Path, box: Path) -> None:
    rc, _ = run(tmp_path, box, {"id": "drain", "action": "cassandra.drain"})
    assert rc == 0
    assert "DN  127.0.2.11" in nodetool(box, "status")
    assert "Gossip active          : false" in nodetool(box, "info", host="sessionstore1001")


def test_consistency_probe_fails_without_a_local_quorum(tmp_path: Path, box: Path) -> None:
    for host in ("sessionstore1002", "sessionstore1003"):
        proc = run_cli("sim", "exec", box, "--host", host, "--", "systemctl", "stop",
                       "cassandra")
        assert proc.returncode == 0, proc.stderr
    rc, doc = run(tmp_path, box,
                  {"id": "eqiad", "action": "cassandra.consistency_probe",
                   "with": {**QUORUM, "coordinator": "sessionstore1001"}},
                  {"id": "codfw", "action": "cassandra.consistency_probe",
                   "with": {**QUORUM, "coordinator": "sessionstore2001"}})
    assert rc == 0
    assert result(doc, "eqiad")["result"] == {
        "ok": False, "consistency": "LOCAL_QUORUM", "coordinator": "sessionstore1001",
        "error": "Cannot achieve consistency level LOCAL_QUORUM"}
    assert result(doc, "codfw")["result"]["ok"] is True
    assert "DN  127.0.2.12" in nodetool(box, "status")


def test_service_stop_and_start_cassandra_on_a_simulated_host(tmp_path: Path, box: Path) -> None:
    rc, doc = run(tmp_path, box,
                  {"id": "stop", "action": "host.service",
                   "with": {"unit": "cassandra", "command": "stop"}},
                  {"id": "state", "action": "host.service_state", "with": {"unit": "cassandra"}},
                  {"id": "start", "action": "host.service",
                   "with": {"unit": "cassandra", "command": "start"}},
                  {"id": "normal", "action": "cassandra.wait_normal",
                   "with": {"datacenters": ["eqiad"], "expected_nodes": 3, "stable_polls": 2,
                            "interval": 0.2, "timeout": 10}},
                  host="sessionstore1003")
    assert rc == 0, doc
    assert result(doc, "state")["result"]["active"] == "inactive"
    assert result(doc, "normal")["result"]["polls"] >= 3  # UJ first, then UN twice
    assert "UN  127.0.2.13" in nodetool(box, "status")


def test_wait_normal_names_an_unknown_datacenter_at_once(tmp_path: Path, box: Path) -> None:
    rc, doc = run(tmp_path, box, {"id": "normal", "action": "cassandra.wait_normal",
                                  "with": {"datacenters": ["ulsfo"], "timeout": 60}})
    assert rc == 1
    assert result(doc, "normal")["error"] == \
        "datacenter ulsfo is not reported by nodetool (it reports codfw, eqiad)"


def test_status_of_a_missing_keyspace_is_a_result_with_nodetools_message(tmp_path: Path,
                                                                   box: Path) -> None:
    rc, doc = run(tmp_path, box, {"id": "status", "action": "cassandra.status",
                                  "with": {"keyspace": "nope"}})
    assert rc == 0
    got = result(doc, "status")["result"]
    assert (got["error"], got["nodes"], got["all_normal"]) == \
        ("Keyspace 'nope' does not exist", [], False)


def test_quorum_errors_scenario_has_a_third_of_eqiad_kask_erring(box: Path,
                                                                  tmp_path: Path) -> None:
    other = tmp_path / "errors"
    sim.init_sandbox("sessionstore-quorum-errors", other)
    state = sim.load_state(other)
    broken = state["cassandra"]["broken"]
    pods = state["namespaces"]["sessionstore"]["deployments"]["kask-eqiad"]["pods"]
    assert len(broken) == len(pods) // 3 and set(broken.values()) == {"sessionstore1002"}
    name = next(iter(broken))
    proc = run_cli("sim", "exec", other, "--", "kubectl", "-n", "sessionstore", "logs", name)
    line = json.loads(proc.stdout.splitlines()[-1])
    assert line["msg"] in ("Error writing to storage (Cannot achieve consistency level "
                           "LOCAL_QUORUM)", "Error reading from storage (Cannot achieve "
                           "consistency level LOCAL_QUORUM)")
    assert (line["appname"], line["level"]) == ("sessionstore", "ERROR")
    assert list(line) == ["msg", "appname", "time", "level", "request_id"]
    assert sim.load_state(box)["cassandra"]["broken"] == {}
