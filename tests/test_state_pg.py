"""Shared state on a real PostgreSQL: two "machines" (two RUNBOOK_HOMEs, one
RUNBOOK_STATE) behave as one team.

The runners are real ``python -m runbook`` processes; the server is the session's
throwaway cluster (tests/pgcluster.py), stopped and started by the tests that need
it to go away. Each test has a database of its own.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from helpers import start_cli, wait_for

from benchmarks._pgcluster import Cluster, PGError

PASSWORD = "pw-s3cret"

STEPS = """
  - id: one
    action: host.shell
    with: {{command: [touch, {tmp}/a]}}
    rollback: {{action: host.shell, with: {{command: [rm, -f, {tmp}/a]}}}}
  - id: two
    action: host.shell
    with: {{command: [sh, -c, 'touch {tmp}/b; touch {tmp}/in-two; sleep {nap}']}}
    timeout: 60s
    checks:
      - probe: host.query
        with: {{command: [test, -f, {tmp}/b]}}
        that: result.rc == 0
  - id: three
    action: host.shell
    with: {{command: [touch, {tmp}/c]}}
"""


def playbook(tmp: Path, nap: float = 30, head: str = "") -> Path:
    path = tmp / "pb.yaml"
    path.write_text("runbook: 1\nname: team-pb\n" + head + "steps:\n"
                    + STEPS.format(tmp=tmp, nap=nap))
    return path


def machine(tmp: Path, name: str, url: str, **extra: str) -> dict[str, str]:
    """The environment of one "machine": its own RUNBOOK_HOME, the shared state."""
    env = dict(os.environ, RUNBOOK_HOME=str(tmp / f"home-{name}"), RUNBOOK_STATE=url,
               RUNBOOK_ACTOR=name, **extra)
    return env


def cli(env: dict[str, str], *args: str | Path, timeout: float = 90,
        ) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([sys.executable, "-m", "runbook", *map(str, args)], env=env,
                          capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL, check=False)
    assert PASSWORD not in proc.stdout + proc.stderr, "the state password was printed"
    return proc


def start(env: dict[str, str], *args: str | Path) -> subprocess.Popen[str]:
    return start_cli(*args, env=env)



def runs(env: dict[str, str]) -> list[dict[str, Any]]:
    proc = cli(env, "runs", "--json")
    assert proc.returncode == 0, proc.stderr
    out: list[dict[str, Any]] = json.loads(proc.stdout)["runs"]
    return out


def events(env: dict[str, str], run_id: str) -> list[dict[str, Any]]:
    proc = cli(env, "audit", "show", run_id, "--json")
    assert proc.returncode == 0, proc.stderr
    events: list[dict[str, Any]] = json.loads(proc.stdout)["events"]
    return events


def detail(env: dict[str, str], run_id: str) -> dict[str, Any]:
    proc = cli(env, "runs", "show", run_id, "--json")
    assert proc.returncode == 0, proc.stderr
    out: dict[str, Any] = json.loads(proc.stdout)
    return out


def assert_agree(env: dict[str, str], run_id: str) -> dict[str, Any]:
    """The shared journal and the shared audit trail tell the same story, and the
    audit chain is intact with no gap in seq."""
    run, trail = detail(env, run_id), events(env, run_id)
    finished = [e for e in trail if e["event"] == "run.finished"]
    assert finished and run["status"] == finished[-1]["status"]
    assert run["exit_code"] == finished[-1]["rc"]
    ok = {e["step"] for e in trail if e["event"] == "step.finished" and e["status"] == "ok"}
    assert ok <= {s["step"] for s in run["steps"] if s["state"] == "done"}
    verified = cli(env, "audit", "verify")
    assert verified.returncode == 0, verified.stderr
    assert "chain intact" in verified.stdout
    return run


def pg_sql(cluster: Cluster, url: str, sql: str) -> str:
    return cluster.psql(sql, db=url.rsplit("/", 1)[1], user="runbook")


def test_a_run_keeps_journal_and_audit_in_the_database(tmp_path: Path, pg_url: str,
                                                       pg_cluster: Cluster) -> None:
    env = machine(tmp_path, "alice", pg_url)
    done = cli(env, "run", playbook(tmp_path, nap=0), "--yes", "--reason", "TICKET-1")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "--state postgresql://runbook:***@127.0.0.1" in done.stdout
    (run,) = runs(env)
    assert run["status"] == "succeeded" and run["host"] and run["resumable"] is False
    assert_agree(env, run["run_id"])
    names = [e["event"] for e in events(env, run["run_id"])]
    assert names[0] == "run.started" and names[-1] == "run.finished"
    assert names.count("step.started") == 3
    # nothing local: the machine's own journal and audit log were never written
    assert not (tmp_path / "home-alice" / "audit.jsonl").exists()
    assert not (tmp_path / "home-alice" / "journal.db").exists()
    # the password is in no row of any table
    dump = pg_sql(pg_cluster, pg_url, "SELECT string_agg(line, '') FROM audit") + pg_sql(
        pg_cluster, pg_url, "SELECT string_agg(r::text, '') FROM runs r")
    assert "TICKET-1" in dump and PASSWORD not in dump
    # another machine sees the same run and trail
    other = machine(tmp_path, "bob", pg_url)
    assert [r["run_id"] for r in runs(other)] == [run["run_id"]]
    text = cli(other, "runs")
    assert "HOST" in text.stdout and run["host"] in text.stdout


def test_an_explicit_audit_log_mirrors_the_database_trail(tmp_path: Path,
                                                         pg_url: str) -> None:
    env = machine(tmp_path, "alice", pg_url)
    mirror = tmp_path / "local-audit.jsonl"
    done = cli(env, "run", playbook(tmp_path, nap=0), "--yes", "--audit-log", mirror)
    assert done.returncode == 0, done.stdout + done.stderr
    (run,) = runs(env)
    local = [json.loads(x) for x in mirror.read_text().splitlines()]
    shared = events(env, run["run_id"])
    assert [(e["event"], e["step"], e["status"]) for e in local] == \
        [(e["event"], e["step"], e["status"]) for e in shared]
    assert cli(env, "audit", "verify", mirror).returncode == 0  # its own intact chain
    assert cli(env, "audit", "verify").returncode == 0


def test_an_unreachable_database_at_start_is_exit_2_and_nothing_runs(tmp_path: Path,
                                                                     pg_cluster: Cluster,
                                                                     ) -> None:
    url = pg_cluster.url(password=PASSWORD).replace(str(pg_cluster.port), "1")
    env = machine(tmp_path, "alice", url)
    proc = cli(env, "run", playbook(tmp_path, nap=0), "--yes")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "cannot reach the state database postgresql://runbook:***@127.0.0.1:1/" in \
        proc.stderr
    assert not (tmp_path / "a").exists()
    bad = cli(env, "run", playbook(tmp_path, nap=0), "--yes", "--state", "etcd://x/y")
    assert bad.returncode == 2 and "no state backend for 'etcd://x/y'" in bad.stderr


def test_two_machines_race_for_one_lock_and_exactly_one_waits(tmp_path: Path,
                                                              pg_url: str) -> None:
    pb = playbook(tmp_path, nap=3)
    envs = [machine(tmp_path, name, pg_url) for name in ("alice", "bob")]
    procs = [start(env, "run", pb, "--yes") for env in envs]
    outs = [(p.wait(timeout=60), *p.communicate()) for p in procs]
    codes = sorted(code for code, _, _ in outs)
    assert codes == [0, 5], outs
    loser = next(err for code, _, err in outs if code == 5)
    (winner,) = [r for r in runs(envs[0]) if r["status"] == "succeeded"]
    assert f"locked by run {winner['run_id']}" in loser
    assert f"{winner['actor']}@{winner['host']} [" in loser
    assert f"machine {winner['host']}" in loser


def test_killed_on_one_machine_resumed_on_the_other(tmp_path: Path, pg_url: str) -> None:
    pb = playbook(tmp_path)
    alice = machine(tmp_path, "alice", pg_url, RUNBOOK_HEARTBEAT="0.5")
    bob = machine(tmp_path, "bob", pg_url, RUNBOOK_HEARTBEAT="0.5")
    proc = start(alice, "run", pb, "--yes")
    wait_for(tmp_path / "in-two")
    (run,) = runs(bob)
    assert run["status"] == "running" and run["resumable"] is False
    refused = cli(bob, "resume", run["run_id"])
    assert refused.returncode == 2 and "is still running" in refused.stderr
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    subprocess.run(["pkill", "-f", f"touch {tmp_path}/in-two"], check=False)
    patient = machine(tmp_path, "bob", pg_url, RUNBOOK_HEARTBEAT="3")  # stale after 9s
    deadline = time.monotonic() + 5
    early = cli(patient, "resume", run["run_id"])
    while "is still running" in early.stderr:  # until the server drops the dead session
        assert time.monotonic() < deadline, "the dead runner's lock never freed itself"
        early = cli(patient, "resume", run["run_id"])
    assert early.returncode == 2, early.stdout + early.stderr
    assert "holds no lock, but its runner on" in early.stderr
    assert "counts as gone after 3 heartbeats of silence (3 x 3s), at " in early.stderr
    assert runs(patient)[0]["resumable"] is False  # lock free, heartbeat fresh
    deadline = time.monotonic() + 10
    while not runs(bob)[0]["resumable"]:  # lock free and 3 x 0.5s of silence
        assert time.monotonic() < deadline, "the dead runner never counted as gone"
        time.sleep(0.1)
    assert "(resumable)" in cli(bob, "runs").stdout

    resumed = cli(bob, "resume", run["run_id"])
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert all((tmp_path / f).exists() for f in "abc")
    final = assert_agree(bob, run["run_id"])
    assert final["status"] == "succeeded"
    assert [s["state"] for s in final["steps"]] == ["done", "done", "done"]
    trail = events(alice, run["run_id"])  # one trail, whichever machine reads it
    assert trail == events(bob, run["run_id"])
    assert [e["step"] for e in trail if e["event"] == "step.started"] == ["one", "two",
                                                                          "three"]
    assert [e["data"]["runner"] for e in trail if e["event"] == "run.started"]


@pytest.mark.parametrize(("tamper", "reason"), [
    ("UPDATE audit SET line = replace(line, '\"status\":\"ok\"', '\"status\":\"failed\"') "
     "WHERE seq = 3", "hash does not match"),
    ("DELETE FROM audit WHERE seq = 3", "1 event(s) missing"),
    ("UPDATE audit a SET line = b.line FROM audit b WHERE (a.seq, b.seq) IN ((3, 4), (4, 3))",
     "row seq 3 holds the event of seq 4 (rows reordered"),
])
def test_audit_verify_names_each_kind_of_tampering(tmp_path: Path, pg_url: str,
                                                   pg_cluster: Cluster, tamper: str,
                                                   reason: str) -> None:
    env = machine(tmp_path, "alice", pg_url)
    assert cli(env, "run", playbook(tmp_path, nap=0), "--yes").returncode == 0
    assert cli(env, "audit", "verify").returncode == 0
    with pytest.raises(PGError, match="append-only"):  # a guard against mistakes
        pg_sql(pg_cluster, pg_url, "DELETE FROM audit WHERE seq = 1")
    pg_sql(pg_cluster, pg_url, "ALTER TABLE audit DISABLE TRIGGER audit_append_only; "
                               + tamper)
    broken = cli(env, "audit", "verify")
    assert broken.returncode == 1, broken.stdout + broken.stderr
    assert "audit row 3: chain broken at seq" in broken.stderr
    assert reason in broken.stderr


def test_the_server_restarting_mid_run_is_survived(tmp_path: Path, pg_url: str,
                                                   pg_cluster: Cluster) -> None:
    env = machine(tmp_path, "alice", pg_url, RUNBOOK_HEARTBEAT="0.2")
    proc = start(env, "run", playbook(tmp_path, nap=2), "--yes")
    wait_for(tmp_path / "in-two")
    pg_cluster.ctl("restart")
    out, err = proc.communicate(timeout=90)
    assert proc.returncode == 0, out + err
    assert (tmp_path / "c").exists()
    (run,) = runs(env)
    final = assert_agree(env, run["run_id"])
    assert final["status"] == "succeeded"
    seqs = [e["seq"] for e in events(env, run["run_id"])]
    assert seqs == list(range(1, len(seqs) + 1))


def test_a_database_lost_mid_run_pauses_the_run_before_the_next_command(
        tmp_path: Path, pg_url: str, pg_cluster: Cluster) -> None:
    env = machine(tmp_path, "alice", pg_url, RUNBOOK_STATE_RETRY="2", RUNBOOK_HEARTBEAT="0.2")
    proc = start(env, "run", playbook(tmp_path, nap=2), "--yes")
    wait_for(tmp_path / "in-two")
    pg_cluster.ctl("stop")
    try:
        out, err = proc.communicate(timeout=90)
    finally:
        pg_cluster.ctl("start")
    assert proc.returncode == 3, out + err
    assert "is unreachable" in out + err and "tried for 2s" in out + err
    assert not (tmp_path / "c").exists()  # nothing ran that could not be journaled
    assert (tmp_path / "a").exists()      # and nothing was rolled back unjournaled
    time.sleep(0.7)  # three heartbeats of silence: the runner counts as gone
    (run,) = runs(env)
    assert run["status"] == "running" and run["resumable"] is True
    resumed = cli(machine(tmp_path, "bob", pg_url, RUNBOOK_HEARTBEAT="0.2"), "resume",
                  run["run_id"])
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert (tmp_path / "c").exists()
    assert assert_agree(env, run["run_id"])["status"] == "succeeded"


def test_concurrency_2_lets_two_runs_in_and_stops_the_third(tmp_path: Path,
                                                            pg_url: str) -> None:
    pb = tmp_path / "reboot.yaml"
    pb.write_text(f"""runbook: 1
name: reboot
concurrency: 2
steps:
  - id: reboot
    action: host.shell
    with: {{command: [sh, -c, 'touch {tmp_path}/up.$$; sleep 30']}}
    timeout: 60s
""")
    envs = [machine(tmp_path, n, pg_url) for n in ("m1", "m2", "m3")]
    first = [start(env, "run", pb, "--yes") for env in envs[:2]]
    try:
        deadline = time.monotonic() + 30
        while len(list(tmp_path.glob("up.*"))) < 2:
            assert time.monotonic() < deadline, [p.poll() is None or p.communicate()
                                                 for p in first]
            time.sleep(0.05)
        third = cli(envs[2], "run", pb, "--yes")
        assert third.returncode == 5, third.stdout + third.stderr
        assert "reboot is locked by run" in third.stderr
        slots = {r["lock_key"] for r in (detail(envs[2], x["run_id"])
                                         for x in runs(envs[2])) if r["status"] == "running"}
        assert slots == {"reboot|local", "reboot|local#2"}
    finally:
        for p in first:
            p.send_signal(signal.SIGKILL)
            p.wait(timeout=10)
        subprocess.run(["pkill", "-f", f"touch {tmp_path}/up"], check=False)


def test_migrations_from_the_first_schema_version(tmp_path: Path, pg_url: str,
                                                  pg_cluster: Cluster) -> None:
    env = machine(tmp_path, "alice", pg_url)
    assert cli(env, "state", "migrate", "--to", "1").returncode == 0
    pg_sql(pg_cluster, pg_url,
           "INSERT INTO runs (run_id, playbook, playbook_path, playbook_sha256, params, "
           "secret_params, targets, actor, host, pid, started, status, exit_code) VALUES "
           "('20260101-000000-old', 'old-pb', '/x.yaml', 'abc', '{}', '[]', '[]', 'carol', "
           "'bastion-1', 1, '2026-01-01T00:00:00.000Z', 'succeeded', 0)")
    status = cli(env, "state", "status")
    assert "schema version 1 of 2 (run `runbook state migrate`)" in status.stdout
    refused = cli(env, "run", playbook(tmp_path, nap=0), "--yes")
    assert refused.returncode == 2 and "runbook state migrate" in refused.stderr
    assert not (tmp_path / "a").exists()
    migrated = cli(env, "state", "migrate")
    assert migrated.returncode == 0 and "applied 2" in migrated.stdout, migrated.stderr
    assert "nothing to do" in cli(env, "state", "migrate").stdout
    (old,) = runs(env)
    assert old["run_id"] == "20260101-000000-old" and old["host"] == "bastion-1"
    assert cli(env, "run", playbook(tmp_path, nap=0), "--yes").returncode == 0
    version = pg_sql(pg_cluster, pg_url, "SELECT string_agg(version::text, ',' ORDER BY "
                                         "version) FROM schema_version")
    assert version.strip() == "1,2"


def test_force_unlock_ends_the_live_holder_and_is_audited(tmp_path: Path,
                                                          pg_url: str) -> None:
    pb = playbook(tmp_path)
    alice = machine(tmp_path, "alice", pg_url, RUNBOOK_HEARTBEAT="0.5")
    bob = machine(tmp_path, "bob", pg_url, RUNBOOK_HEARTBEAT="0.5")
    proc = start(alice, "run", pb, "--yes")
    try:
        wait_for(tmp_path / "in-two")
        (held,) = runs(bob)
        (tmp_path / "pb2.yaml").write_text(pb.read_text().replace("sleep 30", "true"))
        taken = cli(bob, "run", tmp_path / "pb2.yaml", "--yes", "--force-unlock")
        assert taken.returncode == 0, taken.stdout + taken.stderr
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        subprocess.run(["pkill", "-f", f"touch {tmp_path}/in-two"], check=False)
    mine = next(r for r in runs(bob) if r["run_id"] != held["run_id"])
    gates = [e for e in events(bob, mine["run_id"]) if e["event"] == "gate.answered"]
    assert gates and gates[0]["step"] == "force-unlock"
    assert gates[0]["data"]["holder"]["run_id"] == held["run_id"]


def test_concurrent_writers_share_one_chain_without_gaps(pg_url: str) -> None:
    """Four runners' audit sinks (four connections) append at once: one chain, seq 1..N."""
    import threading

    from runbook.state.pg import PgState

    backends = [PgState(pg_url) for _ in range(4)]

    def write(i: int) -> None:
        sink = backends[i].audit_log(None)
        for n in range(25):
            sink.append({"event": "step.started", "run_id": f"run-{i}", "step": f"s{n}"},
                        durable=n % 3 == 0)
        sink.sync()
    threads = [threading.Thread(target=write, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    report = backends[0].audit_verify(None)
    assert report.ok and report.events == 100, report
    for i in range(4):  # each runner's events kept their own order
        steps = [e["step"] for e in backends[0].audit_events(None, f"run-{i}")]
        assert steps == [f"s{n}" for n in range(25)]
    for b in backends:
        b.close()


def test_lock_ids_hash_the_whole_key_and_urls_never_show_a_password() -> None:
    from runbook.state import redact_url
    from runbook.state.pg_journal import lock_id

    keys = [f"cfs-purge|{'x' * 200}{n}" for n in range(1000)]
    ids = {lock_id(k) for k in keys}
    assert len(ids) == 1000  # a shared prefix does not collide
    assert all(-(2 ** 63) <= i < 2 ** 63 for i in ids)
    assert lock_id("a|b") == lock_id("a|b")
    assert redact_url("postgresql://ops:hunter2@db:5432/runbook?sslmode=require") == \
        "postgresql://ops:***@db:5432/runbook?sslmode=require"
    assert "hunter2" not in redact_url("postgresql://db/runbook?user=ops&password=hunter2")


def test_a_steps_running_row_and_its_audit_event_commit_in_one_transaction(
        tmp_path: Path, pg_url: str, pg_cluster: Cluster) -> None:
    """Before a mutating command the journal's "running" and the audit's step.started
    are durable together: one PostgreSQL transaction (same xmin), not two commits."""
    alice = machine(tmp_path, "alice", pg_url)
    proc = start(alice, "run", playbook(tmp_path), "--yes")
    try:
        wait_for(tmp_path / "in-two")
        journal_xid = pg_sql(pg_cluster, pg_url,
                             "SELECT xmin FROM steps WHERE step_id='two'").strip()
        audit_xid = pg_sql(pg_cluster, pg_url, "SELECT xmin FROM audit WHERE event="
                           "'step.started' AND line LIKE '%\"step\":\"two\"%'").strip()
        state = pg_sql(pg_cluster, pg_url, "SELECT state FROM steps WHERE step_id='two'")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        subprocess.run(["pkill", "-f", f"touch {tmp_path}/in-two"], check=False)
    assert state.strip() == "running"
    assert journal_xid and journal_xid == audit_xid
