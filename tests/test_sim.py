"""The simulated estate, driven the way plugins drive it: real subprocesses on PATH.

Output is checked against the recorded samples in ``tests/samples`` (byte-exact
copies of shared/formats), usage errors against the real tools' behaviour, and
the world's reactions through the tools' own output and the state file.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from runbook.sim import (
    SCENARIOS,
    describe_state,
    init_sandbox,
    list_scenarios,
    load_state,
    sandbox_env,
    set_fault,
)

SAMPLES = Path(__file__).parent / "samples"
NS = ["-n", "services"]
BOOTSTRAP = ("cray-shared-kafka-kafka-0.cray-shared-kafka-kafka-brokers.services.svc.cluster.local"
             ":9092")
DESCRIBE = ["kafka-consumer-groups.sh", "--bootstrap-server", BOOTSTRAP, "--describe",
            "--group", "cfs-operator"]
CONSUME = ["kubectl", *NS, "exec", "cray-shared-kafka-kafka-0", "-c", "kafka", "--",
           "bin/kafka-console-consumer.sh", "--bootstrap-server", BOOTSTRAP,
           "--topic", "cfs-session-events", "--group", "cfs-operator"]

Run = Callable[..., subprocess.CompletedProcess[str]]


def sample(name: str) -> Any:
    return json.loads((SAMPLES / f"{name}.stdout").read_text())


def sample_text(name: str) -> str:
    return (SAMPLES / f"{name}.stdout").read_text()


class Sandbox:
    """A sandbox folder and a way to run its stand-ins as a plugin would."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.env = {**os.environ, **sandbox_env(directory)}

    def run(self, *argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(list(argv), env=self.env, capture_output=True, text=True,
                              timeout=30, check=False)

    def ok(self, *argv: str) -> str:
        res = self.run(*argv)
        assert res.returncode == 0, (argv, res.stdout, res.stderr)
        return res.stdout

    def json(self, *argv: str) -> Any:
        return json.loads(self.ok(*argv))

    def lag(self) -> tuple[int, str, str]:
        """Total lag, stdout and stderr of ``kafka-consumer-groups.sh --describe``."""
        res = self.run(*DESCRIBE)
        assert res.returncode == 0, res.stderr
        rows = [line.split() for line in res.stdout.splitlines()[2:]]
        return sum(int(r[5]) for r in rows if r[5] != "-"), res.stdout, res.stderr

    def log_end(self) -> int:
        res = self.run(*DESCRIBE)
        return sum(int(line.split()[4]) for line in res.stdout.splitlines()[2:])

    def session_names(self) -> set[str]:
        listed = self.json("cray", "cfs", "v3", "sessions", "list", "--format", "json")
        return {s["name"] for s in listed["sessions"]}


@pytest.fixture(scope="module")
def healthy(tmp_path_factory: pytest.TempPathFactory) -> Sandbox:
    """One healthy estate shared by the tests that only read it (or are refused)."""
    return Sandbox(init_sandbox("cfs-healthy", tmp_path_factory.mktemp("healthy")))


@pytest.fixture
def make(tmp_path: Path) -> Callable[..., Sandbox]:
    def factory(scenario: str, **knobs: float) -> Sandbox:
        return Sandbox(init_sandbox(scenario, tmp_path / scenario, knobs=knobs))
    return factory


class Consumer:
    """A background console consumer; lines are collected with their arrival times."""

    def __init__(self, box: Sandbox, argv: list[str]) -> None:
        self.proc = subprocess.Popen(argv, env=box.env, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        self.lines: list[tuple[float, str]] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append((time.monotonic(), line.rstrip("\n")))

    def wait_quiet(self, quiet: float, limit: float) -> None:
        start = time.monotonic()
        while time.monotonic() - start < limit:
            last = self.lines[-1][0] if self.lines else start
            if time.monotonic() - last >= quiet:
                return
            time.sleep(0.05)
        raise AssertionError(f"consumer never went quiet for {quiet}s")

    def stop(self, sig: int = signal.SIGTERM) -> tuple[int, str]:
        self.proc.send_signal(sig)
        rc = self.proc.wait(timeout=10)
        self.reader.join(timeout=5)
        assert self.proc.stderr is not None
        return rc, self.proc.stderr.read()


@pytest.fixture
def consumers() -> Iterator[list[Consumer]]:
    started: list[Consumer] = []
    yield started
    for consumer in started:
        if consumer.proc.poll() is None:
            consumer.proc.kill()
            consumer.proc.wait()


def wait_for(predicate: Callable[[], bool], limit: float, step: float = 0.2) -> bool:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


# -- the Python API -------------------------------------------------------------------------------


def test_scenarios_are_listed_with_descriptions() -> None:
    names = [name for name, _ in list_scenarios()]
    assert names == sorted(names)
    assert {"cfs-stuck-sessions", "cfs-backoff-changed", "cfs-healthy"} <= set(names)
    assert set(names) == set(SCENARIOS)
    assert all(description for _, description in list_scenarios())


def test_sandbox_layout_and_env(tmp_path: Path) -> None:
    box = init_sandbox("cfs-healthy", tmp_path / "sb")
    assert json.loads((box / "state.json").read_text())["scenario"] == "cfs-healthy"
    for tool in ("kubectl", "kafka-console-consumer.sh", "kafka-consumer-groups.sh", "cray"):
        script = box / "bin" / tool
        assert os.access(script, os.X_OK)
        assert script.read_text().startswith(f"#!{sys.executable} -S\n")
    env = sandbox_env(box)
    assert env["PATH"].split(os.pathsep)[0] == str(box / "bin")
    assert env["RUNBOOK_SIM_DIR"] == str(box)
    # The scripts find the code without PYTHONPATH and the sandbox from their own location.
    bare = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "RUNBOOK_SIM_DIR")}
    res = subprocess.run([str(box / "bin" / "cray"), "cfs", "v3", "options", "list",
                          "--format", "json"], env=bare, cwd=tmp_path, capture_output=True,
                         text=True, check=False, timeout=30)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["batcher_max_backoff"] == 3600


def test_unknown_scenario_knob_and_fault_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown scenario"):
        init_sandbox("no-such-incident", tmp_path / "a")
    with pytest.raises(ValueError, match="unknown knob"):
        init_sandbox("cfs-healthy", tmp_path / "b", knobs={"warp_speed": 9})
    box = init_sandbox("cfs-healthy", tmp_path / "c")
    with pytest.raises(ValueError, match="unknown fault"):
        set_fault(box, "disk_full", True)


def test_describe_state_summarises_the_incident(make: Callable[..., Sandbox]) -> None:
    box = make("cfs-stuck-sessions")
    text = describe_state(box.dir)
    assert "cfs-stuck-sessions" in text
    assert "services/cray-cfs-operator: 1/1 ready" in text
    assert "group cfs-operator on cfs-session-events: lag" in text


# -- output formats -------------------------------------------------------------------------------


def test_get_deployment_json_follows_the_format(healthy: Sandbox) -> None:
    box = healthy
    out = box.ok("kubectl", *NS, "get", "deployment", "cray-cfs-operator", "-o", "json")
    doc = json.loads(out)
    assert out == json.dumps(doc, indent=4, sort_keys=True) + "\n"  # Go's layout
    ref = sample("kubectl-get-deployment/02-healthy")
    assert doc.keys() == ref.keys()
    for part in ("metadata", "spec", "status"):
        assert doc[part].keys() == ref[part].keys(), part
    assert doc["spec"]["template"]["spec"].keys() == ref["spec"]["template"]["spec"].keys()
    assert doc["status"]["conditions"][0].keys() == ref["status"]["conditions"][0].keys()
    assert {c["status"] for c in doc["status"]["conditions"]} == {"True"}
    assert doc["status"]["readyReplicas"] == doc["spec"]["replicas"] == 1
    # deployment/NAME spelling, and the table form
    assert json.loads(box.ok("kubectl", "--namespace=services", "get",
                             "deployment/cray-cfs-operator", "-o", "json"))["kind"] == "Deployment"
    table = box.ok("kubectl", *NS, "get", "deployment", "cray-cfs-operator").splitlines()
    assert table[0].split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert table[1].split()[:2] == ["cray-cfs-operator", "1/1"]


def test_scaled_to_zero_omits_counters(make: Callable[..., Sandbox]) -> None:
    box = make("cfs-healthy")
    before = box.json("kubectl", *NS, "get", "deployment", "cray-cfs-operator", "-o", "json")
    res = box.run("kubectl", "scale", *NS, "--replicas", "0", "deployment/cray-cfs-operator")
    ref_out = sample_text("kubectl-scale/01-scale-to-zero")
    assert (res.returncode, res.stdout) == (0, ref_out.replace("/cfs-", "/cray-cfs-"))
    doc = box.json("kubectl", *NS, "get", "deployment", "cray-cfs-operator", "-o", "json")
    ref = sample("kubectl-get-deployment/03-scaled-to-zero")
    assert doc["status"].keys() == ref["status"].keys() == {"conditions", "observedGeneration"}
    assert doc["spec"]["replicas"] == 0
    assert doc["metadata"]["generation"] == before["metadata"]["generation"] + 1
    pods = box.json("kubectl", *NS, "get", "pods", "-l", "app=cray-cfs-operator", "-o", "json")
    assert pods["items"] == []


def test_get_pods_json_follows_the_format(healthy: Sandbox) -> None:
    box = healthy
    out = box.ok("kubectl", *NS, "get", "pods", "-l", "app.kubernetes.io/name=cray-cfs-operator",
                 "-o", "json")
    doc = json.loads(out)
    assert out == json.dumps(doc, indent=4, sort_keys=True) + "\n"
    ref = sample("kubectl-get-pods/01-list-two-running")
    assert doc.keys() == ref.keys() and doc["metadata"] == ref["metadata"]
    assert len(doc["items"]) == 1
    pod, ref_pod = doc["items"][0], ref["items"][0]
    for part in ("metadata", "spec", "status"):
        assert pod[part].keys() == ref_pod[part].keys(), part
    assert pod["status"]["containerStatuses"][0].keys() == \
        ref_pod["status"]["containerStatuses"][0].keys()
    assert pod["status"]["phase"] == "Running"
    single = box.json("kubectl", *NS, "get", "pod", pod["metadata"]["name"], "-o", "json")
    assert single["kind"] == "Pod" and single["metadata"]["uid"] == pod["metadata"]["uid"]


def test_consumer_group_describe_follows_the_format(make: Callable[..., Sandbox]) -> None:
    box = make("cfs-stuck-sessions")
    res = box.run(*DESCRIBE)
    assert res.returncode == 0 and res.stderr == ""
    lines = res.stdout.split("\n")
    ref = sample_text("kafka-consumer-groups-describe/01-active-two-members").split("\n")
    assert lines[0] == "" and lines[-1] == ""
    assert lines[1].split() == ref[1].split()
    # left-aligned columns: every cell starts where its header does
    starts = [lines[1].index(h) for h in lines[1].split()]
    for row in lines[2:-1]:
        cells = row.split()
        assert len(cells) == 9
        assert [row.index(c, s) for c, s in zip(cells, starts, strict=True)] == starts
        assert cells[0] == "cfs-operator" and cells[1] == "cfs-session-events"
        assert int(cells[5]) == int(cells[4]) - int(cells[3])
        assert cells[7].startswith("/")
    lag = sum(int(row.split()[5]) for row in lines[2:-1])
    assert lag >= 30, res.stdout  # the scenario's backlog


def test_reset_offsets_follows_the_format(make: Callable[..., Sandbox]) -> None:
    box = make("cfs-healthy")
    reset = ["kafka-consumer-groups.sh", "--bootstrap-server", BOOTSTRAP, "--group",
             "cfs-operator", "--reset-offsets", "--to-latest", "--topic", "cfs-session-events"]
    ref = sample_text("kafka-consumer-groups-reset-offsets/03-group-active")
    active = box.run(*reset, "--execute")
    assert (active.returncode, active.stdout) == (0, ref.replace("ledger-writers", "cfs-operator"))

    box.ok("kubectl", *NS, "scale", "deployment/cray-cfs-operator", "--replicas=0")
    # No new sessions, so no new events between the preview and the execution.
    box.ok("cray", "cfs", "v3", "options", "update", "--batcher-disable", "true")
    header = sample_text("kafka-consumer-groups-reset-offsets/01-execute").split("\n")[1]
    implicit = box.run(*reset)
    assert implicit.stderr.startswith("WARN: No action will be performed as the --execute "
                                      "option is missing.In a future major release")
    lines = implicit.stdout.split("\n")
    assert lines[:2] == ["", header] and lines[-1] == ""
    assert all(len(line) == len(header) and line.endswith(" ") for line in lines[2:-1])
    planned = {int(line.split()[2]): int(line.split()[3]) for line in lines[2:-1]}
    executed = box.run(*reset, "--execute")
    assert executed.stdout == implicit.stdout and executed.stderr == ""
    after = box.ok(*DESCRIBE).splitlines()[2:]
    assert {int(r.split()[2]): int(r.split()[3]) for r in after} == planned
    assert all(r.split()[5] == "0" for r in after)


def test_cray_options_and_sessions_follow_the_format(healthy: Sandbox) -> None:
    box = healthy
    out = box.ok("cray", "cfs", "v3", "options", "list", "--format", "json")
    options = json.loads(out)
    assert out == json.dumps(options, indent=2, sort_keys=True) + "\n"
    ref = sample("cray-cfs-options/01-typical")
    assert options.keys() == ref.keys()
    assert {k: type(v) for k, v in options.items()} == {k: type(v) for k, v in ref.items()}

    listed = box.json("cray", "cfs", "v3", "sessions", "list", "--format", "json")
    ref_list = sample("cray-cfs-sessions/02-list-last-page")
    assert listed.keys() == ref_list.keys() and listed["next"] is None
    assert listed["sessions"], "a healthy CFS has sessions"
    ref_session = ref_list["sessions"][1]
    for session in listed["sessions"]:
        assert session.keys() == ref_session.keys()
        assert session["name"].startswith("batcher-")
        assert set(session["status"]["session"]) <= \
            {"start_time", "status", "succeeded", "job", "completion_time"}
    one = listed["sessions"][0]["name"]
    out = box.ok("cray", "cfs", "v3", "sessions", "describe", one, "--format", "json")
    assert json.loads(out)["name"] == one
    assert out == json.dumps(json.loads(out), indent=2, sort_keys=True) + "\n"
    paged = box.json("cray", "cfs", "v3", "sessions", "list", "--limit", "1", "--format", "json")
    if len(listed["sessions"]) > 1:
        assert paged["next"] == {"after_id": paged["sessions"][0]["name"], "limit": 1}


@pytest.mark.parametrize(("argv", "code", "message"), [
    (["kubectl", "--foo", "get", "pods"], 1, "error: unknown flag: --foo\n"),
    (["kubectl", "get", "pods", "-z"], 1, "error: unknown shorthand flag: 'z' in -z\n"),
    (["kubectl", "frobnicate"], 1, 'error: unknown command "frobnicate" for "kubectl"\n'),
    (["kubectl", *NS, "scale", "deployment/cray-cfs-operator"], 1,
     'error: required flag(s) "replicas" not set\n'),
    (["kubectl", *NS, "get", "deployment", "nope", "-o", "json"], 1,
     'Error from server (NotFound): deployments.apps "nope" not found\n'),
    (["kubectl", *NS, "scale", "deployment/nope", "--replicas=1"], 1,
     'Error from server (NotFound): deployments.apps "nope" not found\n'),
    (["kubectl", *NS, "get", "pod", "nope"], 1,
     'Error from server (NotFound): pods "nope" not found\n'),
    (["kubectl", *NS, "exec", "cray-shared-kafka-kafka-0", "ls"], 1,
     "error: exec [POD] [COMMAND] is not supported anymore"),
    (["kubectl", *NS, "logs", "deployment/cray-cfs-operator", "--since=soon"], 1,
     'error: invalid argument "soon" for "--since" flag'),
    (["kafka-consumer-groups.sh", "--describe", "--group", "cfs-operator"], 1,
     'Missing required argument "[bootstrap-server]"'),
    (["kafka-consumer-groups.sh", "--bootstrap-server", BOOTSTRAP, "--describe", "--group",
      "cfs-operator", "--frob"], 1, "frob is not a recognized option"),
    (["kafka-console-consumer.sh", "--bootstrap-server", BOOTSTRAP, "--topic", "t", "--frob"], 1,
     "frob is not a recognized option"),
    (["cray", "cfs", "v3", "options", "update", "--frob", "1"], 2,
     "Usage: cray cfs v3 options update [OPTIONS]\n"
     "Try 'cray cfs v3 options update --help' for help.\n\nError: No such option: --frob\n"),
    (["cray", "cfs", "v3", "options", "update", "--batcher-max-backoff", "soon"], 2,
     "Error: Invalid value for '--batcher-max-backoff': 'soon' is not a valid integer."),
    (["cray", "cfs", "v3", "sessions", "list", "--status", "stuck", "--format", "json"], 2,
     "Error: Invalid value for '--status': 'stuck' is not one of"),
    (["cray", "cfs", "v3", "sessions", "describe", "--format", "json"], 2,
     "Error: Missing argument 'SESSION_NAME'."),
    (["cray", "cfs", "v9"], 2, "Error: No such command 'v9'."),
])
def test_invalid_usage_is_refused_like_the_real_tool(healthy: Sandbox, argv: list[str],
                                                     code: int, message: str) -> None:
    box = healthy
    before = box.dir.joinpath("state.json").read_text()
    res = box.run(*argv)
    assert res.returncode == code, res.stderr
    assert res.stdout == ""
    assert res.stderr.startswith(message) or message in res.stderr, res.stderr
    if argv[0] == "cray" or "scale" in argv:
        options = json.loads(before)["options"]
        assert load_state(box.dir)["options"] == options


def test_options_update_accepts_every_writable_option(make: Callable[..., Sandbox]) -> None:
    box = make("cfs-healthy")
    ref = sample("cray-cfs-options/02-batcher-disabled")
    argv = ["cray", "cfs", "v3", "options", "update"]
    for key, value in ref.items():
        if key != "default_playbook":  # read-only in v3
            argv += [f"--{key.replace('_', '-')}", str(value).lower()
                     if isinstance(value, bool) else str(value)]
    updated = box.json(*argv, "--format", "json")
    assert {k: v for k, v in updated.items() if k != "default_playbook"} == \
        {k: v for k, v in ref.items() if k != "default_playbook"}
    assert box.json("cray", "cfs", "v3", "options", "list", "--format", "json") == updated


# -- the world reacts -----------------------------------------------------------------------------


def test_logs_show_both_signatures_of_the_incident(make: Callable[..., Sandbox]) -> None:
    box = make("cfs-stuck-sessions", time_scale=4)
    batcher = box.ok("kubectl", *NS, "logs", "deployment/cray-cfs-batcher", "--since=1h")
    assert " - WARNING - batcher.batch - Session batcher-" in batcher
    assert "is stuck in pending and will be deleted." in batcher
    operator = box.ok("kubectl", *NS, "logs", "deployment/cray-cfs-operator", "--since=1h")
    lines = operator.splitlines()
    errors = [i for i, line in enumerate(lines) if "404 Client Error" in line]
    assert errors
    name = lines[errors[0]].rsplit("/", 1)[1]
    assert lines[errors[0] - 1].endswith(
        f" - INFO - cray.cfs.operator.events.session_events - EVENT: CREATE {name}")
    assert lines[errors[0]].endswith(
        " - ERROR - cray.cfs.operator.cfs.sessions - Unexpected response from CFS: 404 Client "
        f"Error: Not Found for url: http://cray-cfs-api/v2/sessions/{name}")
    stamp = lines[errors[0]][:23]
    assert time.strptime(stamp[:19], "%Y-%m-%d %H:%M:%S") and stamp[19] == ","
    tail = box.ok("kubectl", *NS, "logs", "deployment/cray-cfs-operator", "--tail=3")
    assert tail.splitlines() == lines[-3:] or len(tail.splitlines()) == 3


def test_purge_drains_the_queue_and_sessions_start_again(
        make: Callable[..., Sandbox], consumers: list[Consumer]) -> None:
    box = make("cfs-stuck-sessions", time_scale=3)
    box.ok("cray", "cfs", "v3", "options", "update", "--batcher-disable", "true",
           "--format", "json")
    backlog, _, _ = box.lag()
    assert backlog >= 30

    consumer = Consumer(box, CONSUME)
    consumers.append(consumer)
    # While the operator runs, the console consumer only gets the partitions it does not hold.
    assert wait_for(lambda: "console-consumer-" in box.lag()[1], 5)
    shared = box.lag()[1]
    assert "kafka-python-" in shared and "console-consumer-" in shared

    box.ok("kubectl", *NS, "scale", "deployment/cray-cfs-operator", "--replicas=0")
    remaining, _, _ = box.lag()  # the operator took some; the console consumer gets the rest
    consumer.wait_quiet(quiet=1.0, limit=15)
    values = [json.loads(line) for _, line in consumer.lines]
    assert len(values) >= max(remaining, backlog // 3)  # at least its own partition's share
    assert all(v["type"] == "CREATE" and v["data"]["name"].startswith("batcher-")
               for v in values)
    lag, table, _ = box.lag()
    assert lag == 0
    assert all(row.split()[6].startswith("console-consumer-") for row in table.splitlines()[2:])

    rc, err = consumer.stop()  # SIGTERM to kubectl reaches the consumer it became
    assert rc != 0 and err.endswith(f"Processed a total of {len(consumer.lines)} messages\n")
    _, table, err = box.lag()
    assert err == "\nConsumer group 'cfs-operator' has no active members.\n"
    assert all(row.split()[6:] == ["-", "-", "-"] for row in table.splitlines()[2:])

    box.ok("kubectl", *NS, "scale", "deployment/cray-cfs-operator", "--replicas=1")
    status = box.ok("kubectl", *NS, "rollout", "status", "deployment/cray-cfs-operator",
                    "--timeout=20s")
    assert status.endswith('deployment "cray-cfs-operator" successfully rolled out\n')
    remedied = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    box.ok("cray", "cfs", "v3", "options", "update", "--batcher-disable", "false",
           "--format", "json")

    def since_remedy(deployment: str) -> str:
        return box.ok("kubectl", *NS, "logs", f"deployment/{deployment}",
                      f"--since-time={remedied}")

    def new_sessions_completed() -> bool:
        created = {line.split()[-4] for line in since_remedy("cray-cfs-batcher").splitlines()
                   if " - Created session " in line}
        listed = box.json("cray", "cfs", "v3", "sessions", "list", "--status", "complete",
                          "--format", "json")["sessions"]
        return bool(created & {s["name"] for s in listed})

    assert wait_for(new_sessions_completed, 10)
    operator, batcher = since_remedy("cray-cfs-operator"), since_remedy("cray-cfs-batcher")
    assert "EVENT: CREATE batcher-" in operator
    assert "404 Client Error" not in operator
    assert "stuck in pending" not in batcher
    # the old symptoms stay in the history
    history = box.ok("kubectl", *NS, "logs", "deployment/cray-cfs-operator", "--since=1h")
    assert "404 Client Error" in history
    assert box.lag()[0] <= 1
    state = load_state(box.dir)
    pending = [s for s in state["cfs"]["sessions"].values() if s["status"] == "pending"]
    assert all(s["created"] > time.time() - 2 for s in pending)


def test_disabled_batcher_creates_no_sessions(make: Callable[..., Sandbox]) -> None:
    box = make("cfs-healthy", time_scale=10)
    first_end, first_names = box.log_end(), box.session_names()
    time.sleep(1.0)
    assert box.log_end() > first_end and box.session_names() - first_names  # enabled: it works
    box.ok("cray", "cfs", "v3", "options", "update", "--batcher-disable", "true",
           "--format", "json")
    end, names = box.log_end(), box.session_names()
    time.sleep(1.0)
    assert box.log_end() == end
    assert box.session_names() <= names
    states = {s["status"] for s in load_state(box.dir)["cfs"]["sessions"].values()}
    assert states <= {"complete"}


def test_backoff_reset_lets_the_operator_drain_the_lag(make: Callable[..., Sandbox]) -> None:
    box = make("cfs-backoff-changed", time_scale=4)
    options = box.json("cray", "cfs", "v3", "options", "list", "--format", "json")
    assert options["batcher_max_backoff"] == 120
    lag, _, _ = box.lag()
    time.sleep(1.0)
    assert box.lag()[0] >= lag > 5  # left alone, the operator does not catch up
    box.ok("cray", "cfs", "v3", "options", "update", "--batcher-max-backoff", "3600",
           "--format", "json")
    assert wait_for(lambda: box.lag()[0] == 0, 10, step=0.3), box.lag()[1]


def test_never_quiet_fault_keeps_the_consumer_busy(
        make: Callable[..., Sandbox], consumers: list[Consumer]) -> None:
    box = make("cfs-healthy", time_scale=2)
    set_fault(box.dir, "consumer_never_quiet", True)
    box.ok("cray", "cfs", "v3", "options", "update", "--batcher-disable", "true",
           "--format", "json")
    box.ok("kubectl", *NS, "scale", "deployment/cray-cfs-operator", "--replicas", "0")
    consumer = Consumer(box, ["kafka-console-consumer.sh", "--bootstrap-server", BOOTSTRAP,
                              "--topic", "cfs-session-events", "--group", "cfs-operator"])
    consumers.append(consumer)
    start = time.monotonic()
    time.sleep(2.0)
    arrivals = [t - start for t, _ in consumer.lines]
    assert len([t for t in arrivals if t > 0.5]) >= 3
    assert max(b - a for a, b in zip([0.0, *arrivals], [*arrivals, 2.0], strict=True)) < 1.0
    # A consumer killed outright (no chance to leave) is dropped from the group.
    rc, _ = consumer.stop(signal.SIGKILL)
    assert rc == -signal.SIGKILL
    assert box.lag()[2] == "\nConsumer group 'cfs-operator' has no active members.\n"
