"""Inventory files and ``--target`` URIs: expansion, every error located, and real runs.

The run tests go through ``python -m runbook run --inventory`` to a real loopback
sshd (tests/sshd.py) and assert on what the remote command left on disk (the
server runs on this machine) and on the audit log.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import pytest
import yaml
from helpers import run_cli, sh

from runbook.errors import PlaybookError, ValidationErrors
from runbook.inventory import load_inventory, loads_inventory, parse_target_uri
from runbook.models import Target

if TYPE_CHECKING:
    from tests.sshd import SSHServer


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


def problems(text: str, tmp_path: Path) -> list[tuple[int | None, str, str]]:
    """(line, field, message) of every problem of an inventory, in file order."""
    path = write(tmp_path / "inv.yaml", text)
    with pytest.raises(ValidationErrors) as caught:
        load_inventory(path)
    for p in caught.value.problems:
        assert p.file == str(path)
    return [(p.line, p.field, p.message) for p in caught.value.problems]


def shown(target: Target) -> dict[str, Any]:
    return target.model_dump(exclude_none=True, exclude_defaults=True)


# --- expansion ---------------------------------------------------------------------------------

def test_targets_groups_and_members(tmp_path: Path) -> None:
    inv = load_inventory(write(tmp_path / "inv.yaml", """
        targets:
          ncn: {connection: local, vars: {site: lab}}
          bastion: ssh://ops@bastion.example:2200?key_file=/keys/ops
          kafka: {connection: kubectl-exec, namespace: services, pod: kafka-0, via: ncn}
        groups:
          cassandra:
            connection: ssh
            user: ops
            port: 2222
            jump: bastion
            vars: {dc: east, rack: r1}
            hosts:
              - db1.example
              - {name: db2, host: 10.0.0.2, port: 22, vars: {rack: r2}}
              - bastion
          everything:
            hosts: [cassandra, ncn, db1.example]
        """))
    assert list(inv) == ["ncn", "bastion", "kafka", "db1.example", "db2", "cassandra",
                         "everything"]
    # A host name becomes a target of its own with the group's settings.
    assert shown(inv["db1.example"]) == {
        "connection": "ssh", "host": "db1.example", "port": 2222, "user": "ops",
        "jump": "bastion", "vars": {"dc": "east", "rack": "r1"}}
    # A mapping's own settings and vars win over the group's.
    assert shown(inv["db2"]) == {
        "connection": "ssh", "host": "10.0.0.2", "port": 22, "user": "ops", "jump": "bastion",
        "vars": {"dc": "east", "rack": "r2"}}
    # A target's name is used as it is: nothing inherited.
    assert shown(inv["bastion"]) == {"connection": "ssh", "host": "bastion.example",
                                     "port": 2200, "user": "ops", "key_file": "/keys/ops"}
    # Groups are targets whose hosts are member target names; nested groups flatten, once each.
    assert inv["cassandra"].hosts == ["db1.example", "db2", "bastion"]
    assert inv["cassandra"].connection == "ssh"
    assert inv["everything"].hosts == ["db1.example", "db2", "bastion", "ncn"]
    assert inv["kafka"].via == "ncn"
    assert all(inv[name].hosts is None for name in ("ncn", "bastion", "kafka", "db2"))


def test_member_without_host_takes_the_groups_then_its_name() -> None:
    inv = loads_inventory(textwrap.dedent("""
        groups:
          fleet: {connection: ssh, host: 127.0.0.1, port: 2222, hosts: [{name: a}, {name: b}]}
          named: {connection: ssh, hosts: [{name: c, user: root}]}
          pods:
            connection: kubectl-exec
            namespace: services
            hosts: [{name: k0, pod: kafka-0}, {name: k1, pod: kafka-1}]
        """))
    assert (inv["a"].host, inv["b"].host, inv["a"].port) == ("127.0.0.1", "127.0.0.1", 2222)
    assert (inv["c"].host, inv["c"].user) == ("c", "root")
    assert shown(inv["k1"]) == {"connection": "kubectl-exec", "namespace": "services",
                                "pod": "kafka-1"}
    assert inv["pods"].hosts == ["k0", "k1"]


def test_playbook_style_group_under_targets_and_shared_hosts() -> None:
    inv = loads_inventory(textwrap.dedent("""
        targets:
          cassandra: {connection: ssh, user: ops, hosts: [db1, db2]}
        groups:
          east: {connection: ssh, user: ops, hosts: [db1]}
          all: {hosts: [db2, east]}
        """))
    assert inv["cassandra"].hosts == ["db1", "db2"]
    assert inv["all"].hosts == ["db2", "db1"]  # a local group may name targets others made
    assert shown(inv["db1"]) == {"connection": "ssh", "host": "db1", "user": "ops"}


def test_empty_sections_and_uri_values() -> None:
    assert loads_inventory("targets: {}\n") == {}
    inv = loads_inventory("targets:\n  ncn: local\n  k: kubectl-exec://ns/pod-0?container=c\n")
    assert shown(inv["ncn"]) == {}
    assert shown(inv["k"]) == {"connection": "kubectl-exec", "namespace": "ns", "pod": "pod-0",
                               "container": "c"}


# --- every problem, located --------------------------------------------------------------------

def test_every_problem_with_file_line_and_field(tmp_path: Path) -> None:
    found = problems("""
        targets:
          web: {connection: ssh, host: w1, prot: 22}
          db: {connection: ssh, host: db, port: 99999}
          nohost: {connection: ssh, user: ops}
          uri: ssh://ops@db1:notaport
          k: {connection: kubectl-exec, pod: p, via: ncm}
          ftp: {connection: ftp}
        groups:
          ssh-group:
            connection: ssh
            usr: x
            hosts: [a]
          g: {connection: ssh, hosts: [{name: m, port: abc}, {name: n, port: 0}]}
          local-group: {hosts: [wbe]}
          empty: {hosts: []}
        hostz: {}
        """, tmp_path)
    lines = [(line, field) for line, field, _ in found]
    assert lines == [
        (2, "targets.web.prot"), (3, "targets.db.port"), (4, "targets.nohost.host"),
        (5, "targets.uri"), (6, "targets.k.via"), (7, "targets.ftp.connection"),
        (11, "groups.ssh-group.usr"), (13, "groups.g.hosts[0].port"),
        (13, "groups.g.hosts[1].port"), (14, "groups.local-group.hosts[0]"),
        (15, "groups.empty.hosts"), (16, "hostz")]
    text = "\n".join(message for _, _, message in found)
    for fragment in ("unknown key 'prot' (did you mean 'port'?)",
                     "port must be a number from 1 to 65535 (got 99999)",
                     "ssh target 'nohost' needs host:",
                     "target URI does not parse: port 'notaport' is not a number",
                     "via names 'ncm', which is not a target of this inventory",
                     "unknown connection 'ftp'; expected one of: ",
                     "unknown key 'usr' (did you mean 'user'?)",
                     "valid integer", "(got 0)",
                     "group member 'wbe' is not a defined target or group (did you mean 'web'?)",
                     "hosts: is a non-empty list",
                     "unknown key 'hostz'; expected one of: targets, groups"):
        assert fragment in text, (fragment, text)


def test_a_setting_of_another_connection_is_refused_where_it_is_written(
        tmp_path: Path) -> None:
    found = problems("""
        targets:
          kafka: {connection: kubectl-exec, pod: kafka-0, host: k1}
          forgot: {host: db1, user: ops}
        groups:
          fleet:
            connection: ssh
            user: ops
            hosts: [a, {name: b, container: c}]
        """, tmp_path)
    assert [(line, field) for line, field, _ in found] == [
        (2, "targets.kafka.host"), (3, "targets.forgot.host"), (3, "targets.forgot.user"),
        (8, "groups.fleet.hosts[1].container")]
    text = "\n".join(message for _, _, message in found)
    assert ("'host' is not a setting of connection: kubectl-exec (it belongs to "
            "connection: ssh)") in text
    assert "'container' is not a setting of connection: ssh (it belongs to " in text


def test_groups_cannot_contain_themselves(tmp_path: Path) -> None:
    found = problems("""
        groups:
          a: {hosts: [b]}
          b: {hosts: [c, a]}
          c: {hosts: [c]}
        """, tmp_path)
    assert [(line, field) for line, field, _ in found] == [
        (3, "groups.b.hosts[1]"), (4, "groups.c.hosts[0]")]
    assert "group 'a' contains itself: a -> b -> a" in found[0][2]
    assert "group 'c' contains itself: c -> c" in found[1][2]


def test_member_conflicts_and_jump_references(tmp_path: Path) -> None:
    found = problems("""
        targets:
          bastion: {connection: ssh, host: b, jump: hop}
          hop: {connection: ssh, host: h, jump: bastion}
        groups:
          east: {connection: ssh, user: ops, hosts: [db1]}
          west: {connection: ssh, user: root, hosts: [db1, {name: bastion, host: x}]}
          both: {hosts: [east]}
          via-group: {connection: ssh, jump: both, hosts: [db9]}
          dup:
            hosts: [a]
        targets2: {}
        """, tmp_path)
    by_field = {field: message for _, field, message in found}
    assert "jump of 'bastion' leads back to 'bastion'" in by_field["targets.bastion.jump"]
    assert "made twice with different settings (first by groups.east.hosts[0])" in \
        by_field["groups.west.hosts[0]"]
    assert "'bastion' is already defined as a target" in by_field["groups.west.hosts[1].name"]
    assert "jump names group 'both'; it must name one target" in \
        by_field["groups.via-group.jump"]
    assert "group member 'a' is not a defined target or group" in by_field["groups.dup.hosts[0]"]
    assert "did you mean 'targets'?" in by_field["targets2"]


def test_not_a_mapping_and_yaml_errors(tmp_path: Path) -> None:
    with pytest.raises(PlaybookError, match=r"inv\.yaml:1: an inventory is a mapping"):
        load_inventory(write(tmp_path / "inv.yaml", "- a\n- b\n"))
    with pytest.raises(PlaybookError, match=r"inv\.yaml:3: YAML syntax error"):
        load_inventory(write(tmp_path / "inv.yaml", "targets:\n  a: {connection: [\n"))
    with pytest.raises(PlaybookError, match=r"cannot read inventory"):
        load_inventory(tmp_path / "missing.yaml")


# --- --target URIs -----------------------------------------------------------------------------

@pytest.mark.parametrize(("spec", "name", "fields"), [
    ("db=ssh://ops@db1:2222", "db",
     {"connection": "ssh", "host": "db1", "port": 2222, "user": "ops"}),
    ("db=ssh://db1", "db", {"connection": "ssh", "host": "db1"}),
    ("v6=ssh://ops@[::1]:22", "v6", {"connection": "ssh", "host": "::1", "port": 22,
                                     "user": "ops"}),
    ("db=ssh://db1?known_hosts=/k%20h&accept_new_host_key=true&connect_timeout=5s", "db",
     {"connection": "ssh", "host": "db1", "known_hosts": "/k h", "accept_new_host_key": True,
      "connect_timeout": 5.0}),
    ("ncn=local", "ncn", {}),
    ("kafka=kubectl-exec://services/kafka-0?container=kafka&context=c", "kafka",
     {"connection": "kubectl-exec", "namespace": "services", "pod": "kafka-0",
      "container": "kafka", "context": "c"}),
    ("k=kubectl-exec://ns?selector=app=kafka", "k",
     {"connection": "kubectl-exec", "namespace": "ns", "selector": "app=kafka"}),
])
def test_parse_target_uri(spec: str, name: str, fields: dict[str, Any]) -> None:
    got_name, target = parse_target_uri(spec)
    assert (got_name, shown(target)) == (name, fields)


@pytest.mark.parametrize(("spec", "expected"), [
    ("ssh://ops@db1", "expects NAME=URI, e.g. db=ssh://ops@db1:22"),
    ("=ssh://db1", "expects NAME=URI"),
    ("db=", "expected local, ssh://[USER@]HOST[:PORT]"),
    ("db=db1:22", "expected local, ssh://"),
    ("db=ftp://db1", "unknown scheme 'ftp://'"),
    ("db=ssh://db1:0", "port '0' is not a number from 1 to 65535"),
    ("db=ssh://db1:22x", "port '22x' is not a number"),
    ("db=ssh://ops:secret@db1", "a password in a URI is visible"),
    ("db=ssh://db1/var", "an ssh URI has no path"),
    ("db=ssh://db1?keyfile=x", "unknown option ?keyfile= in 'ssh://db1?keyfile=x' "
                               "(did you mean 'key_file'?)"),
    ("db=ssh://db1?connect_timeout=soon", "expected a duration"),
    ("db=ssh://:22", "no host"),
    ("k=kubectl-exec://ns", "names no pod: add /POD or ?selector="),
    ("k=kubectl-exec:///pod", "expected kubectl-exec://NAMESPACE/POD"),
])
def test_bad_target_uris_name_the_option(spec: str, expected: str) -> None:
    with pytest.raises(PlaybookError) as caught:
        parse_target_uri(spec)
    assert caught.value.problem.field == "--target"
    assert caught.value.problem.file == "<command line>"
    assert expected in str(caught.value)


# --- real runs ---------------------------------------------------------------------------------

def ssh_inventory(path: Path, sshd: SSHServer, name: str = "web") -> Path:
    s = sshd.settings()
    doc = {"targets": {name: {"connection": "ssh", "host": s["host"], "port": s["port"],
                              "user": s["user"], "key_file": s["key_file"],
                              "known_hosts": s["known_hosts"], "connect_timeout": 5}}}
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def touch_playbook(path: Path, out: Path, *, declare: bool) -> Path:
    doc: dict[str, Any] = {"runbook": 1, "name": "inv-run"}
    if declare:  # the playbook names the role; the inventory says where it is
        doc["targets"] = {"web": {"connection": "ssh"}}
    doc["steps"] = [{"id": "touch", "target": "web", "action": "host.shell",
                     "with": {"command": sh('echo "$(hostname) $USER" > "$1"', out)}}]
    path.write_text(yaml.safe_dump(doc, sort_keys=False, width=1000), encoding="utf-8")
    return path


def step_events(audit: Path) -> list[dict[str, Any]]:
    events = [json.loads(line) for line in audit.read_text(encoding="utf-8").splitlines()]
    return [e for e in events if e["event"] in ("step.started", "step.finished")]


def test_run_on_an_inventory_ssh_target(tmp_path: Path, sshd: SSHServer) -> None:
    out, audit = tmp_path / "made by ssh.txt", tmp_path / "audit.jsonl"
    pb = touch_playbook(tmp_path / "pb.yaml", out, declare=False)
    inv = ssh_inventory(tmp_path / "inv.yaml", sshd)
    before = sshd.accepted_logins()
    proc = run_cli("run", pb, "--inventory", inv, "--yes", "--audit-log", audit)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert out.read_text().split()[1] == sshd.user
    assert sshd.accepted_logins() == before + 1  # it really went over SSH
    events = step_events(audit)
    assert [(e["event"], e["step"], e["target"]) for e in events] == [
        ("step.started", "touch", "web"), ("step.finished", "touch", "web")]
    assert events[-1]["status"] == "ok"


def test_run_on_a_target_uri(tmp_path: Path, sshd: SSHServer) -> None:
    out, audit = tmp_path / "uri.txt", tmp_path / "audit.jsonl"
    pb = touch_playbook(tmp_path / "pb.yaml", out, declare=False)
    s = sshd.settings()
    uri = (f"web=ssh://{s['user']}@{s['host']}:{s['port']}?key_file={quote(s['key_file'])}"
           f"&known_hosts={quote(s['known_hosts'])}")
    proc = run_cli("run", pb, "--target", uri, "--yes", "--audit-log", audit)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert out.exists()
    assert {e["target"] for e in step_events(audit)} == {"web"}


def test_inventory_binds_a_target_the_playbook_declares(tmp_path: Path,
                                                       sshd: SSHServer) -> None:
    """The playbook names the role (``web: {connection: ssh}``); the inventory says where."""
    out, audit = tmp_path / "declared.txt", tmp_path / "audit.jsonl"
    pb = touch_playbook(tmp_path / "pb.yaml", out, declare=True)
    inv = ssh_inventory(tmp_path / "inv.yaml", sshd)
    proc = run_cli("run", pb, "--inventory", inv, "--yes", "--audit-log", audit)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert out.exists()
    assert {e["target"] for e in step_events(audit)} == {"web"}


def test_broken_inventory_exits_2_with_file_line_and_runs_nothing(tmp_path: Path) -> None:
    out, audit = tmp_path / "never.txt", tmp_path / "audit.jsonl"
    pb = touch_playbook(tmp_path / "pb.yaml", out, declare=True)
    inv = write(tmp_path / "inv.yaml", """
        targets:
          web: {connection: ssh, host: 127.0.0.1, prot: 22}
        groups:
          all: {hosts: [web, wbe]}
        """)
    proc = run_cli("run", pb, "--inventory", inv, "--yes", "--audit-log", audit)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert f"{inv}:2: targets.web.prot: unknown key 'prot' (did you mean 'port'?)" in proc.stderr
    assert f"{inv}:4: groups.all.hosts[1]: group member 'wbe'" in proc.stderr
    assert not out.exists()
    assert not audit.exists() or step_events(audit) == []


def test_bad_target_uri_exits_2(tmp_path: Path) -> None:
    out = tmp_path / "never.txt"
    pb = touch_playbook(tmp_path / "pb.yaml", out, declare=True)
    proc = run_cli("run", pb, "--target", "web=ssh://host:99999", "--yes")
    assert proc.returncode == 2
    assert "--target" in proc.stderr and "port '99999'" in proc.stderr
    assert not out.exists()
