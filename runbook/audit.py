"""The audit log: append-only, hash-chained JSON lines of everything a run does.

Each line is one event with a fixed set of fields (``FIELDS``, plus ``host``,
``message`` and ``data``; null when not applicable), a per-file ``seq``, the
previous line's hash as ``prev`` and its own ``hash``: sha256 over the
canonical JSON of the event without ``hash``. Editing, deleting, inserting or
reordering a line therefore breaks the chain at that very event, and
``verify`` names it. The chain is tamper-evident, not tamper-proof: whoever can
write the file can also recompute every later hash, so ship the last hash (or
the file) elsewhere when that matters.

structlog is the event pipeline: a private bound logger whose processors stamp
``ts``, complete the schema, chain (``seq``/``prev``/``hash``) and render the
line that the file sink appends. structlog is never configured globally, so an
application's own structlog setup is left alone and cannot alter the audit.

Several processes may share one file: each append takes an exclusive
``flock`` and, if the file grew since this process last wrote, re-reads only
the last line to continue the chain. Appends that precede a mutating command
(and rollbacks, and the end of a run) are fsynced; the rest are written
straight to the kernel (one ``write``) and covered by the next fsync, which
keeps the hot path well under a millisecond.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shlex
import socket
import threading
from collections.abc import Callable, Iterable, Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from runbook._plugin_markers import hookimpl
from runbook.errors import AuditError
from runbook.events import Event, RunInfo, utcnow
from runbook.paths import runbook_home

if TYPE_CHECKING:
    from structlog import BoundLoggerBase

    from runbook.state.base import AuditSink
else:  # structlog's pipeline core without its package __init__ (rich, asyncio: start-up)
    from runbook.lightimport import submodule
    BoundLoggerBase = submodule("structlog._base").BoundLoggerBase

__all__ = [
    "EVENTS",
    "FIELDS",
    "GENESIS",
    "AuditLog",
    "AuditPlugin",
    "VerifyReport",
    "default_audit_path",
    "format_trail",
    "read_run",
    "verify",
]

GENESIS = "0" * 64
"""The ``prev`` of the first event in a file."""

EVENTS = frozenset({
    "run.started", "check.finished", "gate.answered", "step.started",
    "step.finished", "rollback.started", "rollback.finished", "run.finished",
})

FIELDS: tuple[str, ...] = (
    "ts", "event", "run_id", "seq", "actor", "reason", "playbook", "playbook_sha256",
    "step", "action", "target", "argv", "status", "rc", "duration_ms", "dry_run",
    "prev", "hash",
)
"""Present on every event (the contract); null when not applicable."""

EXTRA_FIELDS: tuple[str, ...] = ("host", "message", "data")
"""Also present on every event we write, so every line has the same keys."""

_ALLOWED = frozenset(FIELDS + EXTRA_FIELDS)
_CHUNK = 4096


def default_audit_path() -> Path:
    """``$RUNBOOK_HOME/audit.jsonl``: one log per user, shared by every run."""
    return runbook_home() / "audit.jsonl"


def _canonical(obj: Mapping[str, Any]) -> str:
    """The exact serialisation the hash is computed over (and each line is)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _digest(obj: Mapping[str, Any]) -> str:
    return hashlib.sha256(_canonical(obj).encode("utf-8")).hexdigest()


# --- the structlog pipeline -------------------------------------------------------------------

EventDict = MutableMapping[str, Any]


def _add_ts(_logger: Any, _method: str, event_dict: EventDict) -> EventDict:
    """The time the event is written, not when the caller built it."""
    event_dict["ts"] = utcnow()
    return event_dict


def _complete(_logger: Any, _method: str, event_dict: EventDict) -> EventDict:
    """Refuse unknown events and fields; give every line the same keys."""
    name = event_dict.get("event")
    if name not in EVENTS:
        raise AuditError(f"unknown audit event {name!r}; expected one of {sorted(EVENTS)}")
    unknown = event_dict.keys() - _ALLOWED
    if unknown:
        raise AuditError(f"unknown audit field(s) {sorted(unknown)} in {name!r}")
    for key in _ALLOWED:
        event_dict.setdefault(key, None)
    return event_dict


def _render(_logger: Any, _method: str, event_dict: EventDict) -> bytes:
    """Last processor: the line, as bytes, that the sink appends verbatim."""
    return (_canonical(event_dict) + "\n").encode("utf-8")


class _EventLogger(BoundLoggerBase):
    """A bound logger with one method, ``append``, proxied to the file sink."""

    def append(self, event: str, **fields: Any) -> None:
        self._proxy_to_logger("append", event, **fields)


class _AuditFile:
    """The file end of the pipeline: open, find the chain's tail, chain, write.

    ``stamp`` is a processor and ``append`` is what structlog calls with the
    rendered line; both run with the flock held (see ``AuditLog.append``).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd: int | None = None
        self.pid = 0
        self.size = 0  # file size after our last read or write; -1 forces a re-read
        self.seq = 0
        self.prev = GENESIS
        self.dir_synced = True
        self.pending: dict[str, Any] | None = None

    def open(self) -> int:
        """Open once per process (a forked child must not share our flock)."""
        if self.fd is not None and self.pid == os.getpid():
            return self.fd
        if self.fd is not None:
            with contextlib.suppress(OSError):
                os.close(self.fd)
            self.fd = None
        _make_private_dirs(self.path.parent)
        flags = os.O_RDWR | os.O_APPEND | os.O_CLOEXEC
        try:
            fd = os.open(self.path, flags | os.O_CREAT | os.O_EXCL, 0o600)
            os.fchmod(fd, 0o600)  # the umask may have left it wider or narrower
            self.dir_synced = False
        except FileExistsError:
            fd = os.open(self.path, flags)
        self.fd, self.pid = fd, os.getpid()
        self.size, self.seq, self.prev = 0, 0, GENESIS
        return fd

    def catch_up(self, fd: int) -> None:
        """If another writer appended since we last looked, continue from its last line."""
        size = os.fstat(fd).st_size
        if size == self.size:
            return
        if 0 <= size < self.size:  # sticky: this AuditLog stays refused until reopened
            raise AuditError(f"audit log {self.path} shrank while in use; refusing to continue "
                             "a chain that was cut (run `runbook audit verify`)")
        self.seq, self.prev = (0, GENESIS) if size == 0 else self._last_link(fd, size)
        self.size = size

    def _last_link(self, fd: int, size: int) -> tuple[int, str]:
        """seq and hash of the last line, read backwards from the end in small chunks."""
        if os.pread(fd, 1, size - 1) != b"\n":
            raise AuditError(f"last line of audit log {self.path} is incomplete (a write was cut "
                             "short); refusing to append to it (run `runbook audit verify`)")
        pos = size - 1
        buf = b""
        while pos > 0:
            n = min(_CHUNK, pos)
            pos -= n
            buf = os.pread(fd, n, pos) + buf
            nl = buf.rfind(b"\n")
            if nl >= 0:
                buf = buf[nl + 1:]
                break
        try:
            last = json.loads(buf)
            seq, digest = last["seq"], last["hash"]
        except (ValueError, TypeError, KeyError) as exc:
            raise AuditError(f"last line of audit log {self.path} is not an audit event "
                             f"({exc}); refusing to append (run `runbook audit verify`)") from exc
        if type(seq) is not int or not isinstance(digest, str):
            raise AuditError(f"last line of audit log {self.path} has no valid seq/hash; "
                             "refusing to append (run `runbook audit verify`)")
        return seq, digest

    def stamp(self, _logger: Any, _method: str, event_dict: EventDict) -> EventDict:
        """Processor: link the event to the chain and seal it with its hash."""
        event_dict["seq"] = self.seq + 1
        event_dict["prev"] = self.prev
        event_dict.pop("hash", None)
        event_dict["hash"] = _digest(event_dict)
        self.pending = dict(event_dict)
        return event_dict

    def append(self, line: bytes) -> None:
        """The structlog 'logger' method: one write(2), so the kernel has the line at once."""
        assert self.fd is not None and self.pending is not None
        try:
            written = os.write(self.fd, line)
        except OSError:
            self._cut_back()
            raise
        if written != len(line):
            self._cut_back()
            raise AuditError(f"short write to audit log {self.path} ({written} of {len(line)} "
                             "bytes; disk full?); the part written was removed")
        self.size += written
        self.seq, self.prev = self.pending["seq"], self.pending["hash"]

    def _cut_back(self) -> None:
        """A write the disk refused part of: remove that part (we hold the flock), so the
        log ends with a whole line, verifies, and takes the next run once there is room."""
        assert self.fd is not None
        try:
            os.ftruncate(self.fd, self.size)
        except OSError:
            self.size = -1  # the log now ends in a cut line: refused until reopened

    def fsync(self, fd: int) -> None:
        os.fsync(fd)
        if not self.dir_synced:  # a new file: make its directory entry durable too
            dfd = os.open(self.path.parent, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)
            self.dir_synced = True

    def close(self) -> None:
        if self.fd is not None and self.pid == os.getpid():
            os.close(self.fd)
        self.fd = None

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()


def _make_private_dirs(path: Path) -> None:
    """Create missing directories with 0o700; never loosen or tighten existing ones."""
    missing: list[Path] = []
    while not path.exists():
        missing.append(path)
        if path.parent == path:
            break
        path = path.parent
    for d in reversed(missing):
        with contextlib.suppress(FileExistsError):
            os.mkdir(d, 0o700)


class AuditLog:
    """One audit file, appended to by this process (and maybe others at once).

    Opened lazily on the first append. Safe to share between threads. ``seq``
    and ``prev`` continue from the file's last line, whoever wrote it.
    """

    def __init__(self, path: Path) -> None:
        self._file = _AuditFile(Path(path))
        self._mutex = threading.Lock()
        """Held while an event is chained and written (never during an fsync)."""
        self._sync_lock = threading.Lock()
        """One fsync at a time; ``close`` takes it too, so an fsync never sees a closed fd."""
        self._written = 0  # appends written by this object (a ticket per append)
        self._synced = 0  # the last ticket an fsync is known to cover
        self.fsyncs = 0
        """fsyncs done by this object (group commit shows here)."""
        self._logger = _EventLogger(
            self._file, processors=[_add_ts, _complete, self._file.stamp, _render], context={})

    @property
    def path(self) -> Path:
        return self._file.path

    def __repr__(self) -> str:
        return f"AuditLog({str(self.path)!r})"

    def append(self, fields: Mapping[str, Any], *, durable: bool) -> dict[str, Any]:
        """Write one event and return it as written (with ts, seq, prev and hash).

        ``durable=True`` fsyncs before returning: the engine asks for it before
        every mutating command starts, so a crash can never leave a change
        that the log does not mention. ``ts``, ``seq``, ``prev`` and ``hash``
        are always set here; values given for them are ignored.
        """
        kw = dict(fields)
        name = kw.pop("event", None)
        if not isinstance(name, str):
            raise AuditError(f"audit event needs an 'event' name, got {name!r}")
        with self._mutex:
            f = self._file
            try:
                fd = f.open()
                fcntl.flock(fd, fcntl.LOCK_EX)
                try:
                    f.catch_up(fd)
                    self._logger.append(name, **kw)
                finally:
                    fcntl.flock(fd, fcntl.LOCK_UN)
            except OSError as exc:
                raise AuditError(f"cannot write audit log {self.path}: {exc}") from exc
            except (TypeError, ValueError) as exc:
                raise AuditError(f"audit event {name!r} cannot be written as JSON: {exc}") from exc
            event, f.pending = f.pending, None
            self._written += 1
            ticket = self._written
        assert event is not None
        if durable:
            self._sync_through(ticket)
        return event

    def _sync_through(self, ticket: int) -> None:
        """Return once the append with ``ticket`` is on disk (group commit).

        The fsync runs outside the write mutex, so other threads keep appending
        meanwhile; it covers every append written before it started, and a thread
        whose append an earlier fsync already covered returns without one of its own.
        A failed fsync covers nothing: each waiting thread then tries (and reports)
        its own."""
        with self._sync_lock:
            if self._synced >= ticket:
                return
            try:
                with self._mutex:
                    f = self._file
                    if f.fd is not None and f.pid != os.getpid():
                        return  # a forked child: the parent syncs what it wrote
                    fd, covered = f.open(), self._written  # closed since: reopen, same file
                f.fsync(fd)
            except OSError as exc:
                raise AuditError(f"cannot sync audit log {self.path}: {exc}") from exc
            self.fsyncs += 1
            self._synced = covered

    def sync(self) -> None:
        """fsync whatever was appended without ``durable`` (call at the end of a run)."""
        self._sync_through(self._written)

    def close(self) -> None:
        """Close the file; a later append reopens it and continues the chain."""
        with self._sync_lock, self._mutex:
            self._file.close()

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --- the plugin ---------------------------------------------------------------------------------


def _identity(s: str) -> str:
    return s


class AuditPlugin:
    """Records every lifecycle hook in an ``AuditLog``.

    Each hook writes the event of the same name. ``step.started`` of a
    mutating step, ``rollback.started`` and ``run.finished`` are fsynced
    before the hook returns (so before the command runs); the rest are
    written and left for the next fsync. A fan-out batch's ``step.started``
    events (``data.sync == "batch"``) are synced together by one ``sync()``
    that the engine calls before any host of the batch starts. ``redact`` runs over every free-text
    string (argv, message, reason, target, host, data) although the engine
    has already redacted them: a missed secret is the costliest bug here.
    """

    def __init__(self, log: AuditSink, redact: Callable[[str], str] = _identity) -> None:
        self.log = log
        self._redact = redact

    def sync(self) -> None:
        """fsync what was written (a fan-out batch syncs once for all its hosts)."""
        self.log.sync()

    def _clean(self, value: Any) -> Any:
        """JSON-safe and redacted, recursively; unknown types become redacted strings."""
        if value is None or isinstance(value, (bool, int, float)):
            return value
        if isinstance(value, str):
            return self._redact(value)
        if isinstance(value, Mapping):
            return {str(k): self._clean(v) for k, v in value.items()}
        if isinstance(value, (list, tuple, set, frozenset)):
            return [self._clean(v) for v in value]
        return self._redact(str(value))

    def _text(self, value: str | None) -> str | None:
        return None if value is None else self._redact(value)

    def _run_fields(self, run: RunInfo, name: str) -> dict[str, Any]:
        return {
            "event": name, "run_id": run.run_id, "actor": run.actor,
            "reason": self._text(run.reason), "playbook": run.playbook,
            "playbook_sha256": run.playbook_sha256, "dry_run": run.dry_run,
        }

    def _write(self, run: RunInfo, name: str, event: Event, *, durable: bool,
               default_status: str | None = None, extra: Mapping[str, Any] | None = None) -> None:
        data = {**event.data, **extra} if extra else event.data
        duration = event.duration_ms
        fields = self._run_fields(run, name)
        fields.update(
            step=event.step, action=event.action, target=self._text(event.target),
            host=self._text(event.host),
            argv=None if event.argv is None else [self._redact(str(a)) for a in event.argv],
            status=event.status or default_status, rc=event.rc,
            duration_ms=round(duration, 3) if isinstance(duration, float) else duration,
            message=self._text(event.message), data=self._clean(data) if data else None,
        )
        self.log.append(fields, durable=durable)

    @hookimpl
    def runbook_run_started(self, run: RunInfo) -> None:
        fields = self._run_fields(run, "run.started")
        fields["status"] = "started"
        fields["data"] = self._clean({
            "params": run.params, "playbook_path": run.playbook_path,
            "runner": socket.gethostname(), "pid": os.getpid(), "sandbox": run.sandbox,
            **run.selection,
        })
        self.log.append(fields, durable=False)

    @hookimpl
    def runbook_check_finished(self, run: RunInfo, event: Event) -> None:
        self._write(run, "check.finished", event, durable=False)

    @hookimpl
    def runbook_gate_answered(self, run: RunInfo, event: Event) -> None:
        self._write(run, "gate.answered", event, durable=False)

    @hookimpl
    def runbook_step_started(self, run: RunInfo, event: Event) -> None:
        # A fan-out batch asks for one sync for all its hosts (the engine calls sync()).
        batched = event.data.get("sync") == "batch"
        self._write(run, "step.started", event, durable=event.mutating and not batched,
                    default_status="started", extra={"mutating": event.mutating})

    @hookimpl
    def runbook_step_finished(self, run: RunInfo, event: Event) -> None:
        self._write(run, "step.finished", event, durable=False)

    @hookimpl
    def runbook_rollback_started(self, run: RunInfo, event: Event) -> None:
        self._write(run, "rollback.started", event, durable=True, default_status="started")

    @hookimpl
    def runbook_rollback_finished(self, run: RunInfo, event: Event) -> None:
        self._write(run, "rollback.finished", event, durable=False)

    @hookimpl
    def runbook_run_finished(self, run: RunInfo, event: Event) -> None:
        self._write(run, "run.finished", event, durable=True)


# --- reading ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VerifyReport:
    """The outcome of ``verify``. ``events`` counts the events that checked out
    (all of them when ``ok``); ``first_bad_line`` is 1-based."""

    ok: bool
    events: int
    first_bad_line: int | None = None
    first_bad_seq: int | None = None
    reason: str | None = None

    def __str__(self) -> str:
        if self.ok:
            return f"ok: {self.events} events, chain intact"
        seq = f" (seq {self.first_bad_seq})" if self.first_bad_seq is not None else ""
        return f"BROKEN at line {self.first_bad_line}{seq}: {self.reason}"


def _open_for_reading(path: Path) -> BinaryIO:
    try:
        return open(path, "rb")
    except FileNotFoundError as exc:
        raise AuditError(f"no audit log at {path}") from exc
    except OSError as exc:
        raise AuditError(f"cannot read audit log {path}: {exc}") from exc


def _check(raw: bytes, prev_seq: int, prev_hash: str) -> tuple[dict[str, Any] | None, int | None,
                                                                str | None]:
    """(event, its seq if readable, what is wrong with it or None)."""
    try:
        obj = json.loads(raw)
    except ValueError:  # includes UnicodeDecodeError
        return None, None, "not a JSON event (truncated or corrupted line)"
    if not isinstance(obj, dict):
        return None, None, "not a JSON object"
    seq = obj.get("seq")
    seq = seq if type(seq) is int else None
    return obj, seq, _event_problem(obj, seq, prev_seq, prev_hash) or _line_problem(obj, raw)


def _event_problem(obj: dict[str, Any], seq: int | None, prev_seq: int,
                   prev_hash: str) -> str | None:
    """What breaks the chain at this event: fields, hash, seq, prev, in that order."""
    missing = [f for f in FIELDS if f not in obj]
    if missing:
        return f"missing field(s): {', '.join(missing)}"
    body = {k: v for k, v in obj.items() if k != "hash"}
    if _digest(body) != obj["hash"]:
        return "hash does not match the event's contents (line edited)"
    if seq is None:
        return "seq is not an integer"
    if seq <= prev_seq:
        return f"seq {seq} follows seq {prev_seq} (lines reordered or duplicated)"
    if seq != prev_seq + 1:
        return (f"seq {seq} follows seq {prev_seq}: {seq - prev_seq - 1} event(s) "
                "missing (line deleted) or lines reordered")
    if obj["prev"] != prev_hash:
        return ("prev does not match the previous event's hash (line inserted, "
                "replaced or deleted)")
    return None


def _line_problem(obj: dict[str, Any], raw: bytes) -> str | None:
    if obj["event"] not in EVENTS:
        return f"unknown event {obj['event']!r}"
    if not raw.endswith(b"\n"):
        return "last line has no newline (a write was cut short)"
    return None


def verify(path: Path) -> VerifyReport:
    """Recompute the chain from the first line; stop at the first event that does not fit.

    An empty file is a valid, empty log; a missing one raises ``AuditError``
    (a log that should exist and does not is itself a finding).
    """
    prev_seq, prev_hash, count = 0, GENESIS, 0
    with _open_for_reading(Path(path)) as fh:
        for lineno, raw in enumerate(fh, 1):
            obj, seq, reason = _check(raw, prev_seq, prev_hash)
            if reason is not None or obj is None or seq is None:
                return VerifyReport(False, count, lineno, seq, reason)
            prev_seq, prev_hash, count = seq, obj["hash"], count + 1
    return VerifyReport(True, count)


def read_run(path: Path, run_id: str) -> list[dict[str, Any]]:
    """All events of one run, in file order. A unique prefix of the run id will do.

    Lines that are not JSON are skipped here; ``verify`` is what reports them.
    """
    if not run_id:
        raise AuditError("a run id (or a prefix of one) is required")
    runs = _runs_matching(Path(path), run_id)
    if run_id in runs:
        return runs[run_id]
    if len(runs) == 1:
        return next(iter(runs.values()))
    if not runs:
        raise AuditError(f"run {run_id!r} not found in audit log {path}")
    shown = ", ".join(sorted(runs)[:10]) + (", ..." if len(runs) > 10 else "")
    raise AuditError(f"run id prefix {run_id!r} is ambiguous in {path}: matches {shown}")


def _runs_matching(path: Path, prefix: str) -> dict[str, list[dict[str, Any]]]:
    """The events of every run whose id starts with prefix, by run id."""
    needle = json.dumps(prefix, ensure_ascii=False)[1:-1].encode("utf-8")
    runs: dict[str, list[dict[str, Any]]] = {}
    with _open_for_reading(path) as fh:
        for raw in fh:
            if needle not in raw:  # cheap filter before parsing
                continue
            try:
                obj = json.loads(raw)
            except ValueError:
                continue
            rid = obj.get("run_id") if isinstance(obj, dict) else None
            if isinstance(rid, str) and rid.startswith(prefix):
                runs.setdefault(rid, []).append(obj)
    return runs


def last_run_id(path: Path) -> str:
    """The run id of the newest ``run.started`` in the log (for ``audit show`` alone)."""
    last = None
    with _open_for_reading(Path(path)) as fh:
        for raw in fh:
            if b'"run.started"' not in raw:
                continue
            try:
                obj = json.loads(raw)
            except ValueError:
                continue
            if isinstance(obj, dict) and obj.get("event") == "run.started":
                last = obj.get("run_id")
    if not isinstance(last, str):
        raise AuditError(f"no run in audit log {path}")
    return last


def _duration(ms: Any) -> str:
    if not isinstance(ms, (int, float)) or isinstance(ms, bool):
        return ""
    return f"{ms:.0f}ms" if ms < 1000 else f"{ms / 1000:.1f}s"


def format_trail(events: Iterable[Mapping[str, Any]]) -> str:
    """A run's trail for people: a header per run, then one aligned row per event
    (time, event, step, target, status, rc, duration, command or message)."""
    out: list[str] = []
    rows: list[list[str]] = []
    current: object = object()
    for ev in events:
        if ev.get("run_id") != current:
            out += _aligned(rows)
            rows = []
            current = ev.get("run_id")
            out.append(_run_head(ev))
        rows.append(_trail_row(ev))
    out += _aligned(rows)
    return "\n".join(out)


def _aligned(rows: list[list[str]]) -> list[str]:
    """Rows with every column but the last padded to its widest cell."""
    if not rows:
        return []
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    return ["  ".join([c.ljust(w) for c, w in zip(r[:-1], widths, strict=True)]
                      + [r[-1]]).rstrip() for r in rows]


def _run_head(ev: Mapping[str, Any]) -> str:
    head = f"run {ev.get('run_id')}  {ev.get('playbook') or '?'}  by {ev.get('actor') or '?'}"
    ts = str(ev.get("ts") or "")
    head += f"  on {ts[:10]}" if ts else ""
    head += f"  reason: {ev['reason']}" if ev.get("reason") else ""
    head += "  (dry-run)" if ev.get("dry_run") else ""
    return head


def _trail_row(ev: Mapping[str, Any]) -> list[str]:
    ts = str(ev.get("ts") or "")
    rc = ev.get("rc")
    return ["  " + (ts[11:23] if len(ts) >= 23 and ts[10] == "T" else ts),
            str(ev.get("event") or "?"), str(ev.get("step") or "-"), _trail_target(ev),
            str(ev.get("status") or ""), "" if rc is None else f"rc={rc}",
            _duration(ev.get("duration_ms")), _trail_tail(ev)]


def _trail_target(ev: Mapping[str, Any]) -> str:
    target = str(ev.get("target") or "")
    if ev.get("host"):
        target = f"{target}[{ev['host']}]" if target else str(ev["host"])
    return target or "-"


def _trail_tail(ev: Mapping[str, Any]) -> str:
    """The command (quoted as a shell would) and the message after it."""
    argv = ev.get("argv")
    tail = shlex.join(str(a) for a in argv) if isinstance(argv, list) else ""
    if ev.get("message"):
        tail = f"{tail}  # {ev['message']}" if tail else str(ev["message"])
    return tail
