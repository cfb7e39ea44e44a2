"""The vminfo plugin: defensive parsing of vminfo output and of clients' logs, and its actions
on the simulated node when vminfo's output is not what this plugin knows.

The recorded samples of shared/formats vminfo run in tests/test_parsers.py. Here:
unknown, missing and mistyped fields (a newer platform), the text layout's
quirks, malformed VM lists, and a client's log with every symptom the guide
names. Nothing unreadable may come out as a traceback or as "healthy".
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from runbook_vminfo.events import json_type, parse_client_log
from runbook_vminfo.parse import (
    duration_seconds,
    parse_lookup,
    parse_ping,
    parse_status_json,
    parse_vms,
)
from runbook_vminfo.status_text import parse_status_text

import runbook
from runbook import sim
from runbook.parsing import ParseError

SAMPLES = Path(__file__).parent / "samples"
STATUS_JSON = (SAMPLES / "vminfo-status" / "02-json-two-listeners.stdout").read_text()
STATUS_TEXT = (SAMPLES / "vminfo-status" / "01-human-two-listeners.stdout").read_text()
VM = "6c4d0d0e-2a73-4b8d-9b7e-0f4c3a7d1e55"


def _status(**changes: Any) -> dict[str, Any]:
    doc = json.loads(STATUS_JSON)
    for key, value in changes.items():
        if value is None:
            doc.pop(key, None)
        else:
            doc[key] = value
    return parse_status_json(json.dumps(doc, indent=2))


# --- vminfo status ----------------------------------------------------------------------------

def test_a_newer_platform_is_named_field_by_field() -> None:
    result = _status(numVms=None, vmCount=23, queueStats={"processed": 1})
    assert result["num_vms"] is None
    assert result["not_understood"] == ["numVms: missing", "queueStats: unknown field",
                                        "vmCount: unknown field"]
    assert result["npending"] == 0  # everything else is still read


@pytest.mark.parametrize(("changes", "problem", "key"), [
    ({"pid": "4187"}, "pid: unexpected value '4187'", "pid"),
    ({"uptime": "14 days"}, "uptime: not a vminfo duration: '14 days'", "uptime_seconds"),
    ({"memory": {"heapUsed": 1}}, "memory.rss: missing", "rss_mb"),
    ({"queue": {"paused": False, "idle": True}}, "queue.vasync_queue.npending: missing",
     "npending"),
    ({"state": True}, "state: unexpected value True", "state"),
])
def test_unexpected_values_become_null_and_are_named(changes: dict[str, Any], problem: str,
                                                     key: str) -> None:
    result = _status(**changes)
    assert problem in result["not_understood"]
    assert result[key] is None


def test_pending_tasks_give_the_oldest_age_and_errors_and_fswatcher_are_read() -> None:
    doc = json.loads(STATUS_JSON)
    queue = doc["queue"]["vasync_queue"]
    queue.update(npending=2, pending={
        "7": {"description": "a", "created_ago": "12.5s (12.5s)"},
        "8": {"description": "b", "created_ago": "301.000000001s (5.02m)"}})
    doc["lastRefresh"] = None
    doc["refreshErrors"] = [{"err": "zoneadm list failed", "time": "1", "ago": "3s (3s)"}]
    doc["fswatcher"] = {"running": False, "pendingActions": [1, 2]}
    result = parse_status_json(json.dumps(doc))
    assert result["oldest_pending_age_seconds"] == 301.000000001
    assert result["last_refresh_age_seconds"] is None
    assert result["refresh_errors"] == ["zoneadm list failed"]
    assert result["fswatcher"] == {"running": False, "pending_actions": 2}
    assert result["not_understood"] == []


@pytest.mark.parametrize("text", ["", "Error: connect ECONNREFUSED\n", "[1, 2]\n"])
def test_status_that_is_not_a_status_is_a_parse_error(text: str) -> None:
    with pytest.raises(ParseError, match="vminfo status -j"):
        parse_status_json(text)


def test_text_layout_with_refresh_errors_never_refreshed_and_an_unknown_line() -> None:
    text = STATUS_TEXT.replace("  lastRefresh: 208.461083903s (3.47m)\n",
                               "  lastRefresh: null\n  refreshErrors: (%d items)\n2\n"
                               "    - zoneadm list failed (3.2s)\n    - timeout (1m)\n"
                               "  refreshLag: 12\n")
    result = parse_status_text(text)
    assert result["last_refresh_age_seconds"] is None
    assert result["refresh_errors"] == ["zoneadm list failed", "timeout"]
    assert result["not_understood"] == ["line not understood: 'refreshLag: 12'"]
    assert [ln["uuid"] for ln in result["listeners"]] == [
        "51b2decd-b207-4d29-a8f0-f1a546425b8e", "fe350886-cab4-4181-a2a5-2bd40fd8f68e"]


def test_text_layout_missing_fields_are_named() -> None:
    result = parse_status_text("state: running (working)\npid: 12\n")
    assert "num_vms: missing" in result["not_understood"]
    with pytest.raises(ParseError, match="state: <state>"):
        parse_status_text("pong\n")


@pytest.mark.parametrize(("text", "seconds"), [
    ("208.461083903s (3.47m)", 208.461083903), ("300.0s (5m)", 300.0), ("0.5s", 0.5)])
def test_durations(text: str, seconds: float) -> None:
    assert duration_seconds(text) == seconds


@pytest.mark.parametrize(("stdout", "stderr", "rc", "error"), [
    ("pong\n", "", 0, None),
    ("ok\n", "", 0, "unexpected answer to ping: 'ok'"),
    ("", "bad statusCode: 503\n", 1, "bad statusCode: 503"),
    ("", "", 7, "exit 7 without a message"),
])
def test_ping(stdout: str, stderr: str, rc: int, error: str | None) -> None:
    assert parse_ping(stdout, stderr, rc) == {"alive": error is None, "error": error}


@pytest.mark.parametrize(("call", "text", "needle"), [
    (parse_vms, '{"uuid": "x"}\n', "expected a JSON array"),
    (parse_vms, '[{"alias": "web0"}]\n', "VM \\[0\\] has no uuid"),
    (parse_lookup, "web0\n", "not a VM UUID: 'web0'"),
])
def test_vm_lists_malformed(call: Any, text: str, needle: str) -> None:
    with pytest.raises(ParseError, match=needle):
        call(text)


# --- a client's log ---------------------------------------------------------------------------

def _line(level: int, msg: str, **fields: Any) -> str:
    return json.dumps({"name": "client", "level": level, **fields, "msg": msg, "time": "t"})


def test_client_log_symptoms() -> None:
    emitted = [{"path": ["max_physical_memory"], "action": "changed", "newValue": 1024}]
    text = "\n".join([
        _line(20, "vminfod event", vm_uuid=VM, changes=emitted),
        _line(50, "vminfod watchForChanges timeout exceeded", vm_uuid=VM,
              changes=[{"path": ["max_physical_memory"], "newValue": "1024"},
                       {"path": ["alias"], "newValue": "web1"}]),
        _line(50, "oops", err={"message": "vminfod watchForChanges timeout exceeded"}),
        _line(50, "VminfodEventStream ended prematurely"),
        "Error: something printed by hand",
    ]) + "\n"
    found = parse_client_log(text)
    memory, alias, bare = found["timeouts"]
    assert (memory["expected"], memory["expected_type"], memory["emitted"],
            memory["emitted_type"], memory["type_mismatch"]) == ("1024", "string", 1024,
                                                                 "number", True)
    assert (alias["type_mismatch"], alias["emitted_type"], alias["note"]) == (
        False, None, "vminfod emitted no change of this property")
    assert bare["path"] is None and "names no expected change" in bare["note"]
    assert found["premature_ends"] == [{"time": "t", "msg": "VminfodEventStream ended "
                                                            "prematurely"}]
    assert found["not_understood"] == ["Error: something printed by hand"]


def test_same_type_different_value_is_not_a_type_mismatch() -> None:
    text = (_line(20, "vminfod event", vm_uuid=VM, changes=[{"path": ["ram"], "newValue": 512}])
            + "\n" + _line(50, "vminfod watchForChanges timeout exceeded", vm_uuid=VM,
                           changes=[{"path": ["ram"], "newValue": 1024}]) + "\n")
    [row] = parse_client_log(text)["timeouts"]
    assert row["type_mismatch"] is False and row["emitted"] == 512


@pytest.mark.parametrize(("value", "name"), [
    (None, "null"), (True, "boolean"), (1, "number"), (1.5, "number"), ("1", "string"),
    ([], "array"), ({}, "object")])
def test_json_type(value: Any, name: str) -> None:
    assert json_type(value) == name


# --- actions on the simulated node ------------------------------------------------------------

def _probe(tmp_path: Path, box: Path, action: str, **args: Any) -> runbook.RunResult:
    doc = {"runbook": 1, "name": "vminfo-test",
           "targets": {"cn": {"connection": "ssh", "host": "cn-r07"}},
           "defaults": {"target": "cn"},
           "steps": [{"id": "probe", "action": action, "with": args, "register": "seen"}]}
    path = tmp_path / "vminfo-test.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return runbook.run(path, sandbox=box, yes=True)


@pytest.fixture
def box(tmp_path: Path) -> Path:
    directory = tmp_path / "box"
    sim.init_sandbox("vminfod-healthy", directory)
    return directory


def test_status_falls_back_to_the_text_layout_without_json(tmp_path: Path, box: Path) -> None:
    sim.set_fault(box, "vminfo_no_json", True)
    result = _probe(tmp_path, box, "vminfo.status", full=True)
    status = result.step("probe").result
    assert status["layout"] == "text" and status["num_vms"] == 23
    assert status["rss_bytes"] is None and status["not_understood"] == []


def test_a_newer_platform_is_a_finding_and_never_healthy(tmp_path: Path, box: Path) -> None:
    sim.set_fault(box, "vminfo_newer_platform", True)
    diagnose = Path(__file__).resolve().parent.parent / "playbooks" / "vminfod-diagnose.yaml"
    result = runbook.run(diagnose, {"samples": 1}, sandbox=box, yes=True)
    titles = [(f.severity, f.title) for f in result.findings]
    assert titles == [("warning", "vminfo status has fields this playbook could not "
                                  "understand")]
    assert result.findings[0].evidence == {"not_understood": [
        "numVms: missing", "queueStats: unknown field", "vmCount: unknown field"]}


def test_ping_of_a_daemon_in_maintenance_is_a_result(tmp_path: Path) -> None:
    box = tmp_path / "m"
    sim.init_sandbox("vminfod-maintenance", box)
    result = _probe(tmp_path, box, "vminfo.ping")
    assert result.step("probe").result == {"alive": False,
                                           "error": "connect ECONNREFUSED 127.0.0.1:9090"}
