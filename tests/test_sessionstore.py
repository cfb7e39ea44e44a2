"""The session store playbooks end to end on the simulated estate (``--sandbox``).

Each test asserts the estate afterwards through the stand-in tools' own
output (``nodetool status``, ``confctl ... get``, the Kask logs), the exit
code and the ``--json`` result, as an operator would check them.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from helpers import audit_events, run_cli
from runbook_cassandra.parse import parse_status

from runbook import sim

ROOT = Path(__file__).resolve().parent.parent
SAFE_REBOOT = ROOT / "playbooks" / "sessionstore-safe-reboot.yaml"
FAST = ("-p", "poll_interval=0.2s", "-p", "observe=1s", "-p", "stable_polls=2")
QUORUM_ERROR = "Cannot achieve consistency level LOCAL_QUORUM"


def tool(box: Path, *argv: str, host: str | None = None) -> subprocess.CompletedProcess[str]:
    return run_cli("sim", "exec", box, *(["--host", host] if host else []), "--", *argv)


def status(box: Path) -> dict[str, Any]:
    proc = tool(box, "nodetool", "status", host="sessionstore1003")
    assert proc.returncode == 0, proc.stderr
    return parse_status(proc.stdout)


def codes(box: Path) -> dict[str, str]:
    return {n["address"]: n["status"] + n["state"] for n in status(box)["nodes"]}


def pooled(box: Path, dc: str) -> bool:
    proc = tool(box, "confctl", "--object-type", "discovery", "select",
                f"dnsdisc=sessionstore,name={dc}", "get")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["tags"] == "dnsdisc=sessionstore"
    return bool(doc[dc]["pooled"])


def depool(box: Path, dc: str) -> None:
    proc = tool(box, "confctl", "--object-type", "discovery", "select",
                f"dnsdisc=sessionstore,name={dc}", "set/pooled=false")
    assert proc.returncode == 0 and f"{dc}: pooled changed True => False" in proc.stdout


def kask_errors(box: Path, dc: str, since: str = "2s") -> int:
    proc = tool(box, "kubectl", "-n", "sessionstore", "logs", f"deployment/kask-{dc}",
                f"--since={since}")
    assert proc.returncode == 0, proc.stderr
    return sum(QUORUM_ERROR in line for line in proc.stdout.splitlines())


def reboot(box: Path, host: str, *extra: str) -> tuple[int, dict[str, Any]]:
    proc = run_cli("run", SAFE_REBOOT, "--sandbox", box, "--yes", "--json", "-p", f"host={host}",
                   *FAST, *extra)
    assert proc.stdout, proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def box_of(tmp_path: Path, scenario: str, *faults: str) -> Path:
    directory = tmp_path / "estate"
    sim.init_sandbox(scenario, directory, faults=faults)
    return directory


def steps(result: dict[str, Any]) -> dict[str, str]:
    return {s["id"]: s["status"] for s in result["steps"]}


ALL_UN = {f"127.0.2.{n}": "UN" for n in (11, 12, 13, 21, 22, 23)}


def test_healthy_reboot_completes_and_repools(tmp_path: Path, runbook_home: Path) -> None:
    box = box_of(tmp_path, "sessionstore-healthy")
    before = sim.load_state(box)["cassandra"]["nodes"]["sessionstore1001"]["booted"]
    rc, result = reboot(box, "sessionstore1001")
    assert rc == 0, result
    assert steps(result) == {
        "depool": "ok", "disablebinary": "ok", "drain": "ok", "reboot": "ok", "cql-port": "ok",
        "normal": "ok", "host-down": "skipped", "stay-depooled": "skipped", "quorum": "ok",
        "restart-kask": "ok", "kask-rolled": "ok", "observe": "ok", "repool": "ok"}
    assert codes(box) == ALL_UN
    assert pooled(box, "eqiad") and pooled(box, "codfw")
    assert sim.load_state(box)["cassandra"]["nodes"]["sessionstore1001"]["booted"] > before
    assert kask_errors(box, "eqiad", "1s") == 0  # the restart replaced the pods that erred
    assert sim.load_state(box)["cassandra"]["broken"] == {}
    reboot_step = next(s for s in result["steps"] if s["id"] == "reboot")
    assert reboot_step["result"]["rebooted"] is True
    events = audit_events(runbook_home / "audit.jsonl", result["run_id"])
    argvs = [e.get("argv") for e in events if e["event"] == "step.started"]
    assert ["confctl", "--object-type", "discovery", "select",
            "dnsdisc=sessionstore,name=eqiad", "set/pooled=false"] in argvs
    assert ["nodetool", "drain"] in argvs and ["reboot"] in argvs
    assert ["kubectl", "-n", "sessionstore", "rollout", "restart",
            "deployment/kask-eqiad"] in argvs


def test_a_host_that_stays_down_stops_with_its_datacenter_depooled(tmp_path: Path,
                                                                   runbook_home: Path) -> None:
    box = box_of(tmp_path, "sessionstore-healthy", "node_stays_down")
    rc, result = reboot(box, "sessionstore2002", "-p", "reboot_timeout=1.5s")
    assert rc == 3
    assert result["outcome"] == "needs-attention"
    got = steps(result)
    assert (got["reboot"], got["cql-port"], got["normal"], got["host-down"],
            got["stay-depooled"]) == ("failed", "skipped", "skipped", "ok", "failed")
    assert "repool" not in got or got["repool"] == "pending"
    assert result["rollbacks"] == []
    assert not pooled(box, "codfw") and pooled(box, "eqiad")
    assert codes(box) == {**ALL_UN, "127.0.2.22": "DN"}
    finding = result["findings"][0]
    assert finding["severity"] == "critical"
    assert finding["title"] == ("sessionstore2002 is not back and UN; codfw stays depooled "
                                "on purpose")
    assert "127.0.2.22 port 22: Connection refused" in finding["evidence"]["reboot"]
    failed = next(s for s in result["steps"] if s["id"] == "stay-depooled")
    assert "codfw stays depooled on purpose: never repool a datacenter with a node down" \
        in failed["error"]
    finished = [e for e in audit_events(runbook_home / "audit.jsonl", result["run_id"])
                if e["event"] == "run.finished"]
    assert "codfw stays depooled on purpose" in json.dumps(finished)


def test_a_node_that_stays_joining_is_never_repooled(tmp_path: Path) -> None:
    box = box_of(tmp_path, "sessionstore-healthy", "node_rejoins_joining")
    rc, result = reboot(box, "sessionstore1003", "-p", "normal_timeout=2s")
    assert rc == 3
    normal = next(s for s in result["steps"] if s["id"] == "normal")
    assert normal["status"] == "failed"
    assert "not normal after 2s: 127.0.2.13 (eqiad) is UJ" in normal["error"]
    assert not pooled(box, "eqiad") and pooled(box, "codfw")
    assert codes(box) == {**ALL_UN, "127.0.2.13": "UJ"}


def test_the_other_datacenter_depooled_changes_nothing(tmp_path: Path) -> None:
    box = box_of(tmp_path, "sessionstore-healthy")
    depool(box, "codfw")
    before = sim.load_state(box)["cassandra"]["nodes"]
    rc, result = reboot(box, "sessionstore1001")
    assert rc == 6
    assert [c["id"] for c in result["checks"] if not c["ok"]] == ["other-dc"]
    assert all(s["status"] in ("pending", "skipped") for s in result["steps"])
    assert pooled(box, "eqiad") and not pooled(box, "codfw")
    assert codes(box) == ALL_UN
    assert sim.load_state(box)["cassandra"]["nodes"] == before


def test_a_keyspace_that_does_not_exist_changes_nothing(tmp_path: Path) -> None:
    box = box_of(tmp_path, "sessionstore-healthy")
    rc, result = reboot(box, "sessionstore1001", "-p", "keyspace=nope")
    assert rc == 6
    cluster = next(c for c in result["checks"] if c["id"] == "cluster")
    assert cluster["observed"]["result.error"] == "Keyspace 'nope' does not exist"
    assert all(s["status"] in ("pending", "skipped") for s in result["steps"])
    assert pooled(box, "eqiad") and codes(box) == ALL_UN


@pytest.mark.parametrize("host", ["sessionstore9009", "db1"])
def test_a_host_outside_the_inventory_is_refused_before_anything(tmp_path: Path,
                                                                 host: str) -> None:
    box = box_of(tmp_path, "sessionstore-healthy")
    proc = run_cli("run", SAFE_REBOOT, "--sandbox", box, "--yes", "-p", f"host={host}")
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert host in proc.stderr and "sessionstore1001" in proc.stderr
    assert pooled(box, "eqiad") and pooled(box, "codfw")


def test_plan_shows_commands_gates_rollbacks_and_where_it_stops(tmp_path: Path) -> None:
    box = box_of(tmp_path, "sessionstore-healthy")
    proc = run_cli("plan", SAFE_REBOOT, "--sandbox", box, "-p", "host=sessionstore2001")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    for text in ("confctl --object-type discovery select dnsdisc=sessionstore,name=codfw "
                 "set/pooled=false",
                 "nodetool disablebinary", "nodetool drain", "uptime -s",
                 "nc -z -w 2 localhost 9042",
                 "nodetool status sessionstore",
                 "kubectl -n sessionstore rollout restart deployment/kask-codfw",
                 "its session store clients move to the other datacenter",
                 "rollback: auto: ssh sessionstore2001 -- nodetool enablebinary",
                 "rollback: confctl --object-type discovery select dnsdisc=sessionstore,name=codfw "
                 "set/pooled=true",
                 "stop here with the datacenter depooled on purpose"):
        assert text in out, text
    drain = out[out.index("drain — "):out.index("reboot — ")]
    assert "rollback: none" in drain
    assert pooled(box, "codfw")


RECOVER = ROOT / "playbooks" / "sessionstore-quorum-recover.yaml"
HEALTH = ROOT / "playbooks" / "sessionstore-health.yaml"


def kask_pods(box: Path, dc: str) -> list[str]:
    proc = tool(box, "kubectl", "-n", "sessionstore", "get", "pods", "-l", f"app=kask-{dc}",
                "-o", "json")
    return [item["metadata"]["name"] for item in json.loads(proc.stdout)["items"]]


def pod_errors(box: Path, pod: str, since: str) -> int:
    proc = tool(box, "kubectl", "-n", "sessionstore", "logs", pod, f"--since={since}")
    assert proc.returncode == 0, proc.stderr
    return sum(QUORUM_ERROR in line for line in proc.stdout.splitlines())


def test_recover_restarts_only_the_affected_pods_and_the_errors_stop(tmp_path: Path) -> None:
    box = box_of(tmp_path, "sessionstore-quorum-errors")
    eqiad, codfw = kask_pods(box, "eqiad"), kask_pods(box, "codfw")
    erring = [pod for pod in eqiad if pod_errors(box, pod, "1h")]
    assert len(erring) == len(eqiad) // 3 > 0
    proc = run_cli("run", RECOVER, "--sandbox", box, "--yes", "--json", "-p", "observe=1s",
                   "-p", "pause=0.2s")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads(proc.stdout)
    restart = next(s for s in result["steps"] if s["id"] == "restart-eqiad")
    assert restart["result"] == {"restarted": erring}
    assert steps(result)["restart-codfw"] == "skipped"
    finding = next(f for f in result["findings"] if f["severity"] == "critical")
    assert finding["title"] == ("Kask pods in eqiad failing LOCAL_QUORUM: " + ", ".join(erring))
    after = kask_pods(box, "eqiad")
    assert set(eqiad) - set(after) == set(erring)  # only those were replaced
    assert len(after) == len(eqiad) and kask_pods(box, "codfw") == codfw
    assert all(pod_errors(box, pod, "1h") == 0 for pod in after)
    assert kask_errors(box, "eqiad", "1s") == 0


def test_recover_does_not_apply_without_errors(tmp_path: Path) -> None:
    box = box_of(tmp_path, "sessionstore-healthy")
    pods = kask_pods(box, "eqiad")
    proc = run_cli("run", RECOVER, "--sandbox", box, "--yes")
    assert proc.returncode == 6
    assert "no Kask pod logs LOCAL_QUORUM errors; this runbook does not apply" in proc.stdout
    assert kask_pods(box, "eqiad") == pods


def test_health_is_0_when_healthy_and_6_with_findings_when_not(tmp_path: Path) -> None:
    healthy = box_of(tmp_path, "sessionstore-healthy")
    proc = run_cli("run", HEALTH, "--sandbox", healthy, "--json")
    assert proc.returncode == 0, proc.stdout
    broken = tmp_path / "broken"
    sim.init_sandbox("sessionstore-quorum-errors", broken)
    depool(broken, "codfw")
    before = sim.load_state(broken)["cassandra"]["pooled"]
    proc = run_cli("run", HEALTH, "--sandbox", broken, "--json")
    assert proc.returncode == 6
    result = json.loads(proc.stdout)
    titles = {f["title"]: f for f in result["findings"]}
    kask = "Kask in eqiad logs LOCAL_QUORUM errors (run sessionstore-quorum-recover)"
    assert set(titles) == {"codfw is depooled", kask}
    evidence = titles[kask]
    assert evidence["severity"] == "critical"
    assert QUORUM_ERROR in evidence["evidence"]["observed"]["result.last"]
    assert sim.load_state(broken)["cassandra"]["pooled"] == before
