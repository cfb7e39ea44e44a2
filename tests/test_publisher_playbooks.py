"""Issue 12's procedures end to end against the simulated publisher estate.

Each test runs the real CLI on a sandbox folder, then reads the estate
through the stand-ins' own state and the hosts' files: stompclt's
configuration and its backup, the queue size over time, stompclt's RSS,
the installed package versions, httpd's ``/proc/PID/maps``.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

from helpers import fail_after, run_cli, sim_host

from runbook import sim
from runbook.sim.hosts import host_path

ROOT = Path(__file__).resolve().parent.parent
RECOVER = ROOT / "playbooks" / "stompclt-recover.yaml"
CONSISTENCY = ROOT / "playbooks" / "post-update-consistency.yaml"
CONF = "/etc/rsv/stompclt/default.conf"


def sandbox(tmp_path: Path, scenario: str, faults: tuple[str, ...] = ()) -> Path:
    directory = tmp_path / scenario
    sim.init_sandbox(scenario, directory, faults=faults)
    return directory


def runbook(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, cwd=ROOT, timeout=120)


def host(box: Path, name: str = "psds0") -> dict[str, Any]:
    return sim_host(box, "publisher", name)


def conf(box: Path) -> str:
    return host_path(box, "psds0", CONF).read_text()


def rss_kb(h: dict[str, Any]) -> int:
    kb: int = h["procs"][h["stompclt"]["pid"]]["rss_kb"]
    return kb


def test_recover_fixes_the_config_restarts_and_the_queue_drains(tmp_path: Path,
                                                                runbook_home: Path) -> None:
    box = sandbox(tmp_path, "publisher-stuck")
    original, before = conf(box), host(box)
    assert before["stompclt"]["stalled"] and before["stompclt"]["reliable"] is False
    old_pid = before["stompclt"]["pid"]

    proc = runbook("run", RECOVER, "--sandbox", box, "--yes", "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(proc.stdout)
    assert {f["title"].split(":")[0] for f in report["findings"]} >= {
        "stompclt lost its buffer at a stop before"}
    assert any(f["title"].startswith("the queue is growing") for f in report["findings"])
    assert any(f["title"].startswith("stompclt's RSS grows") for f in report["findings"])

    assert conf(box) == original + "window = 100\nreliable = true\nheart-beat = true\n"
    assert host_path(box, "psds0", CONF + ".runbook.bak").read_text() == original
    after = host(box)
    assert after["stompclt"]["pid"] != old_pid
    assert after["stompclt"] | {"pid": None, "started": 0} == {
        "pid": None, "started": 0, "reliable": True, "window": 100, "heart_beat": True,
        "stalled": False, "buffer_bytes": 0}
    syslog = host_path(box, "psds0", "/var/log/messages").read_text()
    assert f"stompclt[{old_pid}]: [ERROR] failed to flush outgoing buffer (" in syslog
    first, rss = len(after["queue"]), rss_kb(after)
    time.sleep(1.0)
    later = host(box)
    assert len(later["queue"]) < first
    assert rss_kb(later) == rss
    assert "not-a-real-secret" not in (runbook_home / "audit.jsonl").read_text()
    assert "not-a-real-secret" not in proc.stdout


def test_an_unauthorized_topic_is_a_finding_and_stops_before_any_change(
        tmp_path: Path, runbook_home: Path) -> None:
    box = sandbox(tmp_path, "publisher-unauthorized")
    original, pid = conf(box), host(box)["stompclt"]["pid"]
    queued = len(host(box)["queue"])
    topic = "topic://perfsonar.summary.packet-loss-rate-bidir"

    proc = runbook("run", RECOVER, "--sandbox", box, "--yes", "--json")
    assert proc.returncode == 6, proc.stdout + proc.stderr
    report = json.loads(proc.stdout)
    assert (report["outcome"], report["exit_code"], report["steps"]) == (
        "precondition-failed", 6, [])
    [finding] = report["findings"]
    assert finding["severity"] == "critical" and finding["step"] == "broker-authorizes"
    assert topic in finding["title"] and "CN=psds0.example.org" in finding["title"]
    assert finding["evidence"]["destination"] == topic and finding["evidence"]["count"] == 1
    assert finding["next_step"] == (
        f"the broker's owner must grant CN=psds0.example.org the right to write to {topic}; "
        "a restart or a configuration change of stompclt cannot fix it")
    assert "the broker's owner must grant write access" in report["error"]

    console = runbook("run", RECOVER, "--sandbox", box, "--yes")
    assert console.returncode == 6, console.stdout + console.stderr
    assert f"CRITICAL the broker refuses stompclt to write to {topic}" in console.stdout
    assert "next: the broker's owner must grant CN=psds0.example.org" in console.stdout

    assert conf(box) == original
    assert not host_path(box, "psds0", CONF + ".runbook.bak").exists()
    after = host(box)
    assert after["stompclt"]["pid"] == pid and after["stompclt"]["reliable"] is False
    assert len(after["queue"]) >= queued  # nothing was sent, nothing was dropped


def test_a_failed_restart_restores_the_config_and_leaves_stompclt_as_it_was(
        tmp_path: Path, runbook_home: Path) -> None:
    box = sandbox(tmp_path, "publisher-stuck", faults=("stompclt_restart_fails",))
    original, pid = conf(box), host(box)["stompclt"]["pid"]
    proc = runbook("run", RECOVER, "--sandbox", box, "--yes")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "stompclt failed to start" in proc.stdout
    assert conf(box) == original
    after = host(box)
    assert after["stompclt"]["pid"] == pid and after["stompclt"]["reliable"] is False


def test_recover_on_a_healthy_publisher_changes_nothing(tmp_path: Path,
                                                        runbook_home: Path) -> None:
    box = sandbox(tmp_path, "publisher-healthy")
    original, pid = conf(box), host(box)["stompclt"]["pid"]
    proc = runbook("run", RECOVER, "--sandbox", box, "--yes", "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(proc.stdout)
    steps = {s["id"]: s for s in report["steps"]}
    assert steps["fix-config"]["result"]["noop"].startswith(f"already set in {CONF}: ")
    assert steps["restart"]["status"] == "skipped"
    assert report["findings"] == []
    assert host(box)["stompclt"]["pid"] == pid
    assert conf(box) == original
    assert not host_path(box, "psds0", CONF + ".runbook.bak").exists()


def test_consistency_leaves_no_drift_and_nothing_on_old_code(tmp_path: Path,
                                                             runbook_home: Path) -> None:
    box = sandbox(tmp_path, "package-drift")
    assert host(box)["packages"] != host(box, "psds-itb1")["packages"]
    assert "(deleted)" in host_path(box, "psds0", "/proc/2001/maps").read_text()
    proc = runbook("run", CONSISTENCY, "--sandbox", box, "--yes", "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(proc.stdout)
    titles = [f["title"] for f in report["findings"]]
    assert "openssl-libs 1:1.0.2k-19.el7 is older than the reference's 1:1.0.2k-25.el7_9" \
        in titles
    old = {s["id"]: s for s in report["steps"]}["old-code"]["result"]["processes"]
    assert [(p["pid"], p["deleted"], p["replaced"]) for p in old] == [
        (2001, ["/usr/sbin/httpd"], ["/usr/lib64/libssl.so.1.0.2k"])]
    assert host(box)["packages"] == host(box, "psds-itb1")["packages"]
    procs = host(box)["procs"]
    httpd = next(pid for pid, p in procs.items() if p["name"] == "httpd")
    assert httpd != "2001"
    assert "(deleted)" not in host_path(box, "psds0", f"/proc/{httpd}/maps").read_text()
    assert not host_path(box, "psds0", "/proc/2001/maps").exists()


def test_a_refused_downgrade_leaves_the_exact_command(tmp_path: Path,
                                                      runbook_home: Path) -> None:
    box = sandbox(tmp_path, "package-drift", faults=("yum_refuses_downgrade",))
    playbook = fail_after(CONSISTENCY, "update", tmp_path / "consistency-fails.yaml")
    proc = runbook("run", playbook, "--sandbox", box, "--yes")
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert ("yum -y downgrade httpd-2.4.6-97.el7.centos mod_ssl-1:2.4.6-97.el7.centos "
            "openssl-libs-1:1.0.2k-19.el7 perfsonar-toolkit-4.4.5-1.el7") in proc.stdout
    assert host(box)["packages"] == host(box, "psds-itb1")["packages"]


def test_consistency_with_reboot_brings_every_service_back_on_new_code(
        tmp_path: Path, runbook_home: Path) -> None:
    box = sandbox(tmp_path, "package-drift")
    before = host(box)
    proc = runbook("run", CONSISTENCY, "--sandbox", box, "--yes", "--json", "-p", "reboot=true")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    after = host(box)
    assert after["packages"] == host(box, "psds-itb1")["packages"]
    assert after["booted"] > before["booted"]
    assert not set(after["procs"]) & set(before["procs"])   # every process restarted
    httpd = next(pid for pid, p in after["procs"].items() if p["name"] == "httpd")
    assert "(deleted)" not in host_path(box, "psds0", f"/proc/{httpd}/maps").read_text()
    assert not host_path(box, "psds0", "/proc/2001/maps").exists()
    assert after["stompclt"]["pid"] in after["procs"] and after["stompclt"]["reliable"]
    status = runbook("sim", "exec", box, "--host", "psds0", "--", "stompclt", "--conf", CONF,
                     "--status")
    assert (status.returncode, status.stdout.strip()) == \
        (0, f"stompclt (pid {after['stompclt']['pid']}) running"), status.stderr
    check = runbook("run", CONSISTENCY, "--sandbox", box, "--yes", "--json")
    assert check.returncode == 0, check.stdout + check.stderr
    steps = {s["id"]: s for s in json.loads(check.stdout)["steps"]}
    assert steps["still-old"]["result"]["processes"] == []
    assert steps["restart"]["status"] == "skipped" and steps["reboot"]["status"] == "skipped"
