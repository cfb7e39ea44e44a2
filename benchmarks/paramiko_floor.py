"""The SSH work of (c) done by paramiko alone: the floor under any paramiko-based tool.

Per target name: one login (strict host key checking, key auth), then ``--steps``
commands, each on its own session channel, its exit status awaited; ``--forks`` names
at a time. No engine, no audit log, no journal: what is left of a tool's CPU above this
is the tool's own. Run by compare.py as the "paramiko alone" row of (c).
"""

from __future__ import annotations

import argparse
from concurrent.futures import ThreadPoolExecutor

import paramiko


def one_name(opts: argparse.Namespace) -> None:
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    for name in ("host", "user", "key-file", "known-hosts"):
        ap.add_argument(f"--{name}", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--names", type=int, required=True)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--forks", type=int, default=10)
    ap.add_argument("--command", default="/bin/true")
    opts = ap.parse_args()
    with ThreadPoolExecutor(opts.forks) as pool:
        list(pool.map(lambda _: one_name(opts), range(opts.names)))


if __name__ == "__main__":
    main()
