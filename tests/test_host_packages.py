"""host.packages, host.package_drift, host.package_update, host.process and
host.needs_restart through the engine on the local machine.

``rpm``, ``yum`` and ``ps`` are small tools first on PATH that keep their
state in a file, so each test asserts the versions left installed; the
needs-restart test runs a real process that maps a file which is then
deleted, and reads the real ``/proc``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from helpers import run_with_tools, step_result
from runbook_host.versions import deb_compare, rpm_compare

from runbook.result import RunResult

RPM = r'''
import json, pathlib, sys
pkgs = json.loads(pathlib.Path(__file__).with_name("rpmdb.json").read_text())
fmt = sys.argv[sys.argv.index("--qf") + 1]
names = sys.argv[sys.argv.index("--qf") + 2:] if sys.argv[1] == "-q" else sorted(pkgs)
rc = 0
for n in names:
    if n not in pkgs:
        print(f"package {n} is not installed"); rc = 1; continue
    e, v = (pkgs[n].split(":", 1) if ":" in pkgs[n] else ("0", pkgs[n]))
    ver, rel = v.split("-", 1)
    print(fmt.replace("%{NAME}", n).replace("%{EPOCHNUM}", e).replace("%{VERSION}", ver)
          .replace("%{RELEASE}", rel).replace("%{ARCH}", "x86_64").replace("\\t", "\t")
          .replace("\\n", "\n"), end="")
sys.exit(rc)
'''

YUM = r'''
import json, pathlib, sys
db = pathlib.Path(__file__).with_name("rpmdb.json")
pkgs = json.loads(db.read_text())
policy = json.loads(pathlib.Path(__file__).with_name("yum.json").read_text())
assert sys.argv[1] == "-y", sys.argv
verb, specs = sys.argv[2], sys.argv[3:]
with open(pathlib.Path(__file__).with_name("calls"), "a") as log:
    log.write(" ".join(sys.argv[1:]) + "\n")
for spec in specs:
    name = next(n for n in sorted(pkgs, key=len, reverse=True) if spec.startswith(n + "-"))
    if verb == "downgrade" and name in policy.get("refuse_downgrade", []):
        print(f"Package {spec} is not available for downgrade"); sys.exit(1)
    pkgs[name] = spec[len(name) + 1:]
db.write_text(json.dumps(pkgs))
'''

PS = r'''
import json, pathlib, sys
state = pathlib.Path(__file__).with_name("ps.json")
ps = json.loads(state.read_text())
ps["calls"] += 1
state.write_text(json.dumps(ps))
for pid, name in ps["procs"].items():
    print(pid, ps["rss"] + ps["growth"] * ps["calls"] if sys.argv[-1] == "pid=,rss=" else name)
'''

PROD = {"httpd": "2.4.6-97.el7.centos", "mod_ssl": "1:2.4.6-97.el7.centos",
        "stompclt": "1.6-1.el7", "openssl-libs": "1:1.0.2k-19.el7", "only-prod": "1.0-1"}
ITB = {"httpd": "2.4.6-99.el7.centos.1", "mod_ssl": "1:2.4.6-99.el7.centos.1",
       "stompclt": "1.6-1.el7", "openssl-libs": "1:1.0.2k-25.el7_9", "only-itb": "2.0-1"}


@pytest.fixture
def tools(tmp_path: Path) -> Path:
    folder = tmp_path / "bin"
    folder.mkdir()
    for name, body in (("rpm", RPM), ("yum", YUM), ("ps", PS)):
        path = folder / name
        path.write_text(f"#!{sys.executable}\n{body}")
        path.chmod(0o755)
    (folder / "rpmdb.json").write_text(json.dumps(PROD))
    (folder / "yum.json").write_text("{}")
    return folder





def rpmdb(tools: Path) -> dict[str, str]:
    found: dict[str, str] = json.loads((tools / "rpmdb.json").read_text())
    return found


@pytest.mark.parametrize(("a", "b", "want"), [
    ("2.4.6-97.el7", "2.4.6-99.el7", -1), ("1.10-1", "1.9-1", 1), ("1:1.0-1", "2.0-1", 1),
    ("1.0~rc1-1", "1.0-1", -1), ("1.0a-1", "1.0-1", 1), ("1.0.1-1", "1.0-1", 1),
    ("1.0^git1-1", "1.0-1", 1), ("2.4.6-97.el7", "2.4.6-97.el7", 0)])
def test_rpm_order_is_not_string_order(a: str, b: str, want: int) -> None:
    assert rpm_compare(a, b) == want and rpm_compare(b, a) == -want


@pytest.mark.parametrize(("a", "b", "want"), [
    ("1.0~rc1-1", "1.0-1", -1), ("1:0.9", "2.0", 1), ("2.4.41-4ubuntu3.14", "2.4.41-4ubuntu3.9", 1),
    ("1.0a", "1.0+", -1), ("1.0", "1.0-0", 0)])
def test_debian_order(a: str, b: str, want: int) -> None:
    assert deb_compare(a, b) == want and deb_compare(b, a) == -want


def test_packages_by_pattern_and_drift_against_the_reference(tmp_path: Path,
                                                             tools: Path) -> None:
    res = run(tmp_path, tools,
              {"id": "pkgs", "action": "host.packages", "with": {"names": ["httpd", "mod_*"]}},
              {"id": "drift", "action": "host.package_drift", "with": {"reference": ITB}})
    assert res.exit_code == 0
    assert result(res, "pkgs")["packages"] == {"httpd": "2.4.6-97.el7.centos",
                                               "mod_ssl": "1:2.4.6-97.el7.centos"}
    got = result(res, "drift")
    assert [r["name"] for r in got["older_here"]] == ["httpd", "mod_ssl", "openssl-libs"]
    assert got["newer_here"] == [] and got["drifting"] == 5
    assert got["only_here"] == ["only-prod"] and got["only_there"] == ["only-itb"]
    assert "openssl-libs 1:1.0.2k-19.el7 is older than the reference's 1:1.0.2k-25.el7_9" in [
        f.title for f in res.findings]


def test_package_update_to_the_reference_versions(tmp_path: Path, tools: Path) -> None:
    wanted = {n: ITB[n] for n in ("httpd", "mod_ssl")}
    res = run(tmp_path, tools, {"id": "up", "action": "host.package_update",
                                "with": {"versions": wanted}, "rollback": "auto"})
    assert res.exit_code == 0, res.steps
    assert {n: rpmdb(tools)[n] for n in wanted} == wanted
    assert result(res, "up")["changed"] == ["httpd", "mod_ssl"]
    assert (tools / "calls").read_text() == ("-y install httpd-2.4.6-99.el7.centos.1 "
                                             "mod_ssl-1:2.4.6-99.el7.centos.1\n")


def test_package_update_rolls_back_by_downgrading(tmp_path: Path, tools: Path) -> None:
    res = run(tmp_path, tools,
              {"id": "up", "action": "host.package_update",
               "with": {"versions": {"httpd": ITB["httpd"]}}, "rollback": "auto"},
              {"id": "boom", "action": "host.shell", "with": {"command": ["false"]}})
    assert res.exit_code == 1
    assert rpmdb(tools)["httpd"] == PROD["httpd"]
    assert (tools / "calls").read_text().splitlines()[-1] == \
        "-y downgrade httpd-2.4.6-97.el7.centos"


def test_a_refused_downgrade_leaves_the_command_to_run_by_hand(tmp_path: Path,
                                                               tools: Path) -> None:
    (tools / "yum.json").write_text(json.dumps({"refuse_downgrade": ["httpd"]}))
    res = run(tmp_path, tools,
              {"id": "up", "action": "host.package_update",
               "with": {"versions": {"httpd": ITB["httpd"]}}, "rollback": "auto"},
              {"id": "boom", "action": "host.shell", "with": {"command": ["false"]}})
    assert res.exit_code == 3
    assert rpmdb(tools)["httpd"] == ITB["httpd"]
    assert any("yum -y downgrade httpd-2.4.6-97.el7.centos" in m for m in res.manual)


def test_process_rss_trend(tmp_path: Path, tools: Path) -> None:
    (tools / "ps.json").write_text(json.dumps({"calls": 0, "procs": {"2911029": "stompclt"},
                                               "rss": 1000, "growth": 500}))
    res = run(tmp_path, tools, {"id": "rss", "action": "host.process",
                                "with": {"names": ["stompclt"], "interval": 0.3,
                                         "samples": 3}})
    assert res.exit_code == 0
    got = result(res, "rss")
    assert [s["rss_bytes"] for s in got["samples"]] == [1500 * 1024, 2000 * 1024, 2500 * 1024]
    assert got["samples"][0]["pids"] == [2911029]
    assert got["growth_bytes_per_min"] > 0


def test_needs_restart_finds_a_process_mapping_a_deleted_file(tmp_path: Path,
                                                              tools: Path) -> None:
    lib = tmp_path / "libfake.so"
    lib.write_bytes(b"\0" * 4096)
    proc = subprocess.Popen(
        [sys.executable, "-c", "import mmap, sys, time; f = open(sys.argv[1], 'rb'); "
         "m = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ); print('ok', flush=True); "
         "time.sleep(60)", str(lib)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "ok\n"
        lib.unlink()
        (tools / "ps.json").write_text(json.dumps({
            "calls": 0, "procs": {str(proc.pid): "httpd", str(os.getpid()): "pytest"},
            "rss": 0, "growth": 0}))
        res = run(tmp_path, tools, {"id": "old", "action": "host.needs_restart",
                                    "with": {"names": ["httpd"]}})
    finally:
        proc.kill()
        proc.wait()
    assert res.exit_code == 0
    got = result(res, "old")
    assert got["processes"] == [{"pid": proc.pid, "name": "httpd", "files": [str(lib)],
                                 "deleted": [str(lib)], "replaced": []}]
    assert got["names"] == ["httpd"]


def run(tmp_path: Path, tools: Path, *steps: dict[str, Any]) -> RunResult:
    res: RunResult = run_with_tools(tmp_path, tools, *steps)
    return res


result = step_result
