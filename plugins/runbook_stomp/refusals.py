"""The broker's refusals in stompclt's log, as findings that name who must act.

A broker that refuses a destination answers with an ERROR frame, which
stompclt logs as ``unexpected ERROR frame received: User CN=..., is not
authorized to write to: topic://...``. No restart or configuration change on
the publisher fixes that: only the broker's owner can grant the access. So
``stomp.authorization`` records one critical finding per refused destination
(the topic, the identity refused, who must act) and fails, which, as a
precondition, stops a run before it changes anything (exit 6).
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field

from runbook.actions import Action, ActionContext, Args
from runbook.errors import CheckFailed

_REFUSED = re.compile(r"ERROR frame received: User (?P<user>.+?),? is not authorized to "
                      r"(?P<access>write to|read from): (?P<destination>\S+)")


class AuthorizationArgs(Args):
    path: str = Field(description="stompclt's log (syslog) on the target")


def refusals(text: str) -> list[dict[str, Any]]:
    """Each refused destination once, in the order first seen: {destination, access,
    user, count, last (the last such line)}."""
    found: dict[str, dict[str, Any]] = {}
    for line in text.splitlines():
        match = _REFUSED.search(line)
        if match is None:
            continue
        dest = match["destination"]
        entry = found.setdefault(dest, {"destination": dest, "access": match["access"],
                                        "user": match["user"], "count": 0})
        entry["count"] += 1
        entry["last"] = line.strip()
    return list(found.values())


def next_step(refused: dict[str, Any]) -> str:
    """Who must act, and what they must do; why a restart is not it."""
    verb = "write to" if refused["access"] == "write to" else "read from"
    return (f"the broker's owner must grant {refused['user']} the right to {verb} "
            f"{refused['destination']}; a restart or a configuration change of stompclt "
            f"cannot fix it")


class StompAuthorization(Action[AuthorizationArgs]):
    """argv: `cat -- PATH` (through the target's `read_file`).

    Fails when the log holds a broker's ERROR frame refusing a destination, and
    records one `critical` finding per refused destination: the title names the
    topic, `next` says that the broker's owner must grant the access (not a
    restart). As a precondition it stops the run before any change (exit 6).

    ```yaml
    preconditions:
      - id: broker-authorizes
        probe: stomp.authorization
        with: {path: /var/log/messages}
    ```
    """

    name = "stomp.authorization"
    summary = "fail, with a finding per topic, when the broker refuses stompclt a destination"
    Args = AuthorizationArgs
    result_fields = {"ok": "true when no destination is refused",
                     "refused": "[{destination, access, user, count, last}]"}

    def commands(self, args: AuthorizationArgs) -> list[list[str]]:
        return [["cat", "--", args.path]]

    def run(self, args: AuthorizationArgs, ctx: ActionContext) -> Any:
        refused = refusals(ctx.read_text(args.path))
        for r in refused:
            ctx.finding("critical", f"the broker refuses stompclt to {r['access']} "
                                    f"{r['destination']} ({r['user']}): an authorization "
                                    f"error, not a stuck publisher",
                        evidence={"destination": r["destination"], "user": r["user"],
                                  "count": r["count"], "last": r["last"]},
                        next_step=next_step(r))
        if refused:
            raise CheckFailed(
                "refused: " + ", ".join(f"{r['access']} {r['destination']} for {r['user']}"
                                        for r in refused),
                step=ctx.step, expected="no ERROR frame refusing a destination",
                observed={"refused": [r["destination"] for r in refused]})
        return {"ok": True, "refused": []}
