"""The SSH executor: argv lists on a remote host over one reused paramiko connection.

Why it looks the way it does:

* Host keys are checked against known_hosts by our own policy (hashed entries,
  wildcard patterns, ``[host]:port``, ``@revoked``), because accepting an
  unknown key must be an explicit opt-in and a changed key must never pass.
* One connection per executor, opened on first use and reused, with
  TCP_NODELAY: a step then costs one channel open plus one exec round trip,
  the same as a bare ``exec_command``.
* The remote command is ``echo <marker>$$; exec argv...``. sshd starts every
  session command as a session (and process-group) leader, so the pid it
  prints is the group id: a timeout or ``kill`` signals the whole group from a
  second channel, and no remote orphan survives.
* paramiko's exceptions stop here and become ``ConnectionError_`` naming the
  target; a dead connection is rebuilt by the next command, so a step's retry
  can recover.

This module is imported only when an SSH target is used, so paramiko stays out
of ``runbook --help``.
"""

from __future__ import annotations

import base64
import codecs
import contextlib
import functools
import hashlib
import hmac
import logging
import os
import re
import shlex
import socket
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runbook.executors import paramiko_lean  # noqa: F401  (before paramiko)

# isort: split
import paramiko

from runbook.errors import ConnectionError_, PlaybookError
from runbook.executors.base import CommandResult, Executor, LineCallback, Process

log = logging.getLogger(__name__)
# paramiko logs a dropped connection at ERROR; without a handler anywhere, Python's
# last-resort handler would print it on the console. We report it as ConnectionError_.
logging.getLogger("paramiko").addHandler(logging.NullHandler())

_MARK = "runbook-pid:"
_MARK_RE = re.compile(r"runbook-pid:(\d+)\r?\n?$")
_SNIFF_LIMIT = 65536
_BUF = 65536
_STDERR_POLL = 0.05
_IDLE_WAKE = 1.0
"""How often an idle paramiko transport thread wakes up (paramiko's default is 0.1 s:
a fan-out over 100 hosts keeps 100 connections open, 1,000 wake-ups a second). It
only bounds keepalive and rekey checks; closing shuts the socket down, which wakes
the thread at once."""
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_GLOBAL_KNOWN_HOSTS = "/etc/ssh/ssh_known_hosts"
_CHANNEL_ERRORS = (paramiko.SSHException, OSError, EOFError)


def fingerprint(key: paramiko.PKey) -> str:
    """The key's fingerprint as OpenSSH prints it: ``SHA256:<base64 without padding>``."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


# --------------------------------------------------------------------------- known_hosts


@dataclass(frozen=True)
class KnownKey:
    """One known_hosts entry that matched a host name."""

    marker: str  # "", "@revoked" or "@cert-authority"
    keytype: str
    blob: bytes
    file: str
    line: int


def _glob(pattern: str, name: str) -> bool:
    """OpenSSH host patterns: only ``*`` and ``?`` are special (``[`` is literal)."""
    return _glob_rx(pattern).fullmatch(name) is not None


@functools.lru_cache(maxsize=4096)
def _glob_rx(pattern: str) -> re.Pattern[str]:
    """A host pattern's regex, built once (a fan-out matches the same known_hosts
    patterns twice per host: building them was a fifth of a login's CPU)."""
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c)
                              for c in pattern))


def _host_matches(hosts: str, name: str) -> bool:
    if hosts.startswith("|1|"):
        try:
            _, _, salt64, hash64 = hosts.split("|", 3)
            salt, want = base64.b64decode(salt64), base64.b64decode(hash64)
        except ValueError:
            return False
        got = hmac.new(salt, name.encode(), hashlib.sha1).digest()
        return hmac.compare_digest(got, want)
    matched = False
    for pattern in hosts.lower().split(","):
        negated = pattern.startswith("!")
        if _glob(pattern[1:] if negated else pattern, name):
            if negated:
                return False
            matched = True
    return matched


_Line = tuple[int, str, str, str, str]  # line number, marker, hosts field, key type, base64
_KNOWN_CACHE: dict[str, tuple[tuple[int, int, int], list[_Line]]] = {}
_KNOWN_LOCK = threading.Lock()


def _known_lines(file: str) -> list[_Line] | None:
    """The entries of one known_hosts file, parsed once per version of the file (a
    fan-out reads it twice per host otherwise); None when it does not exist."""
    try:
        st = os.stat(file)
        version = (st.st_ino, st.st_mtime_ns, st.st_size)
        with _KNOWN_LOCK:
            cached = _KNOWN_CACHE.get(file)
        if cached is not None and cached[0] == version:
            return cached[1]
        text = Path(file).read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return None
    except OSError as exc:
        log.warning("cannot read known_hosts file %s: %s", file, exc)
        return None
    lines: list[_Line] = []
    for lineno, raw in enumerate(text.splitlines(), 1):
        fields = raw.split()
        if not fields or fields[0].startswith("#"):
            continue
        marker = fields.pop(0) if fields[0].startswith("@") else ""
        if len(fields) >= 3:
            lines.append((lineno, marker, fields[0], fields[1], fields[2]))
    with _KNOWN_LOCK:
        _KNOWN_CACHE[file] = (version, lines)
    return lines


def known_keys(files: Sequence[str], name: str) -> list[KnownKey]:
    """Every entry in ``files`` whose host field matches ``name`` (``host`` or ``[host]:port``)."""
    name = name.lower()
    found: list[KnownKey] = []
    for file in files:
        for lineno, marker, hosts, keytype, key64 in _known_lines(file) or ():
            if not _host_matches(hosts, name):
                continue
            try:
                blob = base64.b64decode(key64, validate=True)
            except ValueError:
                continue
            found.append(KnownKey(marker, keytype, blob, file, lineno))
    return found


def record_known_host(file: str, name: str, key: paramiko.PKey, *, hashed: bool = False) -> str:
    """Append ``name``'s key to ``file`` the way ``ssh -o StrictHostKeyChecking=accept-new`` does.

    One O_APPEND write, so concurrent fan-out connections do not interleave lines
    and the user's comments and markers are kept (paramiko's save rewrites the file).
    """
    host = paramiko.HostKeys.hash_host(name) if hashed else name
    line = f"{host} {key.get_name()} {key.get_base64()}\n"
    path = Path(file)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            line = "\n" + line
        os.write(fd, line.encode())
    finally:
        os.close(fd)
    return line.strip()


def _preferred_algorithms(keytypes: Sequence[str]) -> list[str]:
    """Host key algorithms to offer first, so the server shows the key type we know."""
    out: list[str] = []
    for kt in keytypes:
        for alg in (["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"] if kt == "ssh-rsa" else [kt]):
            if alg not in out:
                out.append(alg)
    return out


_AEAD = ("aes128-gcm@openssh.com", "aes256-gcm@openssh.com")


def _aead_first(ciphers: Sequence[str]) -> tuple[str, ...]:
    """AES-GCM before the CTR ciphers (the server still chooses among what both offer).

    With CTR, paramiko checks each packet's HMAC in a pure-Python constant-time loop,
    about a third of its CPU per connection in a fan-out; GCM authenticates inside
    OpenSSL. Equally strong (OpenSSH offers GCM first after chacha20, which paramiko
    lacks), so nothing is traded for the CPU."""
    first = [c for c in _AEAD if c in ciphers]
    return (*first, *(c for c in ciphers if c not in first))


class _Transport(paramiko.Transport):
    """paramiko's Transport, minus the cost of the server's debug messages: paramiko
    escapes each one byte by byte in Python (about a millisecond a login on OpenSSH,
    which sends a few about authorized_keys options) even when nobody logs them."""

    def _filter_algorithm(self, type_: str) -> tuple[str, ...]:
        """paramiko filters each algorithm list through ``disabled_algorithms`` name by
        name on every read (16 times a login); we never disable any."""
        if not self.disabled_algorithms:
            return tuple(getattr(self, f"_preferred_{type_}"))
        return tuple(super()._filter_algorithm(type_))  # type: ignore[misc]

    def _parse_debug(self, m: paramiko.Message) -> None:
        m.get_boolean()  # always_display
        msg = m.get_string()
        m.get_string()  # language
        if self.logger.isEnabledFor(logging.DEBUG):
            self.logger.debug("Debug msg: %s", msg.decode("ascii", "backslashreplace"))


class _ReadAhead(socket.socket):
    """The connection's socket, reading ahead: paramiko asks for each packet in two
    ``recv`` calls (its first block, then the rest), so a command's exit status, EOF
    and close, which arrive together, cost six system calls; from a buffer filled by
    one large ``recv`` they cost one (a third of a command's CPU). Only paramiko's
    transport thread reads the socket, so the buffer needs no lock."""

    def __init__(self, sock: socket.socket) -> None:
        timeout = sock.gettimeout()
        super().__init__(sock.family, sock.type, sock.proto, fileno=sock.detach())
        self.settimeout(timeout)
        self._ahead = b""

    def recv(self, n: int, flags: int = 0, /) -> bytes:
        if flags:
            return super().recv(n, flags)
        if not self._ahead:
            self._ahead = super().recv(max(n, _BUF))  # timeout and EOF as the socket's
        out, self._ahead = self._ahead[:n], self._ahead[n:]
        return out


_KEYS: dict[tuple[str, str | None, tuple[int, int, int]], paramiko.PKey] = {}
_KEYS_LOCK = threading.Lock()


def _cached_key(key_file: str, passphrase: str | None) -> paramiko.PKey | None:
    """The private key in ``key_file``, parsed once per version of the file (paramiko
    would parse it for every connection, trying each key type in turn); None when
    paramiko should load it itself (a certificate beside it, or it does not parse:
    then paramiko's own error is the one reported)."""
    if os.path.exists(key_file + "-cert.pub"):
        return None
    try:
        st = os.stat(key_file)
        ident = (key_file, passphrase, (st.st_ino, st.st_mtime_ns, st.st_size))
        with _KEYS_LOCK:
            key = _KEYS.get(ident)
        if key is None:
            key = paramiko.PKey.from_path(key_file, passphrase)
            with _KEYS_LOCK:
                _KEYS[ident] = key
        return key
    except Exception:  # paramiko reports it properly at connect
        return None


class _VerifyHostKey(paramiko.MissingHostKeyPolicy):
    """Every host key goes through here: the client's own key store is left empty on purpose."""

    def __init__(self, executor: SSHExecutor) -> None:
        self.executor = executor

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str,
                         key: paramiko.PKey) -> None:
        self.executor.verify_host_key(hostname, key)


# --------------------------------------------------------------------------- output


class _Sink:
    """Turns channel bytes into Process output, after removing our pid marker line.

    ``lines`` mode feeds line by line as data arrives (start: streaming, quiet
    detection); raw mode keeps bytes and decodes once at the end (run: cheapest).
    """

    def __init__(self, proc: SSHProcess, lines: bool) -> None:
        self.proc = proc
        self.lines = lines
        self.sniffing = True
        self.head = b""
        self.raw: dict[str, list[bytes]] = {"stdout": [], "stderr": []}
        self.pending = {"stdout": "", "stderr": ""}
        self.decoders = {"stdout": _decoder(), "stderr": _decoder()}

    def out(self, data: bytes) -> None:
        if not self.sniffing:
            self._emit("stdout", data)
            return
        self.head += data
        while self.sniffing and b"\n" in self.head:
            first, _, self.head = self.head.partition(b"\n")
            m = _MARK_RE.fullmatch(first.decode(errors="replace"))
            if m:
                self.sniffing = False
                self.proc._got_pid(int(m.group(1)))
            else:  # a chatty login script printed before our marker: pass it through
                self._emit("stdout", first + b"\n")
        if self.sniffing and len(self.head) > _SNIFF_LIMIT:
            self.sniffing = False
        if not self.sniffing and self.head:
            head, self.head = self.head, b""
            self._emit("stdout", head)

    def err(self, data: bytes) -> None:
        self._emit("stderr", data)

    def _emit(self, stream: str, data: bytes) -> None:
        if not self.lines:
            self.raw[stream].append(data)
            return
        text = self.pending[stream] + self.decoders[stream].decode(data)
        *complete, self.pending[stream] = text.split("\n")
        for line in complete:
            self.proc.feed(stream, line + "\n")

    def finish(self) -> None:
        if self.head:
            head, self.head = self.head, b""
            self.sniffing = False
            self._emit("stdout", head)
        for stream in ("stdout", "stderr"):
            if self.lines:
                rest = self.pending[stream] + self.decoders[stream].decode(b"", final=True)
                self.pending[stream] = ""
            else:
                rest = b"".join(self.raw[stream]).decode(errors="replace")
                self.raw[stream] = []
            if rest:
                self.proc.feed(stream, rest)


def _decoder() -> codecs.IncrementalDecoder:
    return codecs.getincrementaldecoder("utf-8")(errors="replace")


# --------------------------------------------------------------------------- process


@dataclass
class SSHProcess(Process):
    """A command running on a channel of the executor's connection.

    ``poll`` returns 255 (like ``ssh``) when the connection was lost; ``wait``
    raises ConnectionError_ then. A remote command killed by a signal has rc -1
    (paramiko ignores the ``exit-signal`` message).
    """

    channel: paramiko.Channel | None = None
    executor: SSHExecutor | None = None
    pid: int | None = None
    _sink: _Sink | None = field(default=None, repr=False)
    _ended: threading.Event = field(default_factory=threading.Event, repr=False)
    _pid_seen: threading.Event = field(default_factory=threading.Event, repr=False)
    _reader: threading.Thread | None = field(default=None, repr=False)
    _rc: int | None = None
    _error: ConnectionError_ | None = field(default=None, repr=False)
    _abandoned: bool = False

    def _got_pid(self, pid: int) -> None:
        self.pid = pid
        self._pid_seen.set()

    def _pump(self, deadline: float | None) -> bool:
        """Read both streams until the command ends; False if the deadline came first.

        Blocks in ``recv`` on stdout, which wakes the moment data or EOF arrives (no
        select, no per-channel pipe: that is what bare ``exec_command`` costs too);
        stderr is drained between reads, at least every ``_STDERR_POLL`` seconds, so
        a command that only writes to stderr cannot fill the window and stall.
        """
        chan, sink = self.channel, self._sink
        assert chan is not None and sink is not None
        while True:
            while chan.recv_stderr_ready():
                sink.err(chan.recv_stderr(_BUF))
            if chan.eof_received or chan.closed:
                while chan.recv_ready():
                    sink.out(chan.recv(_BUF))
                if chan.recv_stderr_ready():
                    continue
                if chan.closed or chan.exit_status_ready():
                    return True
            left = _STDERR_POLL if deadline is None else deadline - time.monotonic()
            if left <= 0:
                return False
            if not self._await_output(min(left, _STDERR_POLL)):
                return True

    def _await_output(self, wait: float) -> bool:
        """Wait up to ``wait`` seconds for stdout (or, after its EOF, for the exit
        status); False when the connection is gone."""
        chan, sink = self.channel, self._sink
        assert chan is not None and sink is not None
        if chan.eof_received:
            # Output is complete but the command may live on with its streams
            # closed: wait for its exit status (set on close too).
            chan.status_event.wait(wait)
            return True
        transport = chan.get_transport()
        if transport is None or not transport.is_active():
            return False
        chan.settimeout(wait)
        try:
            data = chan.recv(_BUF)
        except TimeoutError:
            return True
        if data:
            sink.out(data)
        return True

    def _finish(self) -> None:
        chan, sink = self.channel, self._sink
        assert chan is not None and sink is not None
        try:
            sink.finish()
            rc = chan.exit_status if chan.exit_status_ready() else -1
            transport = chan.get_transport()
            # No exit status and no EOF means the channel died with the connection (a
            # command killed by a signal still sends EOF; paramiko drops its exit-signal).
            lost = rc == -1 and not self._abandoned and (
                not chan.eof_received or transport is None or not transport.is_active())
            if lost:
                ex = self.executor
                where = ex.destination if ex else "the host"
                refused = not chan.eof_received and transport is not None \
                    and transport.is_active()
                self._error = ConnectionError_(
                    f"{where} closed the session of {shlex.join(self.argv)} without an "
                    "exit status (it refused the command, or ended the session)"
                    if refused else
                    f"connection to {where} lost while running {shlex.join(self.argv)}",
                    target=self.target)
                rc = 255
            self._rc = rc
        finally:
            chan.close()
            self._ended.set()
            self._pid_seen.set()  # nobody waits for a marker that can no longer come

    def _read_all(self) -> None:
        try:
            self._pump(None)
        except Exception as exc:  # the reader must always end the process
            log.debug("ssh reader for %s failed: %s", self.target, exc)
        finally:
            if not self._ended.is_set():
                self._finish()

    def _await(self, timeout: float | None) -> bool:
        """True once the command ended; pumps on this thread when there is no reader."""
        if self._ended.is_set():
            return True
        if self._reader is not None:
            return self._ended.wait(timeout)
        deadline = None if timeout is None else time.monotonic() + timeout
        if not self._pump(deadline):
            return False
        self._finish()
        return True

    def poll(self) -> int | None:
        return self._rc if self._ended.is_set() else None

    def wait(self, timeout: float | None = None) -> int:
        if not self._await(timeout):
            self.kill()
            raise self.timeout_error(timeout or 0.0)
        if self._error is not None:
            raise self._error
        assert self._rc is not None
        return self._rc

    def _wait_pid(self, limit: float) -> None:
        """The marker is one round trip away after the exec; a very short timeout can
        fire before it arrives."""
        if self._reader is not None:
            self._pid_seen.wait(limit)
            return
        deadline = time.monotonic() + limit
        while self.pid is None and time.monotonic() < deadline:
            if self._pump(min(deadline, time.monotonic() + 0.02)):
                self._finish()
                return

    def kill(self, grace: float = 2.0) -> None:
        """TERM the remote process group, KILL it after ``grace``, then drop the channel."""
        if self._ended.is_set():
            return
        if self.pid is None:
            self._wait_pid(min(grace, 2.0))
        if self._ended.is_set():
            return
        if self.pid is not None and self.executor is not None:
            for sig, wait in (("TERM", grace), ("KILL", 5.0)):
                self.executor._signal(self.pid, sig)
                if self._await(wait):
                    return
        if self.channel is not None:
            self._abandoned = True
            self.channel.close()
        self._await(2.0)


# --------------------------------------------------------------------------- executor


class SSHExecutor(Executor):
    """Runs commands on one host over SSH; the connection is opened once and reused.

    Settings: ``host``, ``port`` (22), ``user``, ``key_file``, ``key_passphrase``,
    ``password`` (discouraged), ``known_hosts`` (``~/.ssh/known_hosts``; the
    system file is also read when this is not set), ``accept_new_host_key``
    (False), ``hash_known_hosts`` (False), ``connect_timeout`` (10 s),
    ``keepalive`` (15 s), ``env`` (added to every command), ``jump`` (an
    SSHExecutor for a bastion: we tunnel through its connection), ``become``
    (every command through ``sudo``; ``become_password`` goes to sudo's stdin).
    """

    kind = "ssh"

    def __init__(self, name: str, settings: Mapping[str, Any] | None = None) -> None:
        super().__init__(name, settings)
        s = self.settings
        if not s.get("host"):
            raise PlaybookError(f"ssh target {name!r} needs a host", field=f"targets.{name}.host")
        jump = s.get("jump")
        if jump is not None and not isinstance(jump, SSHExecutor):
            raise PlaybookError(f"ssh target {name!r}: jump must be an ssh target",
                                field=f"targets.{name}.jump")
        self.host: str = str(s["host"])
        self.port: int = int(s.get("port") or 22)
        self.user: str | None = s.get("user")
        self.jump: SSHExecutor | None = jump
        self.connect_timeout = float(s.get("connect_timeout", 10.0))
        self.keepalive = int(s.get("keepalive", 15))
        self.connections_opened = 0
        self._client: paramiko.SSHClient | None = None
        self._lock = threading.Lock()
        self._early_error: ConnectionError_ | None = None

    def fail_next_connect(self, error: ConnectionError_) -> None:
        """An attempt made before the run (runbook.prefetch) failed with ``error``: the
        run's first attempt reports it instead of connecting (and waiting) again; any
        attempt after that, a step's retry say, connects afresh."""
        self._early_error = error

    # -- naming -------------------------------------------------------------

    @property
    def destination(self) -> str:
        user = f"{self.user}@" if self.user else ""
        return f"{user}{self.host}:{self.port}"

    @property
    def host_key_name(self) -> str:
        """How known_hosts names this host: ``host`` on port 22, else ``[host]:port``."""
        return self.host if self.port == 22 else f"[{self.host}]:{self.port}"

    def describe(self, argv: Sequence[str]) -> str:
        """A copy-pasteable ``ssh`` command: each argument is quoted for the local *and*
        the remote shell (ssh joins its arguments into one string the remote shell re-splits)."""
        parts = ["ssh"]
        if self.jump is not None:
            j = self.jump
            parts += ["-J", f"{j.user + '@' if j.user else ''}{j.host}"
                      + (f":{j.port}" if j.port != 22 else "")]
        if self.port != 22:
            parts += ["-p", str(self.port)]
        parts.append(f"{self.user}@{self.host}" if self.user else self.host)
        remote = " ".join(shlex.quote(shlex.quote(a)) for a in self.wire_argv(argv))
        return f"{shlex.join(parts)} -- {remote}"

    def wire_argv(self, argv: Sequence[str]) -> list[str]:
        """With ``become``, the argv as sudo runs it (the password never appears)."""
        return self._become(argv, None)[0]

    def _become(self, argv: Sequence[str], stdin: str | None) -> tuple[list[str], str | None]:
        """``sudo -n -- ARGV``, or ``sudo -S -p '' -- ARGV`` with the password as stdin's
        first line when ``become_password`` is set; unchanged without ``become``."""
        if not self.settings.get("become"):
            return list(argv), stdin
        password = self.settings.get("become_password")
        if password:
            return ["sudo", "-S", "-p", "", "--", *argv], f"{password}\n{stdin or ''}"
        return ["sudo", "-n", "--", *argv], stdin

    # -- host keys ----------------------------------------------------------

    def known_hosts_files(self) -> list[str]:
        given = self.settings.get("known_hosts")
        if given:
            return [os.path.expanduser(str(given))]
        return [os.path.expanduser("~/.ssh/known_hosts"), _GLOBAL_KNOWN_HOSTS]

    def verify_host_key(self, name: str, key: paramiko.PKey) -> None:
        """Accept a known key; refuse unknown (unless opted in), changed and revoked ones."""
        files = self.known_hosts_files()
        entries = [k for k in known_keys(files, name) if k.marker != "@cert-authority"]
        blob, ktype, fp = key.asbytes(), key.get_name(), fingerprint(key)
        if any(k.marker == "@revoked" and k.blob == blob for k in entries):
            raise ConnectionError_(
                f"host key {ktype} {fp} of {name} is marked @revoked in known_hosts; refusing",
                target=self.name)
        plain = [k for k in entries if not k.marker]
        if any(k.keytype == ktype and k.blob == blob for k in plain):
            return
        if plain:
            known = ", ".join(f"{k.keytype} at {k.file}:{k.line}" for k in plain)
            raise ConnectionError_(
                f"WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED! {name} now presents "
                f"{ktype} {fp}, which does not match known_hosts ({known}). Someone may be "
                f"intercepting the connection (man-in-the-middle), or the host key was "
                f"replaced. Refusing to connect. If the change is expected, remove the old "
                f"entry with: ssh-keygen -R {shlex.quote(name)} -f {shlex.quote(files[0])}",
                target=self.name)
        if not self.settings.get("accept_new_host_key"):
            raise ConnectionError_(
                f"unknown host key for {name}: {ktype} {fp} is not in {' or '.join(files)}. "
                f"Verify the fingerprint out of band, then add it to known_hosts or set "
                f"accept_new_host_key to record it",
                target=self.name)
        line = record_known_host(files[0], name, key,
                                 hashed=bool(self.settings.get("hash_known_hosts")))
        log.warning("target %s: recorded new host key %s %s for %s in %s",
                    self.name, ktype, fp, name, files[0])
        log.debug("known_hosts line: %s", line)

    # -- connection ---------------------------------------------------------

    def connect(self) -> None:
        self._transport()

    @property
    def is_open(self) -> bool:
        """Whether the connection is open now (nothing is attempted)."""
        client = self._client
        transport = client.get_transport() if client is not None else None
        return transport is not None and transport.is_active()

    def _transport(self) -> tuple[paramiko.Transport, bool]:
        """The live transport and whether it was opened just now (reconnecting if it died)."""
        with self._lock:
            if self._client is not None:
                t = self._client.get_transport()
                if t is not None and t.is_active():
                    return t, False
                self._client.close()
                self._client = None
                log.info("target %s: connection to %s was lost; reconnecting",
                         self.name, self.destination)
            if self._early_error is not None:
                error, self._early_error = self._early_error, None
                raise error
            self._client = self._open_client()
            self.connections_opened += 1
            t = self._client.get_transport()
            assert t is not None
            return t, True

    def _drop(self, transport: paramiko.Transport) -> None:
        with self._lock:
            if self._client is not None and self._client.get_transport() is transport:
                _close_client(self._client)
                self._client = None

    def _open_socket(self) -> socket.socket | paramiko.Channel:
        if self.jump is not None:
            jt, _ = self.jump._transport()
            try:
                return jt.open_channel("direct-tcpip", (self.host, self.port), ("127.0.0.1", 0),
                                       timeout=self.connect_timeout)
            except _CHANNEL_ERRORS as exc:
                raise ConnectionError_(
                    f"cannot reach {self.host}:{self.port} through jump host "
                    f"{self.jump.destination}: {_reason(exc)}", target=self.name) from exc
        try:
            sock = socket.create_connection((self.host, self.port), timeout=self.connect_timeout)
        except OSError as exc:
            raise ConnectionError_(f"cannot connect to {self.host}:{self.port}: {_reason(exc)}",
                                   target=self.name) from exc
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return _ReadAhead(sock)

    def _open_client(self) -> paramiko.SSHClient:
        s = self.settings
        key_file = os.path.expanduser(str(s["key_file"])) if s.get("key_file") else None
        if key_file is not None and not os.path.isfile(key_file):
            raise ConnectionError_(f"key file {key_file} for {self.destination} does not exist",
                                   target=self.name)
        password = s.get("password")
        prefer = _preferred_algorithms(
            [k.keytype for k in known_keys(self.known_hosts_files(), self.host_key_name)
             if not k.marker])

        def transport_factory(sock: Any, /, **kwargs: Any) -> paramiko.Transport:
            t = _Transport(sock, **kwargs)
            opts = t.get_security_options()
            first = [a for a in prefer if a in opts.key_types]
            if first:
                opts.key_types = first + [a for a in opts.key_types if a not in first]
            opts.ciphers = _aead_first(opts.ciphers)
            t.sock.settimeout(_IDLE_WAKE)
            return t

        sock = self._open_socket()
        try:
            return self._handshake(sock, key_file, password, transport_factory)
        except BaseException:
            sock.close()  # paramiko closes it only once its Transport exists
            raise

    def _handshake(self, sock: socket.socket | paramiko.Channel, key_file: str | None,
                   password: str | None, transport_factory: Any) -> paramiko.SSHClient:
        s = self.settings
        client = paramiko.SSHClient()
        client.set_missing_host_key_policy(_VerifyHostKey(self))
        explicit = key_file is not None or password is not None
        ct = self.connect_timeout
        pkey = _cached_key(key_file, s.get("key_passphrase")) if key_file else None
        try:
            client.connect(
                self.host, self.port, username=self.user, pkey=pkey,
                key_filename=key_file if pkey is None else None,
                password=password, passphrase=s.get("key_passphrase"), sock=sock,
                timeout=ct, banner_timeout=ct, auth_timeout=ct, channel_timeout=ct,
                allow_agent=not explicit, look_for_keys=not explicit,
                transport_factory=transport_factory,
            )
        except ConnectionError_:
            client.close()
            raise
        except paramiko.AuthenticationException as exc:
            client.close()
            how = (f"key {key_file}" if key_file
                   else "password" if password else "agent/default keys")
            user = self.user or "(local user name)"
            raise ConnectionError_(
                f"authentication as user {user!r} on {self.host}:{self.port} with {how} "
                f"failed: {_reason(exc)}", target=self.name) from exc
        except paramiko.BadHostKeyException as exc:  # not raised with our policy; kept as a net
            client.close()
            raise ConnectionError_(f"host key of {self.host_key_name} changed: {exc}",
                                   target=self.name) from exc
        except _CHANNEL_ERRORS as exc:
            client.close()
            raise ConnectionError_(f"SSH connection to {self.destination} failed: "
                                   f"{_reason(exc)}", target=self.name) from exc
        transport = client.get_transport()
        assert transport is not None
        if self.keepalive > 0:
            transport.set_keepalive(self.keepalive)
        return client

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                _close_client(self._client)
                self._client = None

    # -- commands -----------------------------------------------------------

    def remote_command(self, argv: Sequence[str], env: Mapping[str, str] | None = None,
                       cwd: str | None = None) -> str:
        """The string the remote login shell runs. Every value from argv, env and cwd
        is quoted, so nothing from a template is interpreted by the shell."""
        if not argv:
            raise ValueError("empty argv")
        extra = {**(self.settings.get("env") or {}), **(env or {})}
        prefix: list[str] = []
        if extra:
            bad = [k for k in extra if not _ENV_NAME.fullmatch(k)]
            if bad:
                raise ValueError(f"invalid environment variable name(s): {', '.join(bad)}")
            prefix = ["env", *(f"{k}={v}" for k, v in extra.items())]
        # >/dev/null: with CDPATH set, cd prints the directory it chose.
        cd = f"cd {shlex.quote(cwd)} >/dev/null && " if cwd else ""
        return f"echo {_MARK}$$; {cd}exec {shlex.join([*prefix, *argv])}"

    def _open_channel(self, command: str, argv: Sequence[str]) -> paramiko.Channel:
        for attempt in (1, 2):
            transport, fresh = self._transport()
            try:
                chan = transport.open_session(timeout=self.connect_timeout)
            except paramiko.ChannelException as exc:
                # The server said no (MaxSessions...); the connection itself is fine.
                raise ConnectionError_(f"{self.destination} refused a new session: "
                                       f"{_reason(exc)}", target=self.name) from exc
            except _CHANNEL_ERRORS as exc:
                # Nothing was started yet, so one retry on a fresh connection is safe.
                self._drop(transport)
                if fresh or attempt == 2:
                    raise ConnectionError_(f"cannot open a session on {self.destination}: "
                                           f"{_reason(exc)}", target=self.name) from exc
                continue
            try:
                _exec_pipelined(chan, command)
            except _CHANNEL_ERRORS as exc:
                chan.close()
                self._drop(transport)
                raise ConnectionError_(
                    f"connection to {self.destination} lost while starting "
                    f"{shlex.join(argv)}: {_reason(exc)}", target=self.name) from exc
            return chan
        raise AssertionError("unreachable")

    def _launch(self, argv: Sequence[str], env: Mapping[str, str] | None, cwd: str | None,
                stdin: str | None, on_line: LineCallback | None, lines: bool) -> SSHProcess:
        argv, stdin = self._become(argv, stdin)
        command = self.remote_command(argv, env, cwd)
        proc = SSHProcess(argv=list(argv), target=self.name, on_line=on_line, executor=self)
        proc._sink = _Sink(proc, lines)
        chan = self._open_channel(command, argv)
        proc.channel = chan
        # Time (and silence, for wait_quiet) counts from the exec, not from connecting.
        proc.started = proc.last_output = time.monotonic()
        _send_stdin(chan, stdin)
        return proc

    def start(self, argv: Sequence[str], *, env: Mapping[str, str] | None = None,
              cwd: str | None = None, stdin: str | None = None,
              on_line: LineCallback | None = None) -> Process:
        proc = self._launch(argv, env, cwd, stdin, on_line, lines=True)
        proc._reader = threading.Thread(target=proc._read_all, name=f"ssh-{self.name}",
                                        daemon=True)
        proc._reader.start()
        return proc

    def run(self, argv: Sequence[str], *, timeout: float | None = None,
            env: Mapping[str, str] | None = None, cwd: str | None = None,
            stdin: str | None = None) -> CommandResult:
        """Foreground fast path: both streams are read on the caller's thread, no reader."""
        proc = self._launch(argv, env, cwd, stdin, None, lines=False)
        proc.wait(timeout)
        return proc.result()

    def _signal(self, pid: int, sig: str) -> None:
        """Signal a remote process group from a second channel (falls back to the pid
        alone on servers that do not make the session a group leader)."""
        cmd = f"kill -{sig} -{pid} 2>/dev/null || kill -{sig} {pid} 2>/dev/null"
        try:
            transport, _ = self._transport()
            chan = transport.open_session(timeout=self.connect_timeout)
            try:
                chan.exec_command(cmd)
                chan.shutdown_write()
                chan.status_event.wait(5.0)
            finally:
                chan.close()
        except (ConnectionError_, *_CHANNEL_ERRORS) as exc:
            log.warning("target %s: could not send SIG%s to remote process group %d: %s",
                        self.name, sig, pid, exc)


def _exec_pipelined(chan: paramiko.Channel, command: str) -> None:
    """``exec_command`` without waiting for the server's reply before stdin and EOF
    follow (as OpenSSH's client does): the channel's messages are handled in order,
    so this saves a round trip and a thread wake-up per command. A refusal closes the
    channel without an exit status, which ``SSHProcess`` reports."""
    m = paramiko.Message()
    m.add_byte(paramiko.common.cMSG_CHANNEL_REQUEST)
    m.add_int(chan.remote_chanid)
    m.add_string("exec")
    m.add_boolean(True)
    m.add_string(command)
    chan._event_pending()  # type: ignore[attr-defined]
    transport = chan.get_transport()
    assert transport is not None
    transport._send_user_message(m)  # type: ignore[attr-defined]


def _send_stdin(chan: paramiko.Channel, stdin: str | None) -> None:
    """Send stdin then EOF (always: a command that reads stdin must not wait forever).
    Data larger than the server's window goes from a thread, so we keep reading output."""
    data = stdin.encode() if stdin else b""

    def send() -> None:
        # The reader sets the channel's timeout for its own waits, and paramiko applies
        # it to sends too: a send that times out waiting for the window is retried, or
        # the command would never get its EOF.
        pos = 0
        try:
            while pos < len(data) and not chan.closed:
                try:
                    pos += chan.send(data[pos:pos + _BUF])
                except TimeoutError:
                    continue
            chan.shutdown_write()
        except _CHANNEL_ERRORS:
            pass  # the command ended without reading all of it, as with a local pipe

    if len(data) <= chan.out_window_size:
        send()
    else:
        threading.Thread(target=send, name="ssh-stdin", daemon=True).start()


def _close_client(client: paramiko.SSHClient) -> None:
    """Close, after shutting the socket down so the transport thread (asleep in recv
    for up to ``_IDLE_WAKE``) sees EOF and ends now rather than at its next wake-up."""
    transport = client.get_transport()
    sock = transport.sock if transport is not None else None
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
    client.close()


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__
