"""The SSH and kubectl-exec executors against a real loopback sshd and a fake kubectl."""

from __future__ import annotations

import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import paramiko
import pytest

from runbook.errors import CommandTimeout, ConnectionError_, PlaybookError
from runbook.executors.base import CommandResult, Executor, LineCallback, Process
from runbook.executors.kubectl_exec import KubectlExecExecutor
from runbook.executors.ssh import SSHExecutor, fingerprint, known_keys, record_known_host

if TYPE_CHECKING:
    from tests.sshd import SSHServer

# The session-scoped ``sshd`` fixture. conftest.py may list the same plugin: it is loaded once.
pytest_plugins = ["tests.sshd"]


@pytest.fixture
def ssh(sshd: SSHServer) -> Iterator[SSHExecutor]:
    ex = SSHExecutor("box", sshd.settings())
    yield ex
    ex.close()


def _remote_alive(ex: SSHExecutor, pattern: str) -> list[str]:
    """Processes on the server whose command line matches (asked over a fresh command)."""
    res = ex.run(["pgrep", "-f", pattern])
    return [p for p in res.stdout.split() if p]


def _tag() -> str:
    """A unique sleep duration, so pgrep finds only this test's processes."""
    return f"{30 + (time.monotonic_ns() % 1_000_000) / 1e7:.6f}"


def _cleanup(pattern: str) -> None:
    subprocess.run(["pkill", "-KILL", "-f", pattern], check=False)


# --------------------------------------------------------------------------- commands


def test_output_exit_codes_and_target(ssh: SSHExecutor) -> None:
    res = ssh.run(["sh", "-c", "echo out; echo err >&2; exit 3"])
    assert (res.rc, res.stdout, res.stderr, res.target) == (3, "out\n", "err\n", "box")
    assert not res.ok and res.duration_ms > 0
    assert ssh.run(["echo", "hello world"]).stdout == "hello world\n"
    assert ssh.run(["true"]).rc == 0


def test_arguments_never_pass_through_a_shell(ssh: SSHExecutor, tmp_path: Path) -> None:
    nasty = ["a b", "$(touch pwned)", "`id`", "'quoted'", '"dq"', "x;y", "*", "\\", ""]
    res = ssh.run(["printf", "%s|", *nasty], cwd=str(tmp_path))
    assert res.stdout == "|".join(nasty) + "|"
    assert not (tmp_path / "pwned").exists()


def test_stdin_env_and_cwd(ssh: SSHExecutor, tmp_path: Path) -> None:
    assert ssh.run(["cat"], stdin="line one\nline two\n").stdout == "line one\nline two\n"
    # A command reading stdin without being given any gets EOF, not a hang.
    assert ssh.run(["cat"], timeout=5).stdout == ""
    res = ssh.run(["printenv", "RB_VALUE"], env={"RB_VALUE": "a b; $(x) 'q'"})
    assert res.stdout == "a b; $(x) 'q'\n"
    odd = tmp_path / "dir with space; and $x"
    odd.mkdir()
    assert ssh.run(["pwd"], cwd=str(odd)).stdout == f"{odd}\n"
    missing = ssh.run(["pwd"], cwd=str(tmp_path / "nope"))
    assert missing.rc != 0 and "nope" in missing.stderr


def test_large_stdin_and_output(ssh: SSHExecutor) -> None:
    data = "".join(f"{i:07d}\n" for i in range(500_000))  # 4 MB: more than one window
    res = ssh.run(["cat"], stdin=data, timeout=90)
    assert res.rc == 0 and res.stdout == data


def test_stderr_only_output_larger_than_the_window_does_not_stall(ssh: SSHExecutor) -> None:
    res = ssh.run(["sh", "-c", "head -c 5000000 /dev/zero | tr '\\0' x >&2"], timeout=20)
    assert res.rc == 0 and res.stdout == "" and len(res.stderr) == 5_000_000


def test_settings_env_and_bad_names(sshd: SSHServer) -> None:
    ex = SSHExecutor("box", sshd.settings(env={"RB_A": "1"}))
    try:
        assert ex.run(["sh", "-c", "echo $RB_A$RB_B"], env={"RB_B": "2"}).stdout == "12\n"
        with pytest.raises(ValueError, match="invalid environment"):
            ex.run(["true"], env={"BAD NAME": "x"})
    finally:
        ex.close()


def test_login_script_chatter_before_the_pid_marker_is_kept(
        ssh: SSHExecutor, sshd: SSHServer) -> None:
    rc = Path(sshd.dir) / "home" / ".bashrc"
    rc.write_text("echo 'hello from bashrc'\n")
    try:
        res = ssh.run(["echo", "real"])
    finally:
        rc.unlink()
    assert res.stdout == "hello from bashrc\nreal\n"


# --------------------------------------------------------------------------- streaming


def test_start_streams_lines_before_the_command_ends(ssh: SSHExecutor) -> None:
    seen: list[tuple[str, str]] = []
    proc = ssh.start(["sh", "-c", "for i in 1 2 3; do echo $i; sleep 0.2; done; echo e >&2"],
                     on_line=lambda stream, line: seen.append((stream, line)))
    deadline = time.monotonic() + 5
    while not seen and time.monotonic() < deadline:
        time.sleep(0.01)
    assert seen[:1] == [("stdout", "1\n")]
    assert proc.poll() is None and proc.output_lines >= 1
    assert proc.wait(5) == 0
    assert seen == [("stdout", "1\n"), ("stdout", "2\n"), ("stdout", "3\n"), ("stderr", "e\n")]
    assert proc.result().stdout == "1\n2\n3\n" and proc.poll() == 0


def test_start_with_stdin_and_partial_last_line(ssh: SSHExecutor) -> None:
    proc = ssh.start(["sh", "-c", "cat; printf tail"], stdin="in\n")
    assert proc.wait(5) == 0
    assert proc.result().stdout == "in\ntail"


# --------------------------------------------------------------------------- timeouts


def test_run_timeout_kills_the_remote_process_group(ssh: SSHExecutor, tmp_path: Path) -> None:
    tag = _tag()
    started = time.monotonic()
    try:
        with pytest.raises(CommandTimeout) as info:
            ssh.run(["sh", "-c", f"sleep {tag} & echo started; sleep {tag}"], timeout=0.5)
        assert time.monotonic() - started < 5
        assert info.value.target == "box" and "timed out after 0.5s" in str(info.value)
        assert info.value.stdout == "started\n"
        assert _remote_alive(ssh, f"sleep {tag}") == []
    finally:
        _cleanup(f"sleep {tag}")


def test_timeout_shorter_than_a_round_trip_still_kills(ssh: SSHExecutor) -> None:
    tag = _tag()
    try:
        with pytest.raises(CommandTimeout):
            ssh.run(["sh", "-c", f"sleep {tag} & sleep {tag}"], timeout=0.001)
        assert _remote_alive(ssh, f"sleep {tag}") == []
    finally:
        _cleanup(f"sleep {tag}")


def test_start_wait_timeout_and_kill_end_the_whole_group(ssh: SSHExecutor) -> None:
    tag = _tag()
    try:
        proc = ssh.start(["sh", "-c", f"sleep {tag} & sleep {tag}"])
        with pytest.raises(CommandTimeout):
            proc.wait(timeout=0.5)
        assert proc.poll() is not None
        assert _remote_alive(ssh, f"sleep {tag}") == []
        # kill() on a running background command (flow.stop) does the same.
        proc = ssh.start(["sh", "-c", f"trap '' TERM; sleep {tag} & sleep {tag}"])
        time.sleep(0.2)
        proc.kill(grace=0.3)  # TERM is ignored by the shell: KILL follows
        assert proc.poll() is not None
        assert _remote_alive(ssh, f"sleep {tag}") == []
    finally:
        _cleanup(f"sleep {tag}")


# --------------------------------------------------------------------------- host keys


def test_unknown_host_key_is_refused_with_its_fingerprint(
        sshd: SSHServer, tmp_path: Path) -> None:
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    ex = SSHExecutor("box", sshd.settings(known_hosts=str(empty)))
    with pytest.raises(ConnectionError_) as info:
        ex.run(["true"])
    msg = str(info.value)
    assert info.value.target == "box" and msg.startswith("target 'box':")
    assert sshd.host_key_fingerprint in msg  # as ssh-keygen -l prints it
    assert f"[127.0.0.1]:{sshd.port}" in msg and "unknown host key" in msg
    assert empty.read_text() == ""  # nothing recorded without the opt-in


@pytest.mark.parametrize("hashed", [False, True])
def test_accept_new_host_key_records_it_for_strict_checking(
        sshd: SSHServer, tmp_path: Path, hashed: bool) -> None:
    known = tmp_path / "new" / "known_hosts"  # the folder does not exist yet either
    ex = SSHExecutor("box", sshd.settings(known_hosts=str(known), accept_new_host_key=True,
                                          hash_known_hosts=hashed))
    assert ex.run(["echo", "ok"]).stdout == "ok\n"
    ex.close()
    line = known.read_text()
    assert line.startswith("|1|" if hashed else f"[127.0.0.1]:{sshd.port} ssh-ed25519 ")
    assert sshd.host_key_line in line
    # OpenSSH itself finds the entry we wrote.
    found = subprocess.run(["ssh-keygen", "-F", f"[127.0.0.1]:{sshd.port}", "-f", str(known)],
                           capture_output=True, text=True)
    assert found.returncode == 0 and sshd.host_key_line.split()[1] in found.stdout
    strict = SSHExecutor("box", sshd.settings(known_hosts=str(known)))
    try:
        assert strict.run(["echo", "again"]).stdout == "again\n"
    finally:
        strict.close()


def test_changed_host_key_is_refused_loudly_even_with_accept_new(
        sshd: SSHServer, tmp_path: Path) -> None:
    other = paramiko.Ed25519Key.from_private_key_file(_new_key(tmp_path))
    known = tmp_path / "known_hosts"
    known.write_text(f"# a comment\n[127.0.0.1]:{sshd.port} {other.get_name()} "
                     f"{other.get_base64()}\n")
    for accept in (False, True):
        ex = SSHExecutor("box", sshd.settings(known_hosts=str(known),
                                              accept_new_host_key=accept))
        with pytest.raises(ConnectionError_) as info:
            ex.connect()
        msg = str(info.value)
        assert "REMOTE HOST IDENTIFICATION HAS CHANGED" in msg
        assert sshd.host_key_fingerprint in msg and f"{known}:2" in msg
        assert "ssh-keygen -R" in msg
    assert len(known.read_text().splitlines()) == 2


def test_revoked_host_key_is_refused(sshd: SSHServer, tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    known.write_text(f"{Path(sshd.known_hosts).read_text()}"
                     f"@revoked * {sshd.host_key_line}\n")
    with pytest.raises(ConnectionError_, match="revoked"):
        SSHExecutor("box", sshd.settings(known_hosts=str(known))).connect()


def test_known_hosts_matching_rules(tmp_path: Path) -> None:
    key = paramiko.Ed25519Key.from_private_key_file(_new_key(tmp_path))
    entry = f"{key.get_name()} {key.get_base64()}"
    hashed = paramiko.HostKeys.hash_host("db1.example.com")
    known = tmp_path / "known_hosts"
    known.write_text("\n".join([
        f"*.prod.example.com,!bad.prod.example.com {entry}",
        f"[10.0.0.5]:2222 {entry}",
        f"{hashed} {entry}",
        f"@cert-authority *.example.com {entry}",
        "garbage line",
        "",
    ]))
    files = [str(known)]

    def hits(name: str) -> list[int]:
        return [k.line for k in known_keys(files, name)]

    assert hits("web.prod.example.com") == [1, 4]
    assert hits("WEB.PROD.example.com") == [1, 4]  # host names are case-insensitive
    assert hits("bad.prod.example.com") == [4]
    assert hits("[10.0.0.5]:2222") == [2]
    assert hits("10.0.0.5") == [] and hits("[10.0.0.5]:22") == []
    assert hits("db1.example.com") == [3, 4]
    assert known_keys(files, "db1.example.com")[0].blob == key.asbytes()
    assert fingerprint(key).startswith("SHA256:") and not fingerprint(key).endswith("=")
    # Appending keeps what is there and fixes a missing final newline.
    known.write_text("# mine")
    record_known_host(str(known), "h", key)
    assert known.read_text() == f"# mine\nh {entry}\n"


# --------------------------------------------------------------------------- connection errors


def test_wrong_user_names_target_user_and_reason(sshd: SSHServer) -> None:
    ex = SSHExecutor("box", sshd.settings(user="nosuchuser"))
    with pytest.raises(ConnectionError_) as info:
        ex.run(["true"])
    msg = str(info.value)
    assert "'box'" in msg and "'nosuchuser'" in msg and "authentication" in msg
    assert sshd.key_file in msg
    assert isinstance(info.value.__cause__, paramiko.AuthenticationException)


def test_missing_key_file_names_target_and_file(
        sshd: SSHServer, tmp_path: Path) -> None:
    missing = tmp_path / "id_missing"
    with pytest.raises(ConnectionError_) as info:
        SSHExecutor("box", sshd.settings(key_file=str(missing))).connect()
    assert "'box'" in str(info.value) and str(missing) in str(info.value)
    assert "does not exist" in str(info.value)


def test_unreachable_port(sshd: SSHServer) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ConnectionError_, match=r"cannot connect to 127\.0\.0\.1") as info:
        SSHExecutor("box", sshd.settings(port=port)).run(["true"])
    assert info.value.target == "box" and isinstance(info.value.__cause__, OSError)


def test_host_is_required() -> None:
    with pytest.raises(PlaybookError, match="needs a host"):
        SSHExecutor("box", {})


# --------------------------------------------------------------------------- reuse and drops


def test_one_connection_is_reused_for_every_command(sshd: SSHServer) -> None:
    before = sshd.accepted_logins()
    ex = SSHExecutor("box", sshd.settings())
    try:
        ex.connect()
        for i in range(5):
            assert ex.run(["echo", str(i)]).stdout == f"{i}\n"
        procs = [ex.start(["echo", "bg"]) for _ in range(3)]
        assert [p.wait(5) for p in procs] == [0, 0, 0]
        assert ex.connections_opened == 1
        assert _wait_for(lambda: sshd.accepted_logins() == before + 1)
        transport = ex._client.get_transport() if ex._client else None
        sock = transport.sock if transport else None
        assert isinstance(sock, socket.socket)
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        ex.close()  # the end of a run; a later command simply connects again
        assert ex.run(["true"]).rc == 0 and ex.connections_opened == 2
    finally:
        ex.close()


def _client_port(ex: SSHExecutor) -> int:
    assert ex._client is not None
    transport = ex._client.get_transport()
    assert transport is not None
    return int(transport.sock.getsockname()[1])  # type: ignore[union-attr]


def _kill_server_side(sshd: SSHServer, ex: SSHExecutor) -> None:
    pids = sshd.serving_pids(_client_port(ex))
    assert pids, "no sshd process found for our connection"
    for pid in pids:
        os.kill(pid, signal.SIGKILL)


def test_dropped_connection_raises_and_the_next_command_reconnects(
        sshd: SSHServer) -> None:
    tag = _tag()
    ex = SSHExecutor("box", sshd.settings())
    try:
        ex.connect()
        # Foreground (run, on this thread): the server side dies mid-command.
        killer = threading.Timer(0.3, _kill_server_side, args=(sshd, ex))
        killer.start()
        with pytest.raises(ConnectionError_) as info:
            ex.run(["sleep", tag], timeout=10)
        killer.join()
        assert info.value.target == "box" and "lost" in str(info.value)
        assert f"sleep {tag}" in str(info.value)
        assert ex.run(["echo", "back"]).stdout == "back\n"
        assert ex.connections_opened == 2
        # Background (start): wait raises, poll says 255 like ssh.
        proc = ex.start(["sleep", tag])
        time.sleep(0.2)
        _kill_server_side(sshd, ex)
        with pytest.raises(ConnectionError_, match="lost"):
            proc.wait(10)
        assert proc.poll() == 255
        assert ex.run(["echo", "again"]).stdout == "again\n"
        assert ex.connections_opened == 3
    finally:
        ex.close()
        _cleanup(f"sleep {tag}")


def test_jump_host_tunnels_through_its_connection(sshd: SSHServer) -> None:
    before = sshd.accepted_logins()
    bastion = SSHExecutor("bastion", sshd.settings())
    inner = SSHExecutor("inner", sshd.settings(jump=bastion))
    try:
        assert inner.run(["echo", "via"]).stdout == "via\n"
        assert bastion.connections_opened == 1 and inner.connections_opened == 1
        assert _wait_for(lambda: sshd.accepted_logins() == before + 2)
        assert inner.describe(["true"]).startswith(
            f"ssh -J root@127.0.0.1:{sshd.port} -p {sshd.port} root@127.0.0.1 -- ")
    finally:
        inner.close()
        bastion.close()


# --------------------------------------------------------------------------- describe


@pytest.mark.parametrize(("settings", "argv", "expected"), [
    ({"host": "db1", "user": "ops"}, ["nodetool", "status"], "ssh ops@db1 -- nodetool status"),
    ({"host": "db1", "port": 2222}, ["ls", "a b"],
     "ssh -p 2222 db1 -- ls " + shlex.quote(shlex.quote("a b"))),
])
def test_describe_is_a_command_a_person_can_paste(
        settings: dict[str, Any], argv: list[str], expected: str) -> None:
    assert SSHExecutor("t", settings).describe(argv) == expected


def test_describe_round_trips_through_two_shells() -> None:
    argv = ["printf", "%s|", "a b", "it's", "$(x)"]
    text = SSHExecutor("t", {"host": "h"}).describe(argv)
    local_words = shlex.split(text)  # what the local shell hands to ssh
    remote = " ".join(local_words[local_words.index("--") + 1:])  # ssh joins them
    assert shlex.split(remote) == argv  # what the remote shell runs


# --------------------------------------------------------------------------- kubectl-exec


class _Refuse(Executor):
    """A via that must not be used (describe and wrap with a known pod run nothing)."""

    kind = "refuse"

    def start(self, argv: Any, *, env: Any = None, cwd: Any = None, stdin: Any = None,
              on_line: LineCallback | None = None) -> Process:
        raise AssertionError(f"unexpected command: {argv}")

    def run(self, argv: Any, *, timeout: Any = None, env: Any = None, cwd: Any = None,
            stdin: Any = None) -> CommandResult:
        raise AssertionError(f"unexpected command: {argv}")


@pytest.mark.parametrize(("settings", "kwargs", "expected"), [
    ({"namespace": "services", "pod": "kafka-0"}, {},
     "kubectl -n services exec kafka-0 -- ls -l"),
    ({"namespace": "services", "pod": "kafka-0", "container": "kafka", "context": "prod"}, {},
     "kubectl --context prod -n services exec kafka-0 -c kafka -- ls -l"),
    ({"pod": "kafka-0", "container": "kafka"}, {"stdin": True},
     "kubectl exec kafka-0 -c kafka -i -- ls -l"),
    ({"namespace": "ns", "pod": "p", "kubectl": "/opt/kubectl"}, {"env": {"A": "x y"}},
     "/opt/kubectl -n ns exec p -- env 'A=x y' ls -l"),
    ({"namespace": "ns", "pod": "p"}, {"cwd": "/var/lib/my dir"},
     "kubectl -n ns exec p -- sh -c 'cd \"$1\" && shift && exec \"$@\"' sh '/var/lib/my dir' "
     "ls -l"),
])
def test_kubectl_wrap(settings: dict[str, Any], kwargs: dict[str, Any], expected: str) -> None:
    ex = KubectlExecExecutor("kafka", {**settings, "via": _Refuse("via")})
    assert shlex.join(ex.wrap(["ls", "-l"], **kwargs)) == expected
    assert ex.describe(["ls", "-l"]) == shlex.join(ex.wrap(["ls", "-l"]))


def test_kubectl_describe_does_not_resolve_a_selector() -> None:
    ex = KubectlExecExecutor("kafka", {"namespace": "services", "selector": "app=kafka",
                                       "container": "kafka", "via": _Refuse("via")})
    assert ex.describe(["ls", "a b"]) == (
        "kubectl -n services exec <pod matching app=kafka> -c kafka -- ls 'a b'")


def test_kubectl_needs_pod_or_selector() -> None:
    with pytest.raises(PlaybookError, match="pod or a selector"):
        KubectlExecExecutor("kafka", {"namespace": "x"})


def _pod(name: str, phase: str, deleting: bool = False) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": "services"}
    if deleting:
        meta["deletionTimestamp"] = "2024-05-01T10:00:00Z"
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "status": {"phase": phase}}


@pytest.fixture
def fake_kubectl(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A ``kubectl`` on PATH: ``get pods`` prints pods.json, ``exec`` prints its argv as
    JSON (or fails like kubectl when the pod is listed in gone.txt). Calls go to calls.log."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    script = bindir / "kubectl"
    script.write_text(f"""#!{sys.executable}
import json, os, sys
here = {str(tmp_path)!r}
args = sys.argv[1:]
with open(os.path.join(here, "calls.log"), "a") as log:
    log.write(json.dumps(args) + "\\n")
if "get" in args:
    path = os.path.join(here, "pods.json")
    if not os.path.exists(path):
        sys.exit('error: You must be logged in to the server (Unauthorized)')
    sys.stdout.write(open(path).read())
elif "exec" in args:
    pod = args[args.index("exec") + 1]
    gone = os.path.join(here, "gone.txt")
    if os.path.exists(gone) and pod in open(gone).read().split():
        sys.exit(f'Error from server (NotFound): pods "{{pod}}" not found')
    data = sys.stdin.read() if "-i" in args else ""
    print(json.dumps(args))
    sys.stdout.write(data)
""")
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    return tmp_path


def _write_pods(where: Path, *pods: dict[str, Any]) -> None:
    (where / "pods.json").write_text(json.dumps({"apiVersion": "v1", "kind": "List",
                                                 "items": list(pods)}))


def _calls(where: Path) -> list[list[str]]:
    return [json.loads(x) for x in (where / "calls.log").read_text().splitlines()]


def test_kubectl_selector_resolves_first_running_pod_by_name(fake_kubectl: Path) -> None:
    _write_pods(fake_kubectl, _pod("kafka-2", "Running"), _pod("kafka-0", "Pending"),
                _pod("kafka-1", "Running"), _pod("kafka-00", "Running", deleting=True))
    ex = KubectlExecExecutor("kafka", {"namespace": "services", "selector": "app=kafka",
                                       "container": "kafka", "context": "prod"})
    res = ex.run(["echo", "a b"], stdin="payload")
    wrapped = ["kubectl", "--context", "prod", "-n", "services", "exec", "kafka-1", "-c", "kafka",
               "-i", "--", "echo", "a b"]
    assert res.rc == 0 and res.target == "kafka"
    assert res.stdout == json.dumps(wrapped[1:]) + "\npayload"
    assert ex.pod() == "kafka-1"
    proc = ex.start(["ls"])
    assert proc.wait(10) == 0 and proc.target == "kafka"
    assert _calls(fake_kubectl)[0] == ["--context", "prod", "-n", "services", "get", "pods",
                                       "-l", "app=kafka", "-o", "json"]
    assert len(_calls(fake_kubectl)) == 3  # resolved once, then reused


def test_kubectl_selector_errors_name_the_target(fake_kubectl: Path) -> None:
    ex = KubectlExecExecutor("kafka", {"namespace": "services", "selector": "app=kafka"})
    with pytest.raises(ConnectionError_, match="Unauthorized") as info:
        ex.run(["true"])
    assert info.value.target == "kafka"
    _write_pods(fake_kubectl, _pod("kafka-0", "Pending"), _pod("kafka-1", "Failed"))
    with pytest.raises(ConnectionError_, match=r"no Running pod matches selector 'app=kafka' "
                                               r"in namespace services \(found 2: Failed, Pen"):
        ex.run(["true"])
    (fake_kubectl / "pods.json").write_text("not json")
    with pytest.raises(ConnectionError_, match="JSON"):
        ex.run(["true"])


def test_kubectl_vanished_pod_is_resolved_again(fake_kubectl: Path) -> None:
    _write_pods(fake_kubectl, _pod("kafka-0", "Running"), _pod("kafka-1", "Running"))
    ex = KubectlExecExecutor("kafka", {"namespace": "services", "selector": "app=kafka"})
    assert ex.run(["true"]).rc == 0 and ex.pod() == "kafka-0"
    (fake_kubectl / "gone.txt").write_text("kafka-0")
    _write_pods(fake_kubectl, _pod("kafka-1", "Running"))
    with pytest.raises(ConnectionError_, match="kafka-0 is gone"):
        ex.run(["true"])
    assert ex.run(["true"]).rc == 0 and ex.pod() == "kafka-1"


def test_kubectl_exec_via_ssh(sshd: SSHServer, fake_kubectl: Path) -> None:
    """kubectl can run on a bastion: the wrapped argv goes through the SSH executor."""
    bastion = SSHExecutor("bastion", sshd.settings())
    ex = KubectlExecExecutor("kafka", {"namespace": "services", "pod": "kafka-0",
                                       "via": bastion,
                                       "kubectl": str(fake_kubectl / "bin" / "kubectl")})
    try:
        res = ex.run(["echo", "hi"])
        assert res.rc == 0 and res.target == "kafka"
        assert json.loads(res.stdout) == ["-n", "services", "exec", "kafka-0", "--", "echo", "hi"]
    finally:
        bastion.close()


# --------------------------------------------------------------------------- helpers


def _new_key(where: Path) -> str:
    path = where / f"key{time.monotonic_ns()}"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
    return str(path)


def _wait_for(cond: Any, timeout: float = 5.0) -> bool:
    """sshd writes its log a moment after the login completes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.02)
    return bool(cond())
