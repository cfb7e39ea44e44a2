"""The SSH work of (c) without runbook's engine: what is under the engine's own cost.

Per target name: one login (strict host key checking, key auth), then ``--steps``
commands, each on its own session channel, its exit status awaited; ``--forks`` names
at a time. No engine, no audit log, no journal. ``--via paramiko`` does it with
paramiko as a tool would out of the box; ``--via runbook`` with runbook's own SSH
executor (``runbook.executors.ssh``: the same paramiko, with its read-ahead socket,
pipelined exec, AES-GCM first...). Run by compare.py as two rows of (c).
"""

from __future__ import annotations

import argparse
from concurrent.futures import ThreadPoolExecutor


def with_paramiko(opts: argparse.Namespace) -> None:
    import paramiko

    client = paramiko.SSHClient()
    client.load_host_keys(opts.known_hosts)
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    client.connect(opts.host, port=opts.port, username=opts.user, key_filename=opts.key_file,
                   allow_agent=False, look_for_keys=False)
    try:
        transport = client.get_transport()
        assert transport is not None
        for _ in range(opts.steps):
            chan = transport.open_session()
            chan.exec_command(opts.command)
            if chan.recv_exit_status() != 0:
                raise SystemExit(f"{opts.command} failed")
            chan.close()
    finally:
        client.close()


def with_runbook(opts: argparse.Namespace) -> None:
    from runbook.executors.ssh import SSHExecutor

    executor = SSHExecutor("bench", {"host": opts.host, "port": opts.port, "user": opts.user,
                                     "key_file": opts.key_file,
                                     "known_hosts": opts.known_hosts})
    try:
        executor.connect()
        for _ in range(opts.steps):
            if executor.run([opts.command]).rc != 0:
                raise SystemExit(f"{opts.command} failed")
    finally:
        executor.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    for name in ("host", "user", "key-file", "known-hosts"):
        ap.add_argument(f"--{name}", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--names", type=int, required=True)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--forks", type=int, default=10)
    ap.add_argument("--command", default="/bin/true")
    ap.add_argument("--via", choices=["paramiko", "runbook"], default="paramiko")
    opts = ap.parse_args()
    one = with_paramiko if opts.via == "paramiko" else with_runbook
    with ThreadPoolExecutor(opts.forks) as pool:
        list(pool.map(lambda _: one(opts), range(opts.names)))


if __name__ == "__main__":
    main()
