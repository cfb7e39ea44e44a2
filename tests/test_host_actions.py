"""host.service, host.reboot, host.wait_port and host.log_scan, run through the engine.

The target is the local machine with a folder of small tools first on PATH
(``systemctl``, ``reboot``, ``uptime``, ``nc`` that keep their state in a
file), so each test asserts the state the actions leave behind; the simulated
estate's stand-ins are exercised by the session store tests.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest
from helpers import run_with_tools, step_result

from runbook.result import RunResult

SYSTEMCTL = r'''
import json, sys, pathlib
state = pathlib.Path(__file__).with_name("units.json")
units = json.loads(state.read_text())
verb, unit = sys.argv[1], sys.argv[2]
if verb in ("start", "restart"):
    units[unit] = "active"
elif verb == "stop":
    units[unit] = "inactive"
elif verb == "show":
    print(f"ActiveState={units[unit]}\nSubState={'running' if units[unit] == 'active' else 'dead'}")
    sys.exit(0)
elif verb == "is-active":
    print(units[unit]); sys.exit(0 if units[unit] == "active" else 3)
with open(pathlib.Path(__file__).with_name("calls"), "a") as log:
    log.write(f"{verb} {unit}\n")
state.write_text(json.dumps(units))
'''

REBOOT = r'''
import json, pathlib, time
state = pathlib.Path(__file__).with_name("boot.json")
boot = json.loads(state.read_text())
if boot.get("honours_reboot", True):
    boot["down_until"] = time.time() + 0.6
    boot["booted"] = time.time() + 0.6
state.write_text(json.dumps(boot))
'''

UPTIME = r'''
import json, pathlib, sys, time
boot = json.loads(pathlib.Path(__file__).with_name("boot.json").read_text())
if time.time() < boot.get("down_until", 0):
    print("ssh: connect to host db1 port 22: Connection refused", file=sys.stderr)
    sys.exit(255)
assert sys.argv[1:] == ["-s"], sys.argv
print(time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(boot["booted"])))
'''

NC = r'''
import json, pathlib, sys, time
opens = json.loads(pathlib.Path(__file__).with_name("ports.json").read_text())
assert sys.argv[1:4] == ["-z", "-w", "2"], sys.argv
sys.exit(0 if time.time() >= opens.get(sys.argv[5], 1e12) else 1)
'''


@pytest.fixture
def tools(tmp_path: Path) -> Path:
    folder = tmp_path / "bin"
    folder.mkdir()
    for name, body in (("systemctl", SYSTEMCTL), ("reboot", REBOOT), ("uptime", UPTIME),
                       ("nc", NC)):
        path = folder / name
        path.write_text(f"#!{os.sys.executable}\n{body}")  # type: ignore[attr-defined]
        path.chmod(0o755)
    (folder / "units.json").write_text(json.dumps({"cassandra": "active", "kask": "inactive"}))
    (folder / "boot.json").write_text(json.dumps({"booted": time.time() - 86400}))
    (folder / "ports.json").write_text("{}")
    return folder



def units(tools: Path) -> dict[str, str]:
    found: dict[str, str] = json.loads((tools / "units.json").read_text())
    return found




FAIL = {"id": "boom", "action": "host.shell", "with": {"command": ["false"]}}


def test_service_stop_is_rolled_back_by_a_start(tmp_path: Path, tools: Path) -> None:
    res = run(tmp_path, tools,
              {"id": "stop", "action": "host.service", "with": {"unit": "cassandra",
                                                                "command": "stop"},
               "rollback": "auto"},
              {"id": "state", "action": "host.service_state", "with": {"unit": "cassandra"}},
              FAIL)
    assert res.exit_code == 1
    assert result(res, "stop")["active"] == "inactive"
    assert result(res, "state")["active"] == "inactive"
    assert units(tools)["cassandra"] == "active"
    assert (tools / "calls").read_text() == "stop cassandra\nstart cassandra\n"
    assert [r.commands for r in res.rollbacks] == [["systemctl start cassandra",
                                                    "systemctl is-active cassandra"]]


def test_service_start_of_a_running_unit_has_nothing_to_undo(tmp_path: Path,
                                                             tools: Path) -> None:
    res = run(tmp_path, tools,
              {"id": "start", "action": "host.service", "with": {"unit": "cassandra",
                                                                 "command": "start"},
               "rollback": "auto"},
              {"id": "start-kask", "action": "host.service",
               "with": {"unit": "kask", "command": "start"}, "rollback": "auto"},
              FAIL)
    assert res.exit_code == 1
    assert (tools / "calls").read_text() == "start cassandra\nstart kask\nstop kask\n"
    assert units(tools) == {"cassandra": "active", "kask": "inactive"}


def test_service_show_reads_properties(tmp_path: Path, tools: Path) -> None:
    res = run(tmp_path, tools, {"id": "show", "action": "host.service_state",
                                "with": {"unit": "kask", "command": "show"}})
    assert res.exit_code == 0
    assert result(res, "show") == {"unit": "kask", "command": "show", "active": "inactive",
                                   "properties": {"ActiveState": "inactive", "SubState": "dead"}}


def test_reboot_waits_until_the_host_booted_after_the_reboot(tmp_path: Path,
                                                             tools: Path) -> None:
    before = time.time()
    res = run(tmp_path, tools, {"id": "reboot", "action": "host.reboot",
                                "with": {"interval": 0.2, "timeout": 10}})
    assert res.exit_code == 0, res.steps
    got = result(res, "reboot")
    assert got["rebooted"] is True and got["polls"] >= 2
    assert got["waited_seconds"] >= 0.6
    booted = time.mktime(time.strptime(got["boot_time"], "%Y-%m-%d %H:%M:%S"))
    assert booted >= int(before)


def test_reboot_of_a_host_that_ignored_it_fails_after_the_timeout(tmp_path: Path,
                                                                  tools: Path) -> None:
    (tools / "boot.json").write_text(json.dumps({"booted": time.time() - 86400,
                                                 "honours_reboot": False}))
    res = run(tmp_path, tools, {"id": "reboot", "action": "host.reboot",
                                "with": {"interval": 0.1, "timeout": 0.5}})
    assert res.exit_code == 1
    step = next(s for s in res.steps if s.id == "reboot")
    assert step.status == "failed"
    assert "db1 did not come back from the reboot within 0.5s" in str(step.error)


def test_wait_port_waits_until_the_port_opens(tmp_path: Path, tools: Path) -> None:
    (tools / "ports.json").write_text(json.dumps({"9042": time.time() + 0.5}))
    res = run(tmp_path, tools, {"id": "cql", "action": "host.wait_port",
                                "with": {"port": 9042, "interval": 0.1, "timeout": 10}})
    assert res.exit_code == 0
    got = result(res, "cql")
    assert got["open"] is True and got["polls"] >= 2 and got["port"] == 9042


def test_wait_port_that_stays_closed_fails(tmp_path: Path, tools: Path) -> None:
    res = run(tmp_path, tools, {"id": "cql", "action": "host.wait_port",
                                "with": {"port": 9042, "interval": 0.1, "timeout": 0.3}})
    assert res.exit_code == 1
    step = next(s for s in res.steps if s.id == "cql")
    assert "localhost:9042 does not accept connections on db1 after 0.3s" in str(step.error)


KASK = '{{"msg":"Error {verb} storage (Cannot achieve consistency level LOCAL_QUORUM)",' \
       '"appname":"sessionstore","time":"{time}","level":"ERROR","request_id":"{rid}"}}'


def test_log_scan_matches_a_json_field_since_a_time(tmp_path: Path, tools: Path) -> None:
    log = tmp_path / "kask.log"
    log.write_text("\n".join([
        KASK.format(verb="writing to", time="2023-01-24T21:00:00Z", rid="a"),
        "plain text mentioning Cannot achieve consistency level LOCAL_QUORUM",
        KASK.format(verb="writing to", time="2023-01-24T21:10:27Z", rid="b"),
        '{"msg":"ok","time":"2023-01-24T21:11:00Z","note":"LOCAL_QUORUM"}',
        KASK.format(verb="reading from", time="2023-01-24T21:12:00Z", rid="c"),
    ]) + "\n")
    res = run(tmp_path, tools, {"id": "scan", "action": "host.log_scan",
                                "with": {"path": str(log), "field": "msg",
                                         "since": "2023-01-24T21:05:00Z",
                                         "pattern": "Cannot achieve consistency level "
                                                    "LOCAL_QUORUM", "max_lines": 1}})
    assert res.exit_code == 0
    got = result(res, "scan")
    assert got["count"] == 2
    assert json.loads(got["first"])["request_id"] == "b"
    assert json.loads(got["last"])["request_id"] == "c"
    assert (got["first_time"], got["last_time"]) == ("2023-01-24T21:10:27Z",
                                                     "2023-01-24T21:12:00Z")
    assert [json.loads(x)["request_id"] for x in got["lines"]] == ["c"]


def test_log_scan_without_field_matches_whole_lines(tmp_path: Path, tools: Path) -> None:
    log = tmp_path / "system.log"
    log.write_text("INFO Stop listening for CQL clients\n"
                   "INFO Starting listening for CQL clients on /10.0.0.1:9042 (encrypted)...\n")
    res = run(tmp_path, tools, {"id": "scan", "action": "host.log_scan",
                                "with": {"path": str(log), "pattern": "listening for CQL"}})
    assert result(res, "scan")["count"] == 2
    res = run(tmp_path, tools, {"id": "scan", "action": "host.log_scan",
                                "with": {"path": str(tmp_path / "missing.log"), "pattern": "x"}})
    assert res.exit_code == 1


def test_log_scan_needs_exactly_one_source(tmp_path: Path, tools: Path) -> None:
    from runbook.errors import RunbookError

    with pytest.raises(RunbookError, match="give exactly one of path, unit, pod, deployment"):
        run(tmp_path, tools, {"id": "scan", "action": "host.log_scan",
                              "with": {"path": "/x", "unit": "cassandra"}})


def run(tmp_path: Path, tools: Path, *steps: dict[str, Any]) -> RunResult:
    res: RunResult = run_with_tools(tmp_path, tools, *steps, target="db1")
    return res


result = step_result
