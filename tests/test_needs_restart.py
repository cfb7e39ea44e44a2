"""host.needs_restart on both kinds of old code: a mapped file deleted (replaced by a
rename) and a mapped file rewritten in place after the process started.

The simulated publisher host models both (``/proc/PID/maps``, ``/proc/PID/stat``
and ``/proc/stat`` in its root, file times from its ``stat`` stand-in); the last
test reads this machine's real ``/proc`` for a process of the test that maps a
file which is then rewritten in place.
"""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from helpers import json_step, run_cli, run_json
from runbook_host.processes import boot_time, mapped, parse_stat, started_at
from runbook_stomp.sim.part import ITB

import runbook
from runbook import sim

HTTPD, LIBSSL = "/usr/sbin/httpd", "/usr/lib64/libssl.so.1.0.2k"
MAPS = """\
55d1a0000000-55d1a0021000 r-xp 00000000 fd:00 4000   /usr/sbin/httpd (deleted)
7f0200000000-7f0200021000 r-xp 00000000 fd:00 4002   /usr/lib64/libssl.so.1.0.2k
7f0300000000-7f0300021000 rw-s 00000000 00:05 77     /dev/zero (deleted)
7f0400000000-7f0400021000 rw-p 00000000 00:00 0      [heap]
7f0600000000-7f0600008000 rw-s 00000000 fd:00 4100   /var/lib/app/journal.db-shm
7f0500000000-7f0500001000 r--p 00000000 00:00 0
"""


def test_maps_split_into_deleted_and_present_files() -> None:
    assert mapped(MAPS) == ([HTTPD], [LIBSSL])


def test_start_time_from_proc_stat_with_spaces_in_the_name() -> None:
    stat = "4242 (my (odd) name) S 1 4242 4242 0 -1 4194560 1 0 0 0 1 1 0 0 20 0 1 0 12345 0 0"
    assert started_at(stat, 1_700_000_000.0, 100) == 1_700_000_123.45
    assert boot_time("cpu  1 2 3\nbtime 1700000000\n") == 1_700_000_000.0
    assert parse_stat("10 20 /a b\nstat: cannot statx\n30 5 /c\n") == {"/a b": 20.0,
                                                                         "/c": 30.0}


def playbook(tmp_path: Path) -> Path:
    path = tmp_path / "old-code.yaml"
    path.write_text("runbook: 1\nname: old-code\ntargets:\n  production: {connection: ssh, "
                    "host: psds0}\ndefaults: {target: production}\nsteps:\n  - id: old\n"
                    "    action: host.needs_restart\n")
    return path


def old_code(tmp_path: Path, box: Path) -> list[dict[str, Any]]:
    code, doc = run_json(playbook(tmp_path), box)
    assert code == 0, doc
    found: list[dict[str, Any]] = json_step(doc, "old")["result"]["processes"]
    return found


def test_sim_httpd_on_a_deleted_binary_and_a_library_replaced_in_place(
        tmp_path: Path, runbook_home: Path) -> None:
    box = tmp_path / "drift"
    sim.init_sandbox("package-drift", box)
    assert old_code(tmp_path, box) == [{"pid": 2001, "name": "httpd",
                                        "files": [HTTPD, LIBSSL], "deleted": [HTTPD],
                                        "replaced": [LIBSSL]}]


def test_sim_an_update_in_place_alone_is_found_and_a_restart_clears_it(
        tmp_path: Path, runbook_home: Path) -> None:
    box = tmp_path / "healthy"
    sim.init_sandbox("publisher-healthy", box)
    assert old_code(tmp_path, box) == []
    update = run_cli("sim", "exec", box, "--host", "psds0", "--", "yum", "-y", "install",
                     "openssl-libs-1:1.0.2k-26.el7_9")
    assert update.returncode == 0, update.stderr
    maps = sim.hosts.host_path(box, "psds0", "/proc/2001/maps").read_text()
    assert "(deleted)" not in maps and LIBSSL in maps
    assert old_code(tmp_path, box) == [{"pid": 2001, "name": "httpd", "files": [LIBSSL],
                                        "deleted": [], "replaced": [LIBSSL]}]
    restart = run_cli("sim", "exec", box, "--host", "psds0", "--", "systemctl", "restart",
                      "httpd")
    assert restart.returncode == 0, restart.stderr
    assert old_code(tmp_path, box) == []
    assert sim.load_state(box)["publisher"]["hosts"]["psds0"]["packages"]["openssl-libs"] \
        == "1:1.0.2k-26.el7_9" != ITB["openssl-libs"]


MAPPER = """
import ctypes, mmap, sys
ctypes.CDLL(None).prctl(15, sys.argv[2].encode(), 0, 0, 0)
f = open(sys.argv[1], "rb")
m = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ)
print("ok", flush=True)
sys.stdin.read()
"""


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="needs Linux /proc")
def test_real_process_mapping_a_file_rewritten_in_place(tmp_path: Path,
                                                        runbook_home: Path) -> None:
    lib = tmp_path / "libfake.so"
    lib.write_bytes(b"\0" * 8192)
    comm = "rb" + uuid.uuid4().hex[:10]
    proc = subprocess.Popen([sys.executable, "-c", MAPPER, str(lib), comm],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    text = ("runbook: 1\nname: real\nsteps:\n  - id: old\n    action: host.needs_restart\n"
            f"    with: {{names: [{comm}]}}\n")
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "ok\n"
        before = runbook.run(runbook.loads(text), yes=True)
        time.sleep(2.2)                      # btime and %Y are whole seconds
        with lib.open("r+b") as out:         # same inode: no "(deleted)" in the maps
            out.write(b"new code")
        after = runbook.run(runbook.loads(text), yes=True)
    finally:
        proc.kill()
        proc.wait()
    assert before.exit_code == 0 and before.step("old").result["processes"] == []
    assert after.exit_code == 0, after.error
    assert after.step("old").result["processes"] == [
        {"pid": proc.pid, "name": comm, "files": [str(lib)], "deleted": [],
         "replaced": [str(lib)]}]
    assert [f.title for f in after.findings] == [
        f"{comm} (pid {proc.pid}) still runs replaced files: {lib}"]

