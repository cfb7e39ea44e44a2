"""cassandra actions: nodetool status/info/describecluster, waits, binary/drain, a CQL probe.

Every nodetool command is ``NODETOOL [-h HOST] [-p PORT] SUBCOMMAND ...`` as an
argv list, run on the action's target (a Cassandra host, usually over SSH).
``wait_normal`` is the check the Wikimedia roll-reboot lacks: every node of
the datacenters ``UN``, the expected count present, for several polls in a
row, so one lucky sample during a rejoin does not pass.
"""

from __future__ import annotations

import time
from typing import Any, Literal

from pydantic import Field

from runbook.actions import Action, ActionContext, Args, Invocation, parse_or_fail
from runbook.errors import StepError
from runbook.executors.base import CommandResult
from runbook.models import Duration
from runbook_cassandra.parse import (
    parse_describecluster,
    parse_info,
    parse_status,
    summarize,
)


class NodetoolArgs(Args):
    host: str | None = Field(default=None, description="-h HOST (default: the target itself)")
    port: int | None = Field(default=None, description="-p JMX_PORT")
    nodetool: str = Field(default="nodetool", description="the nodetool binary")

    def base(self) -> list[str]:
        argv = [self.nodetool]
        if self.host:
            argv += ["-h", self.host]
        if self.port is not None:
            argv += ["-p", str(self.port)]
        return argv


class StatusArgs(NodetoolArgs):
    keyspace: str | None = Field(default=None, description="ownership for this keyspace")


def status_argv(args: StatusArgs) -> list[str]:
    return [*args.base(), "status", *([args.keyspace] if args.keyspace else [])]


_STATUS_FIELDS = {
    "datacenters": "datacenter names in output order",
    "nodes": "`[{datacenter, status: U|D, state: N|L|J|M, address, load_bytes, tokens, owns, "
             "host_id, rack}]` (`load_bytes`, `owns` null for `?`)",
    "up, down": "addresses by status",
    "joining, leaving, moving": "addresses by state",
    "all_normal": "every node of every datacenter is exactly `UN`",
    "error": "`cassandra.status` only: nodetool's message when the keyspace does not exist "
             "(then no nodes and `all_normal` false), else null",
}


class Status(Action[StatusArgs]):
    """argv: `nodetool [-h HOST] [-p PORT] status [KEYSPACE]`

    `all_normal` counts `UJ`, `UL`, `UM` and `DN` against the cluster (not only `D`
    rows). A keyspace that does not exist is a result, not an error: no nodes,
    `all_normal` false and `error` is nodetool's message, so a precondition
    says "this does not apply" (exit 6) before anything changes.

    ```yaml
      - probe: cassandra.status
        target: cassandra
        that: [result.all_normal, "result.nodes | length == 6"]
    ```
    """

    name = "cassandra.status"
    summary = "nodetool status: every node's status/state per datacenter, all_normal"
    Args = StatusArgs
    result_fields = _STATUS_FIELDS

    def commands(self, args: StatusArgs) -> list[list[str]]:
        return [status_argv(args)]

    def run(self, args: StatusArgs, ctx: ActionContext) -> Any:
        res = ctx.exec(status_argv(args), check=False)
        said = (res.stderr or res.stdout).strip()
        if res.rc != 0 and args.keyspace and "does not exist" in said:
            return {**summarize([], []), "error": said.removeprefix("nodetool: ")}
        return {**parse_or_fail(res.check(), parse_status, res.stdout), "error": None}


class Info(Action[NodetoolArgs]):
    """argv: `nodetool [-h HOST] [-p PORT] info`"""

    name = "cassandra.info"
    summary = "nodetool info: gossip/native transport, load, uptime, heap, DC, caches"
    Args = NodetoolArgs
    result_fields = {
        "id": "host ID", "gossip_active, native_transport_active": "booleans",
        "load_bytes": "load", "uptime_seconds": "null when N/A",
        "heap_used_mb, heap_max_mb": "heap", "data_center, rack": "where the node is",
        "exceptions": "count", "percent_repaired": "percent",
        "key_cache_hit_rate, row_cache_hit_rate": "recent hit rates (null for NaN; the row "
                                                  "cache's when it is disabled)",
        "token_count": "tokens of the node",
    }

    def commands(self, args: NodetoolArgs) -> list[list[str]]:
        return [[*args.base(), "info"]]

    def parse(self, result: CommandResult) -> Any:
        return parse_or_fail(result, parse_info, result.stdout)


class DescribeCluster(Action[NodetoolArgs]):
    """argv: `nodetool [-h HOST] [-p PORT] describecluster`

    `schema_agreement` is true when exactly one schema version is reported (and
    it is not `UNREACHABLE`).
    """

    name = "cassandra.describecluster"
    summary = "nodetool describecluster: name, snitch, partitioner, schema versions, agreement"
    Args = NodetoolArgs
    result_fields = {
        "cluster_name, snitch, partitioner": "as printed", "dynamic_snitch": "boolean",
        "schema_versions": "`{version: [addresses]}`",
        "schema_agreement": "one schema version only",
    }

    def commands(self, args: NodetoolArgs) -> list[list[str]]:
        return [[*args.base(), "describecluster"]]

    def parse(self, result: CommandResult) -> Any:
        return parse_or_fail(result, parse_describecluster, result.stdout)


class WaitNormalArgs(StatusArgs):
    datacenters: list[str] = Field(default_factory=list,
                                   description="datacenters to watch (default: all)")
    expected_nodes: int | None = Field(default=None, ge=1,
                                       description="nodes these datacenters must have")
    stable_polls: int = Field(default=3, ge=1, description="consecutive good polls needed")
    interval: Duration = Field(default=5.0, description="pause between polls")
    timeout: Duration = Field(default=600.0, description="give up after this")


def not_normal(status: dict[str, Any], args: WaitNormalArgs) -> list[str]:
    """What keeps the datacenters from being normal, one phrase each (empty when normal)."""
    unknown = [dc for dc in args.datacenters if dc not in status["datacenters"]]
    if unknown:
        raise ValueError(f"datacenter {', '.join(unknown)} is not reported by nodetool "
                         f"(it reports {', '.join(status['datacenters'])})")
    nodes = [n for n in status["nodes"]
             if not args.datacenters or n["datacenter"] in args.datacenters]
    problems = [f"{n['address']} ({n['datacenter']}) is {n['status']}{n['state']}"
                for n in nodes if n["status"] + n["state"] != "UN"]
    if args.expected_nodes is not None and len(nodes) != args.expected_nodes:
        problems.append(f"{len(nodes)} nodes, not {args.expected_nodes}")
    return problems


class WaitNormal(Action[WaitNormalArgs]):
    """argv (each poll): `nodetool [-h HOST] [-p PORT] status [KEYSPACE]`

    Every node of `datacenters` must be `UN` and, with `expected_nodes`, that many
    nodes present, for `stable_polls` polls in a row `interval` apart. A datacenter
    nodetool does not report fails at once. After `timeout`:
    `not normal after 600s: 127.0.2.11 (eqiad) is UJ`.
    """

    name = "cassandra.wait_normal"
    summary = "wait until every node of the datacenters is UN, stably, with the expected count"
    Args = WaitNormalArgs
    waits = True
    result_fields = {**_STATUS_FIELDS, "polls": "polls made", "waited_seconds": "until stable"}

    def commands(self, args: WaitNormalArgs) -> list[list[str]]:
        return [status_argv(args)]

    def run(self, args: WaitNormalArgs, ctx: ActionContext) -> Any:
        started = time.monotonic()
        deadline = started + args.timeout
        good = polls = 0
        problems: list[str] = []
        while True:
            res = ctx.exec(status_argv(args), check=False)
            polls += 1
            if res.rc == 0:
                status = parse_or_fail(res, parse_status, res.stdout)
                try:
                    problems = not_normal(status, args)
                except ValueError as exc:
                    raise StepError(str(exc), step=ctx.step, target=ctx.executor.name) from None
            else:
                status, problems = {}, [(res.stderr or res.stdout).strip() or f"exit {res.rc}"]
            good = 0 if problems else good + 1
            if good >= args.stable_polls:
                return {**status, "polls": polls,
                        "waited_seconds": round(time.monotonic() - started, 3)}
            if time.monotonic() >= deadline:
                raise StepError(f"not normal after {args.timeout:g}s: {'; '.join(problems)}",
                                step=ctx.step, target=ctx.executor.name)
            time.sleep(max(0.0, min(args.interval, deadline - time.monotonic())))


class _Binary(Action[NodetoolArgs]):
    """Shared by enablebinary/disablebinary: capture `nodetool info`'s native transport."""

    Args = NodetoolArgs
    mutating = True
    idempotent = True
    verb: str = ""
    undo: str = ""
    active_after: bool = False
    result_fields = {"native_transport_active": "after the command (from `nodetool info`)"}

    def commands(self, args: NodetoolArgs) -> list[list[str]]:
        return [[*args.base(), self.verb]]

    def run(self, args: NodetoolArgs, ctx: ActionContext) -> Any:
        ctx.exec(self.commands(args)[0])
        return {"native_transport_active": self.capture(args, ctx)}

    def capture(self, args: NodetoolArgs, ctx: ActionContext) -> Any:
        res = ctx.exec([*args.base(), "info"])
        return parse_or_fail(res, parse_info, res.stdout)["native_transport_active"]

    def inverse(self, args: NodetoolArgs, captured: Any) -> Invocation | None:
        if captured is None or bool(captured) == self.active_after:
            return None
        return Invocation(self.undo, args.model_dump(exclude_defaults=True))


class DisableBinary(_Binary):
    """argv: `nodetool [-h HOST] [-p PORT] disablebinary` (then `info` for the result)

    Stops the CQL native transport (port 9042): clients move to other
    coordinators. `rollback: auto` runs `cassandra.enablebinary` when the
    transport was on before.
    """

    name = "cassandra.disablebinary"
    summary = "stop the CQL native transport (rollback: auto enables it again)"
    verb = "disablebinary"
    undo = "cassandra.enablebinary"
    active_after = False


class EnableBinary(_Binary):
    """argv: `nodetool [-h HOST] [-p PORT] enablebinary` (then `info` for the result)

    `rollback: auto` runs `cassandra.disablebinary` when the transport was off before.
    """

    name = "cassandra.enablebinary"
    summary = "start the CQL native transport (rollback: auto disables it again)"
    verb = "enablebinary"
    undo = "cassandra.disablebinary"
    active_after = True


class Drain(Action[NodetoolArgs]):
    """argv: `nodetool [-h HOST] [-p PORT] drain`

    Flushes memtables and stops accepting writes, gossip and the native
    transport; the node shows `DN` to the others until Cassandra restarts. No
    inverse: a drained node comes back by restarting Cassandra (or the host).
    """

    name = "cassandra.drain"
    summary = "flush and stop accepting writes before a restart (no inverse)"
    Args = NodetoolArgs
    mutating = True
    idempotent = True
    result_fields = {"rc": "exit status", "stdout": "output", "stderr": "errors",
                     "lines": "output lines"}

    def commands(self, args: NodetoolArgs) -> list[list[str]]:
        return [[*args.base(), "drain"]]


class ProbeArgs(Args):
    coordinator: str = Field(description="the host cqlsh connects to (the coordinator)")
    keyspace: str = Field(description="keyspace of the probe table")
    table: str = Field(description="a table with a text key column and a text value column")
    key_column: str = Field(default="key", description="the key column")
    value_column: str = Field(default="value", description="the value column")
    key: str = Field(default="runbook-consistency-probe", description="the probe row's key")
    ttl: int = Field(default=60, ge=1, description="seconds the probe row lives")
    consistency: Literal["LOCAL_QUORUM", "QUORUM", "LOCAL_ONE", "ONE", "ALL",
                         "EACH_QUORUM"] = "LOCAL_QUORUM"
    cqlsh: str = Field(default="cqlsh", description="the cqlsh binary")

    def statement(self) -> str:
        table = f"{self.keyspace}.{self.table}"
        key = self.key.replace("'", "''")
        return (f"CONSISTENCY {self.consistency}; "
                f"INSERT INTO {table} ({self.key_column}, {self.value_column}) "
                f"VALUES ('{key}', 'probe') USING TTL {self.ttl}; "
                f"SELECT {self.value_column} FROM {table} WHERE {self.key_column} = '{key}';")


def cql_error(text: str) -> str:
    """Cassandra's message out of cqlsh's error line (``message="..."``), else the last line."""
    import re

    found = re.search(r'message="([^"]*)"', text)
    if found:
        return found[1]
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "cqlsh failed"


class ConsistencyProbe(Action[ProbeArgs]):
    """argv: `cqlsh COORDINATOR -e "CONSISTENCY LOCAL_QUORUM; INSERT INTO KS.TABLE (key, value)
    VALUES ('runbook-consistency-probe', 'probe') USING TTL 60; SELECT value FROM KS.TABLE
    WHERE key = 'runbook-consistency-probe';"`

    Read-only in effect: it writes one probe row that expires after `ttl`. A failed
    write or read is a result, not an error: `ok: false` and `error` is Cassandra's
    message (`Cannot achieve consistency level LOCAL_QUORUM`).
    """

    name = "cassandra.consistency_probe"
    summary = "write and read a probe row at LOCAL_QUORUM through a chosen coordinator"
    Args = ProbeArgs
    result_fields = {"ok": "the write and the read succeeded",
                     "consistency": "the level asked", "coordinator": "the host used",
                     "error": "Cassandra's message when not ok, else null"}

    def commands(self, args: ProbeArgs) -> list[list[str]]:
        return [[args.cqlsh, args.coordinator, "-e", args.statement()]]

    def run(self, args: ProbeArgs, ctx: ActionContext) -> Any:
        res = ctx.exec(self.commands(args)[0], check=False)
        ok = res.rc == 0 and "probe" in res.stdout
        return {"ok": ok, "consistency": args.consistency, "coordinator": args.coordinator,
                "error": None if ok else cql_error(res.stderr or res.stdout)}


ACTIONS = (Status, Info, DescribeCluster, WaitNormal, DisableBinary, EnableBinary, Drain,
           ConsistencyProbe)
