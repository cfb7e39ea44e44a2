"""Running the tools as fresh processes, and what each run cost (time, CPU, logins).

Every subprocess runs in its own process group with a timeout, killed whole on
timeout or Ctrl-C. CPU is read from the kernel: ``RUSAGE_CHILDREN`` for a tool
(its process and every child it reaped: ansible's workers, ssh clients) and
``/proc/PID/stat`` of the benchmark's sshd (with its reaped per-connection
processes) for the server side.
"""

from __future__ import annotations

import contextlib
import os
import re
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from _sshd import Server, descendants

ROOT = Path(__file__).resolve().parents[1]



@dataclass
class Ran:
    rc: int
    seconds: float
    output: str


def run(argv: Sequence[str], *, timeout: float, env: dict[str, str] | None = None,
        cwd: Path | None = None) -> Ran:
    """Run argv in its own process group; on timeout or Ctrl-C the whole group is killed."""
    start = time.perf_counter()
    proc = subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, env=env, cwd=cwd,
                            start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        out, _ = proc.communicate()
        took = time.perf_counter() - start
        return Ran(124, took, out.decode(errors="replace") + f"\n[timed out after {timeout}s]")
    except BaseException:
        _kill_group(proc)
        raise
    return Ran(proc.returncode, time.perf_counter() - start, out.decode(errors="replace"))


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10)


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM unwinds like Ctrl-C, so the sshd and temp folders are cleaned up."""
    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)



def ensure_venv(path: Path, timeout: float) -> Path:
    """A virtualenv with ansible-core and pyinfra (created and installed if missing)."""
    bin_dir = path / "bin"
    if (bin_dir / "ansible-playbook").exists() and (bin_dir / "pyinfra").exists():
        return path
    if not (bin_dir / "python").exists():
        print(f"creating virtualenv {path}", file=sys.stderr)
        done = run([sys.executable, "-m", "venv", str(path)], timeout=timeout)
        if done.rc:
            raise SystemExit(f"python -m venv failed:\n{done.output}")
    print("installing ansible-core and pyinfra from PyPI ...", file=sys.stderr)
    done = run([str(bin_dir / "python"), "-m", "pip", "install", "--quiet",
                "--disable-pip-version-check", "ansible-core", "pyinfra"], timeout=timeout)
    if done.rc:
        raise SystemExit(f"pip install failed:\n{done.output[-3000:]}")
    return path


def stop_control_masters(control_dir: Path) -> None:
    """End the OpenSSH ControlPersist masters ansible left running (they outlive it)."""
    for sock in control_dir.iterdir() if control_dir.is_dir() else []:
        run(["ssh", "-o", f"ControlPath={sock}", "-O", "exit", "bench"], timeout=10)


def version(argv: Sequence[str], env: dict[str, str]) -> str:
    """The first version number a ``--version`` prints."""
    done = run(argv, timeout=60, env=env)
    found = re.search(r"\d+(?:\.\d+)+", done.output)
    return found.group(0) if found else "?"


def children_usage() -> tuple[float, int]:
    """CPU seconds and context switches of every finished child process so far."""
    use = resource.getrusage(resource.RUSAGE_CHILDREN)
    return use.ru_utime + use.ru_stime, use.ru_nvcsw + use.ru_nivcsw


def server_cpu(srv: Server | None) -> float:
    """CPU seconds the sshd has used so far, with its finished per-connection processes."""
    if srv is None:
        return 0.0
    try:
        fields = Path(f"/proc/{srv.pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def settle(srv: Server | None, limit: float = 5.0) -> None:
    """Wait until the sshd has reaped the connection processes of earlier runs (so their
    CPU time is counted where it belongs): until none is left, or their number has held
    still for a moment (an OpenSSH ControlMaster ansible left running keeps its own)."""
    if srv is None:
        return
    deadline = time.monotonic() + limit
    count, since = len(descendants(srv.pid)), time.monotonic()
    while count and time.monotonic() < deadline and time.monotonic() - since < 0.3:
        time.sleep(0.05)
        now = len(descendants(srv.pid))
        if now != count:
            count, since = now, time.monotonic()


def logins(srv: Server) -> int:
    """SSH logins the benchmark's sshd has accepted so far (from its log)."""
    try:
        return Path(srv.log_file).read_text(errors="replace").count("Accepted publickey")
    except OSError:
        return 0


MEMORY_FS = {"tmpfs", "ramfs", "devtmpfs"}


def filesystem(path: Path) -> tuple[str, str, str]:
    """(mount point, file system type, device) that ``path`` lives on, from /proc/mounts."""
    best = ("/", "?", "?")
    target = str(path.resolve())
    try:
        lines = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return best
    for line in lines:
        fields = line.split()
        if len(fields) < 3:
            continue
        mount = fields[1].replace("\\040", " ")
        inside = target == mount or target.startswith(mount.rstrip("/") + "/")
        if inside and len(mount) >= len(best[0]):
            best = (mount, fields[2], fields[0])
    return best


def byte_compile() -> None:
    """Byte-compile runbook's own sources, as ``pip install`` does for ansible and pyinfra
    in their venv: with PYTHONDONTWRITEBYTECODE set (or a read-only checkout) every run
    would otherwise recompile them (about 100 ms per process)."""
    done = run([sys.executable, "-m", "compileall", "-q", str(ROOT / "runbook"),
                str(ROOT / "plugins")], timeout=300)
    if done.rc:
        raise SystemExit(f"compileall failed:\n{done.output[-2000:]}")
