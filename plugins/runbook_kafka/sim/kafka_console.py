"""Stand-in for ``kafka-console-consumer.sh``: a long-running group member.

While it runs it is registered as a member of its group (an ephemeral
``console-consumer-NNNNN`` group without ``--group``), so describe shows it
and the range assignor gives it only the partitions no one else holds. It
prints one record value per line, flushed, at ``drain_seconds`` per record,
then stays silent until new records arrive. On SIGTERM/SIGINT/SIGHUP,
``--max-messages`` or ``--timeout-ms`` it leaves the group and reports
``Processed a total of N messages`` on stderr (format: kafka-console-consumer.md).
"""

from __future__ import annotations

import os
import random
import signal
import sys
import time
from pathlib import Path
from types import FrameType
from typing import Any

from runbook_kubectl.sim import k8s

from runbook.sim.argv import Parsed
from runbook.sim.model import State, dur, knob, log_time, new_uuid
from runbook.sim.store import SandboxError, transaction
from runbook_kafka.sim import kafka
from runbook_kafka.sim.usage import kafka_usage as _usage
from runbook_kafka.sim.usage import parse_kafka

FLAGS = {
    "bootstrap-server": True, "topic": True, "group": True, "from-beginning": False,
    "max-messages": True, "timeout-ms": True, "property": True, "consumer-property": True,
    "help": False,
    # real options this stand-in does not simulate:
    "partition": True, "offset": True, "include": True, "whitelist": True, "formatter": True,
    "consumer.config": True, "isolation-level": True,
}
NOT_SIMULATED = ("partition", "offset", "include", "whitelist", "formatter", "consumer.config",
                 "isolation-level")
LOCAL_HOST = "10.252.1.9"
"""Address a consumer reports when it runs outside any pod (on the management node)."""


class _Stopped(Exception):
    """A stop signal arrived while the consumer was waiting."""


class _Signals:
    """Turn stop signals into a clean exit, without breaking a state write."""

    def __init__(self) -> None:
        self.received = 0
        self.waiting = False
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, self._handle)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.received = signum
        if self.waiting:
            raise _Stopped

    def sleep(self, seconds: float) -> None:
        if self.received:
            raise _Stopped
        self.waiting = True
        try:
            time.sleep(seconds)
        finally:
            self.waiting = False


def run(directory: Path, argv: list[str]) -> int:
    opts = parse_kafka(argv, FLAGS, NOT_SIMULATED)
    if isinstance(opts, str):
        return _usage(opts)
    if opts.flag("help"):
        print("This tool helps to read data from Kafka topics and outputs it to standard output.")
        return 0
    if not opts.has("bootstrap-server"):
        return _usage('Missing required argument "[bootstrap-server]"')
    if not opts.has("topic"):
        return _usage("Exactly one of include/topic is required.")
    try:
        limit = int(opts.get("max-messages") or -1)
        timeout = int(opts.get("timeout-ms") or -1) / 1000
    except ValueError:
        return _usage("Cannot parse argument of option max-messages/timeout-ms")
    return _Consumer(directory, opts, limit, timeout).run()


class _Consumer:
    def __init__(self, directory: Path, opts: Parsed, limit: int, timeout: float) -> None:
        self.directory = directory
        self.topic = str(opts.get("topic"))
        props = dict(p.partition("=")[::2] for p in opts.all("property"))
        consumer_props = dict(p.partition("=")[::2] for p in opts.all("consumer-property"))
        self.named = opts.get("group") or consumer_props.get("group.id")
        self.group = self.named or f"console-consumer-{random.randint(10000, 99999)}"
        self.from_beginning = opts.flag("from-beginning")
        self.props = props
        self.limit = limit
        self.timeout = timeout
        self.member: dict[str, Any] = {}
        self.count = 0

    def run(self) -> int:
        signals = _Signals()
        code = 0
        try:
            code = self._loop(signals)
        except _Stopped:
            pass
        except BrokenPipeError:
            code = 1
        finally:
            self._leave()
            print(f"Processed a total of {self.count} messages", file=sys.stderr, flush=True)
        return 128 + signals.received if signals.received else code

    def _loop(self, signals: _Signals) -> int:
        warned = False
        idle_since = time.monotonic()
        while not signals.received:
            with transaction(self.directory) as state:
                pace = dur(state, "drain_seconds")
                poll = knob(state, "poll_seconds")
                missing = kafka.topic(state, self.topic) is None
                record = None
                if not missing:
                    self._join(state)
                    record = self._take(state, float(state["updated"]))
            if record is None:
                if missing and not warned:
                    warned = True
                    print(f"[{log_time(time.time())}] WARN [Consumer clientId=console-consumer, "
                          f"groupId={self.group}] Error while fetching metadata with correlation "
                          f"id 2 : {{{self.topic}=UNKNOWN_TOPIC_OR_PARTITION}} "
                          "(org.apache.kafka.clients.NetworkClient)", file=sys.stderr, flush=True)
                if 0 <= self.timeout <= time.monotonic() - idle_since:
                    print(f"[{log_time(time.time())}] ERROR Error processing message, "
                          "terminating consumer process:  (kafka.tools.ConsoleConsumer$)\n"
                          "org.apache.kafka.common.errors.TimeoutException",
                          file=sys.stderr, flush=True)
                    return 0
                signals.sleep(poll)
                continue
            sys.stdout.write(record + "\n")
            sys.stdout.flush()
            self.count += 1
            idle_since = time.monotonic()
            if self.count == self.limit:
                return 0
            signals.sleep(pace)
        return 0

    def _join(self, state: State) -> None:
        """Register (again, if reaped) as a member and settle starting offsets."""
        grp = kafka.ensure_group(state, self.group)
        if not self.named:
            grp["ephemeral"] = True
        if any(m["id"] == self.member.get("id") for m in grp["members"]):
            return
        if not self.member:
            pod = os.environ.get("RUNBOOK_SIM_POD", "")
            namespace, _, name = pod.partition("/")
            found = k8s.find_pod(state, namespace, name) if name else None
            self.member = {"id": f"console-consumer-{new_uuid()}", "client_id": "console-consumer",
                           "host": found["ip"] if found else LOCAL_HOST, "pid": os.getpid(),
                           "topic": self.topic, "joined": time.time()}
        kafka.register(state, self.group, self.member)
        partitions = state["kafka"]["topics"][self.topic]["partitions"]
        for index, part in enumerate(partitions):
            if kafka.committed(state, self.group, self.topic)[index] is None:
                start = int(part["start"]) if self.from_beginning else kafka.end_offset(part)
                kafka.commit(state, self.group, self.topic, index, start)

    def _take(self, state: State, t: float) -> str | None:
        """The oldest record of this member's partitions; its offset is committed."""
        mine = kafka.assignment(state, self.group, self.topic, t).get(self.member["id"], [])
        partitions = state["kafka"]["topics"][self.topic]["partitions"]
        heads = []
        for index in mine:
            offset = kafka.position(state, self.group, self.topic, index)
            record = kafka.record_at(partitions[index], offset)
            if record is not None:
                heads.append((record[0], index, offset, record[1]))
        if not heads:
            return None
        ts, index, offset, value = min(heads)
        kafka.commit(state, self.group, self.topic, index, offset + 1)
        return self._format(ts, index, offset, value)

    def _format(self, ts: float, partition: int, offset: int, value: str) -> str:
        """DefaultMessageFormatter: optional timestamp, partition, offset and key, then value."""
        sep = self.props.get("key.separator", "\t")
        out = ""
        if self.props.get("print.timestamp") == "true":
            out += f"CreateTime:{int(ts * 1000)}\t"
        if self.props.get("print.partition") == "true":
            out += f"Partition:{partition}\t"
        if self.props.get("print.offset") == "true":
            out += f"Offset:{offset}\t"
        if self.props.get("print.key") == "true":
            out += "null" + sep
        return out + value

    def _leave(self) -> None:
        """Leave the group; an ephemeral group that never mattered goes with it."""
        if not self.member:
            return
        try:
            with transaction(self.directory) as state:
                kafka.unregister(state, self.group, self.member["id"])
        except SandboxError:
            pass  # the sandbox is gone: there is no group left to leave
