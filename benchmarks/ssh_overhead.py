"""What the SSH executor adds per command over a bare paramiko ``exec_command``.

The budget (DESIGN.md, Performance budgets): per SSH step within 1.5x of a bare
exec on an already-open connection. Both sides get one connection, opened
before timing, with TCP_NODELAY, and run the same number of ``true`` commands,
alternating in blocks of ten so drift on the machine hits both equally.

    python benchmarks/ssh_overhead.py                 # starts a loopback sshd (benchmarks/_sshd.py)
    python benchmarks/ssh_overhead.py -n 500 --rounds 5 --json
    python benchmarks/ssh_overhead.py --host db1 --user ops --key ~/.ssh/id_ed25519

Against a remote host the ratio is what matters: network round trips dominate both.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import paramiko  # noqa: E402

from runbook.executors.ssh import SSHExecutor  # noqa: E402


@contextlib.contextmanager
def server(args: argparse.Namespace) -> Iterator[dict[str, Any]]:
    """Connection settings: the given host, or a throwaway loopback sshd."""
    if args.host:
        yield {"host": args.host, "port": args.port, "user": args.user,
               "key_file": args.key, "known_hosts": args.known_hosts}
        return
    from _sshd import running_sshd

    with tempfile.TemporaryDirectory() as tmp, running_sshd(Path(tmp)) as sshd:
        yield sshd.settings()


def bare_client(s: dict[str, Any]) -> paramiko.SSHClient:
    sock = socket.create_connection((s["host"], s["port"]), timeout=10)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    client = paramiko.SSHClient()
    client.load_host_keys(os.path.expanduser(s.get("known_hosts") or "~/.ssh/known_hosts"))
    client.connect(s["host"], s["port"], username=s.get("user"), key_filename=s.get("key_file"),
                   sock=sock, allow_agent=False, look_for_keys=False)
    return client


def bare_exec(client: paramiko.SSHClient, command: str) -> None:
    _, out, err = client.exec_command(command)
    out.read()
    err.read()
    assert out.channel.recv_exit_status() == 0


def timed(fn: Callable[[], Any], n: int) -> list[float]:
    """Per-call wall times in ms."""
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return times


def summary(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    return {"mean_ms": statistics.fmean(times), "p50_ms": ordered[len(ordered) // 2],
            "p95_ms": ordered[int(len(ordered) * 0.95) - 1]}


def compare(bare: Callable[[], Any], ours: Callable[[], Any],
            args: argparse.Namespace) -> dict[str, Any]:
    timed(bare, 20)  # warm both connections and the server's caches
    timed(ours, 20)
    bare_t: list[float] = []
    ours_t: list[float] = []
    for _ in range(args.rounds):
        for _ in range(0, args.n, 10):  # small alternating blocks: load spikes hit both
            bare_t += timed(bare, min(10, args.n))
            ours_t += timed(ours, min(10, args.n))
    result: dict[str, Any] = {"commands": len(bare_t), "bare": summary(bare_t),
                              "executor": summary(ours_t)}
    result["ratio_mean"] = result["executor"]["mean_ms"] / result["bare"]["mean_ms"]
    result["ratio_p50"] = result["executor"]["p50_ms"] / result["bare"]["p50_ms"]
    return result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=200, help="commands per side per round")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--host")
    ap.add_argument("--port", type=int, default=22)
    ap.add_argument("--user")
    ap.add_argument("--key")
    ap.add_argument("--known-hosts", default="~/.ssh/known_hosts")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    results: dict[str, dict[str, Any]] = {}
    with server(args) as settings:
        client = bare_client(settings)
        ex = SSHExecutor("bench", settings)
        ex.connect()
        # "true" is what the budget names; the remote shell runs it as a builtin for the
        # bare string but the executor runs argv, i.e. the /usr/bin/true program. "/bin/true"
        # makes both sides exec the same program.
        for command in ("true", "/bin/true"):
            results[command] = compare(functools.partial(bare_exec, client, command),
                                       functools.partial(ex.run, [command]), args)
        ex.close()
        client.close()

    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    for command, result in results.items():
        print(f"{command!r} x {result['commands']}:")
        for name in ("bare", "executor"):
            r = result[name]
            print(f"  {name:>9}: {r['mean_ms']:.2f} ms/command mean, p50 {r['p50_ms']:.2f}, "
                  f"p95 {r['p95_ms']:.2f}")
        print(f"      ratio: {result['ratio_mean']:.2f}x mean, {result['ratio_p50']:.2f}x p50 "
              f"(budget 1.5x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
