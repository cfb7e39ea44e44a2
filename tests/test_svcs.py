"""The svcs plugin: SMF parsers on malformed and unsampled output, and its actions on the
simulated node (svcs/svcadm stand-ins), asserted through what svcs reports afterwards.

The recorded samples of shared/formats svcs and svcadm run in tests/test_parsers.py;
the two silent svcadm successes of svcadm.md (no output at all) are checked here,
since a samples case needs some output.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from runbook_svcs.explain import parse_explain
from runbook_svcs.logs import level_name, parse_log
from runbook_svcs.parse import parse_listing, parse_log_paths, parse_states, parse_svcadm

import runbook
from runbook import sim
from runbook.parsing import ParseError

NODE = {"cn": {"connection": "ssh", "host": "cn-r07", "user": "root"}}


# --- parsers ----------------------------------------------------------------------------------

def test_states_with_nstate_and_star_are_transitioning() -> None:
    text = ("online         -              svc:/a:default\n"
            "offline        online         svc:/b:default\n"
            "offline*       svc:/c:default\n")
    assert parse_states(text) == {
        "states": {"svc:/a:default": "online", "svc:/b:default": "offline",
                   "svc:/c:default": "offline"},
        "transitioning": ["svc:/b:default", "svc:/c:default"], "missing_patterns": []}


@pytest.mark.parametrize(("stdout", "stderr", "rc", "needle"), [
    ("running        svc:/a:default\n", "", 0, "unknown SMF state 'running'"),
    ("online\n", "", 0, "expected 'STATE \\[NSTATE\\] FMRI'"),
    ("", "svcs: illegal option -- q\n", 2, "svcs failed \\(exit 2\\): svcs: illegal option"),
])
def test_states_malformed(stdout: str, stderr: str, rc: int, needle: str) -> None:
    with pytest.raises(ParseError, match=needle):
        parse_states(stdout, stderr, rc)


def test_listing_needs_its_header_and_marks_stars() -> None:
    with pytest.raises(ParseError, match="header"):
        parse_listing("online         2023     svc:/network/ssh:default\n")
    listing = parse_listing("STATE          STIME    FMRI\n"
                            "online*         7:42:10 svc:/site/session-api:default\n")
    assert listing["instances"] == [{"state": "online", "stime": "7:42:10",
                                     "fmri": "svc:/site/session-api:default"}]
    assert listing["transitioning"] == ["svc:/site/session-api:default"]


def test_log_paths_are_absolute() -> None:
    with pytest.raises(ParseError, match="absolute"):
        parse_log_paths("svcs: Pattern 'x' doesn't match any instances\n")


def test_explain_unknown_description_and_missing_parenthesis() -> None:
    text = ("svc:/site/a:default (?)\n State: maintenance since Tue May 14 14:22:37 2024\n"
            "Reason: Restarting too quickly.\n   See: /var/svc/log/site-a:default.log\n"
            "Impact: 2 dependent services are not running.  (Use -v for list.)\n\n"
            "svc:/site/b:default\n  Zone: global\n State: offline since Tue May 14 14:01:12 2024\n"
            "Reason: Start method is running.\nImpact: This service is not running.\n")
    a, b = parse_explain(text)["services"]
    assert (a["description"], a["dependents_not_running_count"], a["log"]) == (
        None, 2, "/var/svc/log/site-a:default.log")
    assert (b["description"], b["zone"], b["state"], b["see"], b["log"]) == (
        None, "global", "offline", [], None)
    assert parse_explain("") == {"services": []}


@pytest.mark.parametrize(("text", "needle"), [
    ("svc:/a:default (A)\n State: online since x\nBogus: y\nImpact: None.\n",
     "svc:/a:default: line not understood: 'Bogus: y'"),
    ("svc:/a:default (A)\nReason: x\nImpact: None.\n", "no 'State:' line"),
    ("not an fmri line at all\n", "expected '<fmri> \\(<description>\\)'"),
])
def test_explain_names_what_it_cannot_read(text: str, needle: str) -> None:
    with pytest.raises(ParseError, match=needle):
        parse_explain(text)


@pytest.mark.parametrize(("stderr", "rc", "ok", "needle"), [
    ("", 0, True, None),  # svcadm.md samples 1 and 2: silent success
    ("", 3, False, "problem with the instance itself"),
    ("", 4, False, "problem with its dependencies"),
    ("", 1, False, "exit 1 without a message"),
    ("svcadm: svc:/a:default: Permission denied.\n", 1, False, "Permission denied"),
])
def test_svcadm_outcome(stderr: str, rc: int, ok: bool, needle: str | None) -> None:
    outcome = parse_svcadm("", stderr, rc)
    assert outcome["ok"] is ok
    if needle is None:
        assert outcome == {"ok": True, "rc": 0, "error": None, "missing_patterns": []}
    else:
        assert needle in str(outcome["error"])


def test_log_entries_problems_cause_and_lines_not_understood() -> None:
    text = ('[ May 14 14:22:30 Executing start method ("/usr/vm/smf/system-vminfod start"). ]\n'
            '{"name":"vminfod","level":30,"msg":"starting","time":"t1","v":0}\n'
            '{"name":"vminfod","level":60,"msg":"failed to load configuration",'
            '"err":{"message":"Unexpected token }"},"time":"t2","v":0}\n'
            "Segmentation Fault - core dumped\n"
            '{"level":"x","msg":"odd level"}\n'
            '[ May 14 14:22:37 Restarting too quickly, changing state to maintenance. ]\n'
            '{"not": "bunyan"}\n')
    read = parse_log(text)
    assert [e["level_name"] for e in read["entries"]] == ["smf", "info", "fatal", "unknown",
                                                           "smf"]
    assert read["problems"] == ["failed to load configuration: Unexpected token }",
                                "Restarting too quickly, changing state to maintenance."]
    assert read["cause"] == "failed to load configuration: Unexpected token }"
    assert read["not_understood"] == ["Segmentation Fault - core dumped", '{"not": "bunyan"}']
    assert level_name(50) == "error" and level_name(35) == "level 35"


# --- actions on the simulated node ------------------------------------------------------------

def _run(tmp_path: Path, box: Path, *steps: dict[str, Any]) -> runbook.RunResult:
    doc = {"runbook": 1, "name": "svcs-test", "targets": NODE, "defaults": {"target": "cn"},
           "steps": list(steps)}
    path = tmp_path / "svcs-test.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return runbook.run(path, sandbox=box, yes=True)


def _state(box: Path, pattern: str) -> str:
    env = {**os.environ, **sim.sandbox_env(box, "cn-r07")}
    out = subprocess.run(["svcs", "-H", "-o", "state,fmri", pattern], env=env,
                         capture_output=True, text=True, check=True).stdout
    return out.split()[0]


@pytest.fixture
def box(tmp_path: Path) -> Path:
    directory = tmp_path / "box"
    sim.init_sandbox("vminfod-healthy", directory)
    return directory


def test_disable_is_undone_by_rollback_auto(tmp_path: Path, box: Path) -> None:
    result = _run(tmp_path, box,
                  {"id": "list", "action": "svcs.list", "register": "before"},
                  {"id": "off", "action": "svcadm.disable",
                   "with": {"pattern": "provisioner", "wait": True}, "rollback": "auto",
                   "checks": [{"probe": "svcs.state", "with": {"patterns": ["provisioner"]},
                               "that": "result.states.values() | list == ['disabled']"}]},
                  {"id": "stop", "action": "flow.fail", "with": {"message": "undo it"}})
    assert result.exit_code == 1 and result.outcome == "rolled-back"
    listed = result.step("list").result
    assert listed["states"]["svc:/smartdc/agent/provisioner:default"] == "online"
    assert len(listed["instances"]) == 5
    assert [r.action for r in result.rollbacks] == ["svcadm.enable"]
    assert _state(box, "provisioner") in ("online", "offline")  # enabled again, (re)starting


def test_enable_waits_for_online_and_captures_the_disabled_state(tmp_path: Path,
                                                                 box: Path) -> None:
    result = _run(tmp_path, box,
                  {"id": "off", "action": "svcadm.disable", "with": {"pattern": "vmadmd"}},
                  {"id": "on", "action": "svcadm.enable",
                   "with": {"pattern": "vmadmd", "wait": True}, "rollback": "auto"})
    assert result.exit_code == 0, result.error
    assert result.step("on").result == {"ok": True, "rc": 0}
    assert _state(box, "vmadmd") == "online"


def test_svcadm_on_an_unknown_pattern_fails_with_svcadms_message(tmp_path: Path,
                                                                 box: Path) -> None:
    result = _run(tmp_path, box,
                  {"id": "bad", "action": "svcadm.restart", "with": {"pattern": "site/nope"}})
    assert result.exit_code == 1
    assert "svcadm: Pattern 'site/nope' doesn't match any instances" in str(
        result.step("bad").error)


def test_restart_of_a_maintenance_instance_is_a_noop_with_the_reason(tmp_path: Path) -> None:
    box = tmp_path / "m"
    sim.init_sandbox("vminfod-maintenance", box)
    result = _run(tmp_path, box,
                  {"id": "restart", "action": "svcadm.restart", "with": {"pattern": "vminfod"}},
                  {"id": "clear", "action": "svcadm.clear", "with": {"pattern": "ssh"}})
    assert result.exit_code == 0
    assert result.step("restart").result == {
        "noop": "svcadm restart acts only on online or degraded instances: "
                "svc:/system/smartdc/vminfod:default is maintenance",
        "result": {"ok": True, "rc": None}}
    assert result.step("clear").result["noop"] == (
        "svcadm clear acts only on maintenance or degraded instances: "
        "svc:/network/ssh:default is online")
    assert _state(box, "vminfod") == "maintenance"
    log = (box / "hosts" / "cn-r07" / "root" / "var" / "svc" / "log"
           / "system-smartdc-vminfod:default.log").read_text()
    assert "Stopping because service restarting" not in log.split("maintenance. ]")[-1]


def test_state_reports_unmatched_patterns_and_log_can_list_files_only(tmp_path: Path,
                                                                     box: Path) -> None:
    result = _run(tmp_path, box,
                  {"id": "state", "action": "svcs.state",
                   "with": {"patterns": ["vminfod", "site/nope"]}},
                  {"id": "files", "action": "svcs.log", "with": {"pattern": "vminfod",
                                                                  "lines": 0}},
                  {"id": "nolog", "action": "svcs.log", "with": {"pattern": "site/nope"},
                   "on_fail": "continue"})
    assert result.step("state").result == {
        "states": {"svc:/system/smartdc/vminfod:default": "online"}, "transitioning": [],
        "missing_patterns": ["site/nope"]}
    files = result.step("files").result
    assert files["log_files"] == ["/var/svc/log/system-smartdc-vminfod:default.log"]
    assert files["lines"] == [] and files["entries"] == []
    assert "no SMF instance matches 'site/nope'" in str(result.step("nolog").error)


def test_enable_and_wait_explains_exit_3_and_4(tmp_path: Path) -> None:
    """In the maintenance scenario the start method keeps failing (exit 3: the instance
    itself) and what depends on vminfod cannot come online (exit 4: a dependency)."""
    box = tmp_path / "m"
    sim.init_sandbox("vminfod-maintenance", box)
    result = _run(tmp_path, box,
                  {"id": "off", "action": "svcadm.disable", "with": {"pattern": "vminfod"}},
                  {"id": "self", "action": "svcadm.enable",
                   "with": {"pattern": "vminfod", "wait": True}, "on_fail": "continue"},
                  {"id": "off2", "action": "svcadm.disable", "with": {"pattern": "vmadmd"}},
                  {"id": "dep", "action": "svcadm.enable",
                   "with": {"pattern": "vmadmd", "wait": True}, "on_fail": "continue"})
    assert "exit 3: the instance cannot reach the requested state without an administrator " \
           "because of a problem with the instance itself" in str(result.step("self").error)
    assert "exit 4" in str(result.step("dep").error)
    assert "problem with its dependencies" in str(result.step("dep").error)
    assert (_state(box, "vminfod"), _state(box, "vmadmd")) == ("maintenance", "offline")


def test_log_reads_only_the_last_lines_of_the_nodes_file(tmp_path: Path) -> None:
    box = tmp_path / "m"
    sim.init_sandbox("vminfod-maintenance", box)
    result = _run(tmp_path, box, {"id": "log", "action": "svcs.log",
                                  "with": {"pattern": "vminfod", "lines": 3}})
    log = result.step("log").result
    on_node = (box / "hosts" / "cn-r07" / "root" / "var" / "svc" / "log"
               / "system-smartdc-vminfod:default.log").read_text().splitlines()
    assert len(on_node) > 3 and log["lines"] == on_node[-3:]
    assert log["lines"][-1].endswith("Restarting too quickly, changing state to maintenance. ]")
    assert [e["level_name"] for e in log["entries"]] == ["fatal", "smf", "smf"]
    assert log["cause"].startswith("failed to load configuration /etc/vminfod/config.json")
