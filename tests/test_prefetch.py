"""Connections the CLI opens while runbook loads: adopted once, never doubled, errors kept.

The loopback sshd's own log is the witness: it records every accepted login and
every connection refused a host key, whatever the client believes it did.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest
from helpers import audit_events, run_cli

import runbook
from benchmarks._sshd import descendants
from runbook.errors import ConnectionError_
from runbook.plugins import default_registry
from runbook.prefetch import Prefetch, first_targets


def accepted(sshd: Any) -> int:
    return len(re.findall(r"Accepted publickey for", sshd.log()))


def refused(sshd: Any) -> int:
    """Connections that ended before login (our client dropped them at the host key)."""
    return len(re.findall(r"Connection (?:closed|reset) by \S+ port \d+ \[preauth\]",
                          sshd.log()))


def ssh_fields(sshd: Any, **over: Any) -> str:
    s = sshd.settings(**over)
    return ", ".join(["connection: ssh", *(f"{k}: {v}" for k, v in s.items())])


def write(tmp_path: Path, text: str, name: str = "pb.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def group_playbook(tmp_path: Path, sshd: Any, hosts: int) -> tuple[Path, Path]:
    names = ", ".join(f"{{name: h{i:02d}}}" for i in range(hosts))  # same host, own names
    inventory = write(tmp_path, f"groups:\n  fleet: {{{ssh_fields(sshd)},\n"
                                f"    hosts: [{names}]}}\n", "inventory.yaml")
    out = tmp_path / "ran.log"
    pb = write(tmp_path, f"""runbook: 1
name: prefetched
steps:
  - id: one
    target: fleet
    action: host.shell
    with: {{command: [sh, -c, 'echo "$0" >> {out}', "{{{{ target.name }}}}"]}}
  - id: two
    target: fleet
    action: host.shell
    with: {{command: [true]}}
""")
    return pb, inventory


def test_every_host_of_the_first_step_is_connected_exactly_once(sshd: Any,
                                                                tmp_path: Path,
                                                                runbook_home: Path) -> None:
    pb, inventory = group_playbook(tmp_path, sshd, 12)
    before = accepted(sshd)
    proc = run_cli("run", str(pb), "--inventory", str(inventory), "--forks", "4", "--yes")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert accepted(sshd) - before == 12   # prefetched connections adopted, none opened twice
    assert sorted((tmp_path / "ran.log").read_text().split()) == [f"h{i:02d}"
                                                                  for i in range(12)]
    finished = [e for e in audit_events(runbook_home / "audit.jsonl")
                if e["event"] == "step.finished" and e.get("step") == "two" and e.get("host")]
    assert len(finished) == 12 and {e["status"] for e in finished} == {"ok"}


def test_an_unknown_host_key_found_early_is_reported_as_before(sshd: Any,
                                                              tmp_path: Path) -> None:
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    marker = tmp_path / "ran"
    pb = write(tmp_path, f"""runbook: 1
name: unknown-key
targets:
  box: {{{ssh_fields(sshd, known_hosts=empty)}}}
steps:
  - id: change
    target: box
    action: host.shell
    with: {{command: [touch, {marker}]}}
""")
    before = refused(sshd)
    proc = run_cli("run", str(pb), "--yes")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "unknown host key" in proc.stdout + proc.stderr
    assert sshd.host_key_fingerprint in proc.stdout + proc.stderr
    assert not marker.exists()
    assert empty.read_text() == ""          # nothing recorded
    # one attempt: the early one's error was handed over, not repeated (sshd logs a
    # dropped connection a moment after the client is gone: let a second one show up)
    assert wait_for(lambda: refused(sshd) > before)
    time.sleep(0.5)
    assert refused(sshd) - before == 1


@pytest.mark.parametrize("extra", [[], ["--offline"]])
def test_a_plan_opens_no_connection_early(sshd: Any, tmp_path: Path, extra: list[str]) -> None:
    pb, inventory = group_playbook(tmp_path, sshd, 3)   # only mutating steps: no probes
    before = accepted(sshd)
    proc = run_cli("plan", str(pb), "--inventory", str(inventory), *extra)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert accepted(sshd) == before


def test_a_broken_group_is_still_the_runs_to_report(tmp_path: Path,
                                                    runbook_home: Path) -> None:
    pb = write(tmp_path, """runbook: 1
name: loop
targets:
  a: {connection: ssh, host: 127.0.0.1, hosts: [b]}
  b: {connection: ssh, host: 127.0.0.1, hosts: [a]}
steps:
  - id: first
    target: a
    action: host.shell
    with: {command: [true]}
""")
    proc = run_cli("run", str(pb), "--yes")
    assert proc.returncode == 1, proc.stdout + proc.stderr      # the step fails, audited
    assert "contains itself" in proc.stdout + proc.stderr
    events = [e["event"] for e in audit_events(runbook_home / "audit.jsonl")]
    assert events[0] == "run.started" and events[-1] == "run.finished"


def _pb(text: str) -> runbook.Playbook:
    return runbook.loads("runbook: 1\nname: pick\n" + text)


def one_box(sshd: Any, **over: Any) -> runbook.Playbook:
    """One step on one SSH target, ``box``, on the test sshd."""
    return _pb(f"""targets:
  box: {{{ssh_fields(sshd, **over)}}}
steps:
  - id: first
    target: box
    action: host.shell
    with: {{command: [true]}}
""")


def test_first_targets_are_the_preconditions_and_the_first_steps_hosts(sshd: Any) -> None:
    fields = ssh_fields(sshd)
    pb = _pb(f"""targets:
  pre: {{{fields}}}
  later: {{{fields}}}
  fleet: {{{fields}, hosts: [a, b]}}
preconditions:
  - probe: host.query
    target: pre
    with: {{command: [true]}}
    that: result.rc == 0
steps:
  - id: first
    target: fleet
    action: host.shell
    with: {{command: [true]}}
  - id: second
    target: later
    action: host.shell
    with: {{command: [true]}}
""")
    picked = first_targets(pb, pb.effective_targets(), default_registry())
    assert list(picked) == ["pre", "a", "b"]
    assert picked["b"].host == "b" and picked["b"].port == sshd.port


@pytest.mark.parametrize("extra", [
    "accept_new_host_key: true",          # writes known_hosts: left to the run itself
    "user: '{{ who }}'",                  # templated: only the engine can render it
])
def test_targets_the_engine_must_build_itself_are_not_prefetched(sshd: Any,
                                                                 extra: str) -> None:
    s = sshd.settings()
    pb = _pb(f"""params:
  who: {{type: string, default: {s['user']}}}
targets:
  box: {{connection: ssh, host: {s['host']}, port: {s['port']}, key_file: {s['key_file']},
         known_hosts: {s['known_hosts']}, {extra}}}
steps:
  - id: first
    target: box
    action: host.shell
    with: {{command: [true]}}
""")
    prefetch = Prefetch.start(pb, pb.effective_targets(), default_registry(), 4)
    try:
        assert len(prefetch) == 0
    finally:
        prefetch.close()


def connections(sshd: Any) -> int:
    """Live connections: sshd keeps one child process per client connection."""
    return len([p for p in descendants(sshd.pid) if _parent(p) == sshd.pid])


def _parent(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except OSError:
        return -1


def wait_for(predicate: Any, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return bool(predicate())


def test_only_identical_settings_are_handed_over_and_the_rest_is_closed(sshd: Any) -> None:
    pb = one_box(sshd)
    targets = pb.effective_targets()
    idle = connections(sshd)
    before = accepted(sshd)
    prefetch = Prefetch.start(pb, targets, default_registry(), 4)
    settings = targets["box"].settings()
    assert prefetch.take("box", {**settings, "port": 1}) is None   # not what was opened
    assert wait_for(lambda: accepted(sshd) == before + 1)           # opened in the background
    assert connections(sshd) == idle + 1
    prefetch.close()
    assert prefetch.take("box", settings) is None                   # closed, gone
    assert wait_for(lambda: connections(sshd) == idle)              # and the server saw it go


def test_a_failed_early_attempt_is_reported_once_then_connects_afresh(sshd: Any,
                                                                     tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    known.write_text("")
    pb = one_box(sshd, known_hosts=known)
    targets = pb.effective_targets()
    prefetch = Prefetch.start(pb, targets, default_registry(), 1)
    executor = prefetch.take("box", targets["box"].settings())
    prefetch.close()
    assert executor is not None
    known.write_text(f"{sshd.known_hosts_name} {sshd.host_key_line}\n")  # now it is known
    before = refused(sshd)
    with pytest.raises(ConnectionError_, match="unknown host key"):
        executor.connect()     # the early failure, reported without a second attempt
    assert refused(sshd) == before
    executor.connect()         # a later attempt (a retry) connects afresh
    try:
        assert executor.run(["true"]).rc == 0
    finally:
        executor.close()
