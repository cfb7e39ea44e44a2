"""post-update-consistency on the Debian-flavoured publisher estate (``package-drift-debian``):
``dpkg-query -W`` and ``apt-get`` stand-ins, versions where string order is wrong
(epochs, ``~``), apache2 on a deleted binary. The run leaves no drift; a refused
downgrade leaves the exact apt-get command."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

from helpers import fail_after, run_cli, sim_host
from runbook_stomp.sim.part import DEB_ITB, DEB_PROD

from runbook import sim
from runbook.sim.hosts import host_path

ROOT = Path(__file__).resolve().parent.parent
CONSISTENCY = ROOT / "playbooks" / "post-update-consistency.yaml"
DEBIAN = ("-p", "manager=dpkg", "-p", "service=apache2")


def ssh(*argv: str) -> str:
    """A command as the plan and the by-hand list show it (quoted twice, as ssh needs)."""
    return "ssh psds0 -- " + " ".join(shlex.quote(shlex.quote(a)) for a in argv)


def sandbox(tmp_path: Path, faults: tuple[str, ...] = ()) -> Path:
    box = tmp_path / "debian"
    sim.init_sandbox("package-drift-debian", box, faults=faults)
    return box


def host(box: Path, name: str = "psds0") -> dict[str, Any]:
    return sim_host(box, "publisher", name)


def dpkg_query(box: Path, name: str) -> dict[str, str]:
    out = run_cli("sim", "exec", box, "--host", name, "--", "dpkg-query", "-W", "-f",
                  "${Package} ${Version}\\n")
    assert out.returncode == 0, out.stderr
    return dict(line.split(" ", 1) for line in out.stdout.splitlines())


def test_consistency_on_debian_leaves_no_drift(tmp_path: Path, runbook_home: Path) -> None:
    box = sandbox(tmp_path)
    assert dpkg_query(box, "psds0") == DEB_PROD and dpkg_query(box, "psds-itb1") == DEB_ITB
    proc = run_cli("run", CONSISTENCY, "--sandbox", box, "--yes", "--json", *DEBIAN)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(proc.stdout)
    titles = {f["title"] for f in report["findings"]}
    assert {"openssl 3.0.11-1~deb12u1 is older than the reference's 3.0.11-1",
            "perfsonar-toolkit 5.0.7-1 is older than the reference's 1:5.0.5-1",
            "libssl3 3.0.11-1~deb12u1 is older than the reference's 3.0.11-1~deb12u2"} <= titles
    steps = {s["id"]: s for s in report["steps"]}
    assert steps["drift"]["result"]["newer_here"] == []
    assert steps["update"]["commands"][1] == ssh(
        "apt-get", "install", "-y", "apache2=2.4.59-1~deb12u1", "apache2-bin=2.4.59-1~deb12u1",
        "libssl3=3.0.11-1~deb12u2", "openssl=3.0.11-1", "perfsonar-toolkit=1:5.0.5-1")
    assert steps["still-old"]["result"]["names"] == ["apache2"]
    assert dpkg_query(box, "psds0") == DEB_ITB
    assert [c["status"] for c in report["checks"] if c["kind"] == "verify"] == ["ok", "ok"]
    web = next(pid for pid, p in host(box)["procs"].items() if p["name"] == "apache2")
    assert web != "2001"
    assert "(deleted)" not in host_path(box, "psds0", f"/proc/{web}/maps").read_text()


def test_a_refused_apt_downgrade_leaves_the_exact_command(tmp_path: Path,
                                                          runbook_home: Path) -> None:
    box = sandbox(tmp_path, faults=("yum_refuses_downgrade",))
    playbook = fail_after(CONSISTENCY, "update", tmp_path / "consistency-fails.yaml")
    proc = run_cli("run", playbook, "--sandbox", box, "--yes", *DEBIAN)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "$ " + ssh("apt-get", "install", "-y", "--allow-downgrades", "apache2=2.4.57-2",
                      "apache2-bin=2.4.57-2", "libssl3=3.0.11-1~deb12u1",
                      "openssl=3.0.11-1~deb12u1", "perfsonar-toolkit=5.0.7-1") in proc.stdout
    assert dpkg_query(box, "psds0") == DEB_ITB


def test_a_debian_host_has_no_rpm_and_apt_wants_allow_downgrades(tmp_path: Path) -> None:
    box = sandbox(tmp_path)
    rpm = run_cli("sim", "exec", box, "--host", "psds0", "--", "rpm", "-qa", "--qf", "%{NAME}")
    assert (rpm.returncode, rpm.stderr.strip()) == (127, "bash: rpm: command not found")
    down = run_cli("sim", "exec", box, "--host", "psds-itb1", "--", "apt-get", "install", "-y",
                   "openssl=3.0.11-1~deb12u1")
    assert down.returncode == 100
    assert "E: Packages were downgraded and -y was used without --allow-downgrades." \
        in down.stderr
    assert dpkg_query(box, "psds-itb1") == DEB_ITB
