"""playbooks/vminfod-diagnose.yaml end to end on every vminfod scenario of the simulated estate.

Each test runs the real CLI with ``--sandbox DIR --yes --json`` and asserts
the findings (title and severity) in the JSON, on the console and in the
audit log, the exit code, and the estate afterwards as the node's own
stand-ins report it (``svcs -H -o state,fmri``, ``vminfo status -j``).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from helpers import audit_events, plain, run_cli

from runbook import sim

ROOT = Path(__file__).resolve().parent.parent
DIAGNOSE = ROOT / "playbooks" / "vminfod-diagnose.yaml"
VMINFOD = "svc:/system/smartdc/vminfod:default"
FAST = {"vminfod_race_seconds": 0.3}
"""The race window shorter than the sampling interval the tests use (0.6 s)."""

STREAM_ENDED = ("warning", "a client's vminfod event stream ended prematurely; vminfod died "
                           "with the client connected")
MAINTENANCE = ("critical", "vminfod is in maintenance; its start method keeps failing")
SERVICES_DOWN = ("warning", "SMF services are enabled but not running")
HEALTHY = ("info", "vminfod is healthy")


def node(box: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    """Run a stand-in on the simulated node cn-r07, as the playbook's commands do."""
    env = {**os.environ, **sim.sandbox_env(box, "cn-r07")}
    return subprocess.run(list(argv), env=env, capture_output=True, text=True, timeout=30,
                          check=False)


def vminfod_state(box: Path) -> str:
    out = node(box, "svcs", "-H", "-o", "state,fmri", "vminfod").stdout.split()
    assert out[1] == VMINFOD
    return out[0]


def diagnose(tmp_path: Path, scenario: str, *extra: str) -> tuple[Path, dict[str, Any], str]:
    box = tmp_path / scenario
    if not box.exists():
        sim.init_sandbox(scenario, box, knobs=FAST)
    proc = run_cli("run", DIAGNOSE, "--sandbox", box, "--yes", "--json", "-p", "interval=0.6s",
                   *extra, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return box, json.loads(proc.stdout), proc.stderr


def findings(result: dict[str, Any]) -> list[tuple[str, str]]:
    return [(f["severity"], f["title"]) for f in result["findings"]]


def audited(home: Path) -> list[tuple[str, str]]:
    [finished] = [e for e in audit_events(home / "audit.jsonl") if e["event"] == "run.finished"]
    return [(f["severity"], f["title"]) for f in finished["data"]["findings"]]


def test_healthy_node_ends_with_exit_0_and_an_info_finding(tmp_path: Path,
                                                          runbook_home: Path) -> None:
    box, result, _ = diagnose(tmp_path, "vminfod-healthy")
    assert result["exit_code"] == 0 and result["outcome"] == "succeeded"
    assert findings(result) == [HEALTHY]
    assert audited(runbook_home) == [HEALTHY]
    healthy = result["findings"][0]["evidence"]
    assert healthy["num_vms"] == 23 and healthy["listeners"] == 3
    assert 0 < healthy["last_refresh_seconds"] < 600
    assert vminfod_state(box) == "online"
    executed = [s["id"] for s in result["steps"] if s["status"] == "ok"]
    assert "restart-vminfod" not in executed and "clear-maintenance" not in executed


def test_stuck_queue_is_drained_by_the_gated_restart(tmp_path: Path, runbook_home: Path) -> None:
    box = tmp_path / "stuck"
    sim.init_sandbox("vminfod-stuck-queue", box, knobs=FAST)
    before = json.loads(node(box, "vminfo", "status", "-j").stdout)
    assert before["queue"]["vasync_queue"]["npending"] == 1
    old_pid = before["pid"]

    _, result, _ = diagnose(tmp_path, "stuck")
    assert findings(result) == [
        ("critical", "vminfod's queue is stuck; a task has been pending longer than its timeout"),
        ("info", "vminfod's queue drained after svcadm restart"),
    ]
    stuck = result["findings"][0]["evidence"]
    assert stuck["npending"] == 1 and stuck["nqueued"] == 1
    assert stuck["oldest_pending_seconds"] > 250 and stuck["last_refresh_seconds"] > 600
    assert audited(runbook_home) == findings(result)

    after = json.loads(node(box, "vminfo", "status", "-j").stdout)
    queue = after["queue"]["vasync_queue"]
    assert (queue["npending"], queue["nqueued"], after["queue"]["idle"]) == (0, 0, True)
    assert after["pid"] != old_pid
    assert vminfod_state(box) == "online"
    events = audit_events(runbook_home / "audit.jsonl")
    gates = [e for e in events if e["event"] == "gate.answered"]
    assert [(g["step"], g["data"]["how"]) for g in gates] == [("restart-vminfod", "--yes")]
    started = [e["step"] for e in events if e["event"] == "step.started"]
    assert started.index("restart-vminfod") < started.index("drained")


def test_maintenance_shows_the_cause_and_clear_does_not_help_until_it_is_fixed(
        tmp_path: Path, runbook_home: Path) -> None:
    box, result, _ = diagnose(tmp_path, "vminfod-maintenance")
    assert findings(result) == [
        SERVICES_DOWN, MAINTENANCE,
        ("critical", "vminfod went back to maintenance after svcadm clear; the cause is not "
                     "fixed"),
        STREAM_ENDED,
    ]
    cause = result["findings"][1]["evidence"]
    assert cause["cause"] == ("failed to load configuration /etc/vminfod/config.json: "
                              "Unexpected token } in JSON at position 112")
    assert cause["smf"] == "Restarting too quickly, changing state to maintenance."
    assert "svc:/system/smartdc/vmadmd:default (offline)" in result["findings"][0]["evidence"]
    assert vminfod_state(box) == "maintenance"
    log = node(box, "svcs", "-L", "vminfod").stdout.strip()
    text = (box / "hosts" / "cn-r07" / "root" / log.lstrip("/")).read_text()
    assert text.count("Leaving maintenance because clear requested.") == 1
    assert text.count("Restarting too quickly, changing state to maintenance.") == 2

    # The cause fixed (the fault switched off), the same playbook clears it for good.
    sim.set_fault(box, "vminfod_bad_config", False)
    _, fixed, _ = diagnose(tmp_path, "vminfod-maintenance")
    assert findings(fixed) == [
        SERVICES_DOWN, MAINTENANCE,
        ("info", "vminfod is online again after svcadm clear and answers ping"),
        STREAM_ENDED,
    ]
    assert vminfod_state(box) == "online"
    assert node(box, "vminfo", "ping").stdout == "pong\n"
    states = node(box, "svcs", "-H", "-o", "state,fmri", "vmadmd", "provisioner").stdout.split()
    assert states[0::2] == ["online", "online"]


def test_out_of_sync_tells_a_persistent_difference_from_a_race(tmp_path: Path,
                                                              runbook_home: Path) -> None:
    box, result, _ = diagnose(tmp_path, "vminfod-out-of-sync")
    assert findings(result) == [
        ("critical", "vminfod and vmadm disagree on the VMs of this node in every sample"),
        ("info", "a difference between vminfod and vmadm went away between samples (a race, "
                 "not a bug)"),
    ]
    persistent, race = (f["evidence"] for f in result["findings"])
    assert persistent["only_vminfo"] == [] and len(persistent["only_vmadm"]) == 1
    missing = persistent["only_vmadm"][0]
    on_disk = node(box, "vmadm", "lookup").stdout.split()
    known = [vm["uuid"] for vm in json.loads(node(box, "vminfo", "vms").stdout)]
    assert missing in on_disk and missing not in known
    assert race["transient"][0] in on_disk and race["transient"][0] in known


def test_type_mismatch_blames_the_caller_not_vminfod(tmp_path: Path, runbook_home: Path) -> None:
    box, result, _ = diagnose(tmp_path, "vminfod-type-mismatch")
    assert findings(result) == [
        ("warning", "a client waited for a vminfod change that never matched; a type mismatch "
                    "in the caller"),
        HEALTHY,
    ]
    mismatch = result["findings"][0]
    assert mismatch["evidence"].count('waited for max_physical_memory = "1024" (string), '
                                      "vminfod emitted 1024 (number)") == 2
    assert mismatch["next_step"].startswith("fix the caller, not vminfod")
    assert vminfod_state(box) == "online"


def test_console_prints_the_findings(tmp_path: Path) -> None:
    box = tmp_path / "box"
    sim.init_sandbox("vminfod-type-mismatch", box, knobs=FAST)
    proc = run_cli("run", DIAGNOSE, "--sandbox", box, "--yes", "-p", "samples=1")
    out = plain(proc.stdout + proc.stderr)
    assert proc.returncode == 0, out
    assert "WARNING a client waited for a vminfod change that never matched" in out
    assert "INFO vminfod is healthy" in out


def test_an_unreadable_client_log_is_a_finding_not_a_crash(tmp_path: Path) -> None:
    _, result, _ = diagnose(tmp_path, "vminfod-healthy", "-p", "client_log=/var/log/nope.log",
                            "-p", "samples=1")
    assert ("warning", "the client's log could not be read") in findings(result)
    evidence = next(f["evidence"] for f in result["findings"]
                    if f["title"] == "the client's log could not be read")
    assert "/var/log/nope.log" in evidence["error"]


@pytest.mark.parametrize("scenario", ["vminfod-healthy", "vminfod-stuck-queue"])
def test_dry_run_changes_nothing(tmp_path: Path, scenario: str) -> None:
    box = tmp_path / scenario
    sim.init_sandbox(scenario, box, knobs=FAST)
    proc = run_cli("plan", DIAGNOSE, "--sandbox", box, "-p", "samples=1")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert vminfod_state(box) == "online"
    status = json.loads(node(box, "vminfo", "status", "-j").stdout)
    assert status["queue"]["vasync_queue"]["npending"] == (1 if "stuck" in scenario else 0)


def test_disabled_vminfod_is_critical_and_not_changed(tmp_path: Path) -> None:
    box = tmp_path / "disabled"
    sim.init_sandbox("vminfod-healthy", box, knobs=FAST)
    assert node(box, "svcadm", "disable", "vminfod").returncode == 0
    _, result, _ = diagnose(tmp_path, "disabled", "-p", "samples=1")
    assert findings(result) == [SERVICES_DOWN, ("critical", "vminfod is disabled"),
                                STREAM_ENDED]
    assert result["findings"][1]["evidence"] == {"state": "disabled",
                                                 "ping": "connect ECONNREFUSED 127.0.0.1:9090"}
    assert vminfod_state(box) == "disabled"


def test_memory_and_refresh_limits_are_params(tmp_path: Path) -> None:
    """The same healthy node, judged by stricter limits: two warnings, and not 'healthy'."""
    _, result, _ = diagnose(tmp_path, "vminfod-healthy", "-p", "samples=1",
                            "-p", "rss_mb_floor=10", "-p", "rss_mb_per_vm=0.5",
                            "-p", "max_refresh_age=60s")
    assert findings(result) == [
        ("warning", "vminfod uses more memory than its number of VMs explains"),
        ("warning", "vminfod's last full refresh is too old (it forces one every 5 minutes)"),
    ]
    memory, refresh = (f["evidence"] for f in result["findings"])
    assert memory["num_vms"] == 23 and memory["limit_mb"] == 11.5 and memory["rss_mb"] > 50
    assert refresh["limit_seconds"] == 60.0 and refresh["last_refresh_seconds"] > 150
