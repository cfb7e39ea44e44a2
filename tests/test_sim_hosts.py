"""Simulated hosts: the sandbox transport, each host's own files, files through executors.

``for_sandbox(D)`` is what ``--sandbox`` hands the connection layer: an SSH
target whose host is simulated runs here, as that host, with no sshd; a host
marked down refuses like an unreachable one. ``read_file``/``write_file`` are
one code path for every executor: on a simulated host they touch its root
inside the sandbox, never the machine's own files.
"""

from __future__ import annotations

import os
import socket
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

PLUGINS = Path(__file__).resolve().parent / "plugins"
if str(PLUGINS) not in sys.path:
    sys.path.insert(0, str(PLUGINS))

from runbook_simhosts.testing import registered  # noqa: E402

from runbook import sim  # noqa: E402
from runbook.errors import CommandError, ConnectionError_  # noqa: E402
from runbook.executors.local import LocalExecutor  # noqa: E402
from runbook.sim import hosts  # noqa: E402
from runbook.sim.store import SandboxError  # noqa: E402
from runbook.sim.transport import SandboxHostExecutor, for_sandbox  # noqa: E402


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with registered():
        yield sim.init_sandbox("two-hosts", tmp_path_factory.mktemp("hosts") / "box")


# -- who am I ------------------------------------------------------------------------------------


def test_the_host_comes_from_the_environment_then_the_ssh_address(box: Path) -> None:
    state = sim.load_state(box)
    assert hosts.current(state, {"RUNBOOK_SIM_HOST": "db2"}) == "db2"
    ssh = {"SSH_CONNECTION": "127.0.0.1 41234 127.0.1.11 2222"}
    assert hosts.current(state, ssh) == "db1"
    assert hosts.current(state, {**ssh, "RUNBOOK_SIM_HOST": "db3"}) == "db3"  # named wins
    assert hosts.current(state, {"SSH_CONNECTION": "10.0.0.1 1 10.0.0.2 22"}) is None
    assert hosts.current(state, {}) is None
    with pytest.raises(SandboxError, match="db7 is not a simulated host; hosts: db1, db2, db3"):
        hosts.current(state, {"RUNBOOK_SIM_HOST": "db7"})


def test_host_paths_stay_inside_the_host_root(box: Path) -> None:
    root = box / "hosts" / "db1" / "root"
    assert hosts.host_path(box, "db1", "/etc/role") == root / "etc" / "role"
    assert hosts.host_path(box, "db1", "etc/role") == root / "etc" / "role"
    with pytest.raises(SandboxError, match=r"'\.\.' is not allowed"):
        hosts.host_path(box, "db1", "/etc/../../../../etc/passwd")
    (root / "escape").symlink_to("/etc")
    with pytest.raises(SandboxError, match="leaves the root of simulated host db1"):
        hosts.host_path(box, "db1", "/escape/passwd")


# -- the transport -------------------------------------------------------------------------------


def test_ssh_targets_on_simulated_hosts_run_as_that_host(box: Path) -> None:
    transport = for_sandbox(box)
    by_address = transport("db", "ssh", {"host": "127.0.1.11", "user": "ops"})
    assert isinstance(by_address, SandboxHostExecutor)
    res = by_address.run(["hostinfo"])
    assert (res.rc, res.stdout) == (0, "db1 127.0.1.11 primary\n"), res.stderr
    by_name = transport("replica", "ssh", {"host": "db2", "port": 2222})
    assert by_name is not None
    assert by_name.run(["hostinfo"]).stdout == "db2 127.0.1.12 replica\n"
    assert by_name.describe(["cat", "/etc/my file"]) == \
        "ssh -p 2222 db2 -- cat ''\"'\"'/etc/my file'\"'\"''"
    # background processes see the same environment
    proc = by_name.start(["hostinfo"])
    assert proc.wait(10) == 0
    assert proc.result().stdout == "db2 127.0.1.12 replica\n"


def test_anything_else_is_left_to_the_normal_executor(box: Path) -> None:
    transport = for_sandbox(box)
    assert transport("web", "ssh", {"host": "web1.example.org"}) is None
    assert transport("local", "local", {}) is None
    assert transport("pod", "kubectl-exec", {"host": "db1"}) is None


def test_a_host_marked_down_refuses_like_an_unreachable_one(box: Path) -> None:
    from runbook.executors.ssh import SSHExecutor

    closed = socket.socket()
    closed.bind(("127.0.1.13", 0))  # a port nobody listens on
    port = closed.getsockname()[1]
    down = for_sandbox(box)("spare", "ssh", {"host": "127.0.1.13", "port": port})
    real = SSHExecutor("spare", {"host": "127.0.1.13", "port": port, "connect_timeout": 5})
    assert down is not None
    with pytest.raises(ConnectionError_) as simulated:
        down.connect()
    with pytest.raises(ConnectionError_) as unreachable:
        real.connect()
    closed.close()
    assert str(simulated.value) == str(unreachable.value) == (
        f"target 'spare': cannot connect to 127.0.1.13:{port}: Connection refused")
    with pytest.raises(ConnectionError_) as caught:
        down.run(["hostinfo"])
    assert caught.value.target == "spare"
    with pytest.raises(ConnectionError_):
        down.read_file("/etc/role")
    sim.set_host_up(box, "db3", True)
    try:
        assert down.run(["hostinfo"]).stdout == "db3 127.0.1.13 spare\n"
    finally:
        sim.set_host_up(box, "db3", False)
    with pytest.raises(ValueError, match="unknown host 'db9'; choose from: db1, db2, db3"):
        sim.set_host_up(box, "db9", True)


# -- files ---------------------------------------------------------------------------------------


def test_writing_etc_on_a_simulated_host_changes_its_root_only(box: Path) -> None:
    db1 = for_sandbox(box)("db1", "ssh", {"host": "db1"})
    assert db1 is not None
    assert not Path("/etc/runbook-sim-test.conf").exists()
    db1.write_file("/etc/runbook-sim-test.conf", b"max_heap = 8G\n", mode=0o600)
    written = box / "hosts" / "db1" / "root" / "etc" / "runbook-sim-test.conf"
    assert written.read_bytes() == b"max_heap = 8G\n"
    assert stat.S_IMODE(written.stat().st_mode) == 0o600
    assert not Path("/etc/runbook-sim-test.conf").exists()
    assert not (box / "hosts" / "db2" / "root" / "etc" / "runbook-sim-test.conf").exists()
    assert db1.read_file("/etc/runbook-sim-test.conf") == b"max_heap = 8G\n"
    db1.write_file("/etc/runbook-sim-test.conf", b"max_heap = 4G\n")  # keeps its mode
    assert stat.S_IMODE(written.stat().st_mode) == 0o600
    assert db1.read_file("/etc/role") == b"primary\n"


def test_file_errors_look_like_the_commands_failing(box: Path) -> None:
    db2 = for_sandbox(box)("db2", "ssh", {"host": "db2"})
    assert db2 is not None
    with pytest.raises(CommandError, match="cat: /etc/missing: No such file or directory"):
        db2.read_file("/etc/missing")
    with pytest.raises(CommandError, match="tee: /no/such/dir/x: No such file or directory"):
        db2.write_file("/no/such/dir/x", b"x")
    with pytest.raises(CommandError, match=r"'\.\.' is not allowed") as caught:
        db2.write_file("/etc/../../../tmp/evil", b"x")
    assert caught.value.rc == 1


def test_the_default_file_methods_run_commands_on_any_executor(tmp_path: Path) -> None:
    local = LocalExecutor("local")
    target = tmp_path / "secret.conf"
    local.write_file(str(target), "token = ünïcode\n".encode(), mode=0o600)
    assert target.read_text() == "token = ünïcode\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert local.read_file(str(target)) == "token = ünïcode\n".encode()
    local.write_file(str(target), b"")
    assert target.read_bytes() == b""
    dash = tmp_path / "-n"  # a path that looks like an option is still a path
    local.write_file(str(dash), b"x\n")
    assert local.read_file(str(dash)) == b"x\n"
    with pytest.raises(CommandError, match="command exited 1: cat --"):
        local.read_file(str(tmp_path / "missing"))
    assert os.access(target, os.R_OK)
