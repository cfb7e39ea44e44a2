"""``host.wait_port`` waits until a TCP port accepts connections, as seen from the target.

Checked with ``nc -z`` on the target itself, so the answer is the host's view
(a firewall between us and it does not matter), and a host that does not
answer yet is simply "not yet".
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from runbook.actions import Action, ActionContext, Args
from runbook.errors import StepError
from runbook.models import Duration
from runbook_host.polling import poll_until
from runbook_host.polling import where as _where


class WaitPortArgs(Args):
    port: int = Field(ge=1, le=65535, description="the TCP port")
    host: str = Field(default="localhost", description="the address to connect to, from the "
                                                       "target")
    interval: Duration = Field(default=2.0, description="pause between tries")
    timeout: Duration = Field(default=300.0, description="give up after this")
    nc: str = Field(default="nc", description="the netcat binary")

    def argv(self) -> list[str]:
        return [self.nc, "-z", "-w", "2", self.host, str(self.port)]


class WaitPort(Action[WaitPortArgs]):
    """argv (each try): `nc -z -w 2 HOST PORT` on the target.

    After `timeout` the step fails: `localhost:9042 does not accept connections
    on db1 after 300s (last: ...)`. Only "accepts a TCP connection": that a
    service is healthy needs its own check (Cassandra: `cassandra.wait_normal`).
    """

    name = "host.wait_port"
    summary = "wait until a TCP port accepts connections (checked from the target)"
    Args = WaitPortArgs
    waits = True
    result_fields = {
        "host": "the address tried",
        "port": "the port",
        "open": "true (a port that stays closed fails the step)",
        "waited_seconds": "until the first accepted connection",
        "polls": "tries made",
    }

    def commands(self, args: WaitPortArgs) -> list[list[str]]:
        return [args.argv()]

    def run(self, args: WaitPortArgs, ctx: ActionContext) -> Any:
        ok, poll = poll_until(ctx, args.argv(), lambda res: res.rc == 0,
                              interval=args.interval, timeout=args.timeout)
        if not ok:
            raise StepError(f"{args.host}:{args.port} does not accept connections on "
                            f"{_where(ctx)} after {args.timeout:g}s (last: {poll.last})",
                            step=ctx.step, target=ctx.executor.name)
        return {"host": args.host, "port": args.port, "open": True,
                "waited_seconds": round(poll.waited, 3), "polls": poll.polls}
