"""A throwaway PostgreSQL cluster on 127.0.0.1, for the benchmarks and the tests.

Debian's ``postgresql`` package provides ``initdb`` and ``pg_ctl``; initdb refuses
to run as root, so when we are root the cluster belongs to the ``postgres`` user
(made by the package) or ``nobody``, and every server command runs through
``runuser -u USER --``. The data directory and the unix socket live in one temp
folder, the server listens on a free loopback port with trust authentication,
and a role and a database named ``runbook`` are created. No pytest here:
tests/pgcluster.py wraps it as a fixture.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

START_TIMEOUT = 30.0


class PGError(RuntimeError):
    """PostgreSQL is not installed or did not start."""


def bin_dir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        raise PGError("PostgreSQL is not installed (apt-get install -y postgresql): the "
                      "state-backend tests need a real server and are never skipped")
    return Path(found[-1]).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _owner() -> str | None:
    """Who runs the server: ourselves, unless we are root (initdb refuses root)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    raise PGError("running as root and neither a 'postgres' nor a 'nobody' user exists")


@dataclass
class Cluster:
    """A running throwaway cluster: where it is and how to reach it."""

    dir: Path
    port: int
    owner: str | None

    @property
    def data(self) -> Path:
        return self.dir / "data"

    def url(self, db: str = "runbook", user: str = "runbook", password: str = "") -> str:
        secret = f":{password}" if password else ""
        return f"postgresql://{user}{secret}@127.0.0.1:{self.port}/{db}"

    def _cmd(self, *argv: str) -> list[str]:
        return ["runuser", "-u", self.owner, "--", *argv] if self.owner else list(argv)

    def ctl(self, action: str, timeout: float = START_TIMEOUT, mode: str = "fast") -> None:
        """``pg_ctl start|stop|restart`` and wait for it (``mode`` of a stop: fast,
        immediate)."""
        argv = [str(bin_dir() / "pg_ctl"), "-D", str(self.data), "-w", "-t",
                str(int(timeout)), "-m", mode, "-l", str(self.dir / "server.log")]
        if action in ("start", "restart"):
            argv += ["-o", f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1"]
        proc = subprocess.run(self._cmd(*argv, action), capture_output=True, text=True,
                              timeout=timeout + 10, check=False)
        if proc.returncode != 0:
            raise PGError(f"pg_ctl {action} failed: {proc.stdout}{proc.stderr}"
                          f"{self.log()[-2000:]}")

    def psql(self, sql: str, db: str = "postgres", user: str = "postgres") -> str:
        proc = subprocess.run(
            self._cmd(str(bin_dir() / "psql"), "-h", str(self.dir), "-p", str(self.port),
                      "-U", user, "-d", db, "-v", "ON_ERROR_STOP=1", "-At", "-c", sql),
            capture_output=True, text=True, timeout=60, check=False)
        if proc.returncode != 0:
            raise PGError(f"psql failed: {proc.stderr}")
        return proc.stdout

    def log(self) -> str:
        try:
            return (self.dir / "server.log").read_text(errors="replace")
        except OSError:
            return ""


def _init(cluster: Cluster) -> None:
    initdb = [str(bin_dir() / "initdb"), "-D", str(cluster.data), "-U", "postgres",
              "--auth=trust", "-E", "UTF8", "--no-locale"]
    proc = subprocess.run(cluster._cmd(*initdb), capture_output=True, text=True,
                          timeout=120, check=False)
    if proc.returncode != 0:
        raise PGError(f"initdb failed: {proc.stdout}{proc.stderr}")
    with open(cluster.data / "postgresql.conf", "a", encoding="utf-8") as conf:
        conf.write("\nmax_connections = 100\nshared_buffers = 16MB\nfsync = on\n")


@contextlib.contextmanager
def running_cluster() -> Iterator[Cluster]:
    """Start a cluster with a ``runbook`` role and database; remove it all afterwards."""
    owner = _owner()
    base = Path(tempfile.mkdtemp(prefix="runbook-pg-"))
    if owner:
        entry = pwd.getpwnam(owner)
        os.chown(base, entry.pw_uid, entry.pw_gid)
    os.chmod(base, 0o700)
    cluster = Cluster(base, _free_port(), owner)
    try:
        _init(cluster)
        cluster.ctl("start")
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                cluster.psql("SELECT 1")
                break
            except PGError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        cluster.psql("CREATE ROLE runbook LOGIN PASSWORD 'pw-s3cret'")
        cluster.psql("CREATE DATABASE runbook OWNER runbook")
        yield cluster
    finally:
        with contextlib.suppress(Exception):
            cluster.ctl("stop", mode="immediate")  # no shutdown checkpoint: it all goes
        shutil.rmtree(base, ignore_errors=True)


def fresh_database(cluster: Cluster, name: str) -> str:
    """A new empty database owned by the runbook role; its URL."""
    cluster.psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    cluster.psql(f"CREATE DATABASE {name} OWNER runbook")
    return cluster.url(name)
