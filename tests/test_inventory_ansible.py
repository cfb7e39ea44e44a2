"""Ansible inventories (INI and YAML) as runbook targets: shapes from Ansible's own
documentation, variable precedence, ranges, errors with file and line, and a real run
over SSH to the loopback sshd from an INI inventory."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from helpers import run_cli, sh

from runbook.errors import ValidationErrors
from runbook.inventory import load_inventory
from runbook.inventory_ansible import expand_range

if TYPE_CHECKING:
    from tests.sshd import SSHServer

HERE = Path(__file__).parent / "inventories"


def settings(target: Any) -> dict[str, Any]:
    return target.model_dump(exclude_none=True, exclude_defaults=True)


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


def test_ini_from_the_ansible_docs() -> None:
    inv = load_inventory(HERE / "ansible-docs.ini")
    assert inv["webservers"].hosts == ["foo.example.com", "bar.example.com"]
    assert inv["southeast"].hosts == ["host1", "host2", "host3"]
    assert inv["usa"].hosts == ["host1", "host2", "host3"]  # children of children
    assert inv["ungrouped"].hosts == ["mail.example.com"]
    assert len(inv["all"].hosts or []) == len([n for n, t in inv.items() if not t.hosts])
    assert settings(inv["host1"]) == {
        "connection": "ssh", "host": "host1",
        "vars": {"http_port": 80, "maxRequestsPerChild": 808,
                 "ntp_server": "ntp.atlanta.example.com",  # atlanta (child) over all
                 "proxy": "proxy.atlanta.example.com",
                 "some_server": "foo.southeast.example.com", "halon_system_timeout": 30,
                 "self_destruct_countdown": 60, "escape_pods": 2}}
    assert inv["host3"].vars["ntp_server"] == "ntp.example.com"  # only all:vars
    assert settings(inv["jumper"]) == {"connection": "ssh", "host": "192.0.2.50",
                                       "port": 5555, "vars": {"ntp_server": "ntp.example.com"}}
    assert inv["badwolf.example.com"].setting("port") == 5309
    assert settings(inv["localhost"]) == {"vars": {"ntp_server": "ntp.example.com"}}
    assert inv["other1.example.com"].setting("user") == "myuser"
    assert inv["webfarm"].hosts == [f"www{n:02d}.example.com" for n in range(1, 51)]
    assert inv["dbfarm"].hosts == [f"db-{c}.example.com" for c in "abcdef"]
    assert inv["db-c.example.com"].setting("become") is True
    assert inv["db-c.example.com"].setting("key_file") == "/keys/db"


def test_yaml_from_the_ansible_docs() -> None:
    inv = load_inventory(HERE / "ansible-docs.yaml")
    assert inv["prod"].hosts == ["foo.example.com", "one.example.com", "two.example.com"]
    assert inv["test"].hosts == ["bar.example.com", "three.example.com"]
    assert "ungrouped" in inv and inv["ungrouped"].hosts == ["mail.example.com"]
    assert settings(inv["host2"]) == {
        "connection": "ssh", "host": "192.0.2.52", "user": "deploy",
        "vars": {"ntp_server": "ntp.atlanta.example.com", "http_port": 303,
                 "maxRequestsPerChild": 909}}
    assert inv["webfarm"].hosts == ["www01.example.com", "www02.example.com",
                                    "www03.example.com"]
    assert inv["www02.example.com"].setting("port") == 2222


def test_host_vars_win_over_group_vars_and_children_over_parents(tmp_path: Path) -> None:
    inv = load_inventory(write(tmp_path / "hosts", """
        [parent:children]
        child
        [parent:vars]
        ansible_user=parent
        color=red
        [child]
        a
        b ansible_user=own
        [child:vars]
        color=blue
        [all:vars]
        ansible_user=everyone
        ansible_port=2200
        """))
    assert (inv["a"].setting("user"), inv["a"].vars["color"]) == ("parent", "blue")
    assert (inv["b"].setting("user"), inv["b"].setting("port")) == ("own", 2200)


@pytest.mark.parametrize(("pattern", "expected"), [
    ("db[01:03]", ["db01", "db02", "db03"]),
    ("db[1:3].lab", ["db1.lab", "db2.lab", "db3.lab"]),
    ("web[a:c]", ["weba", "webb", "webc"]),
    ("n[0:6:3]", ["n0", "n3", "n6"]),
    ("r[1:2]c[a:b]", ["r1ca", "r1cb", "r2ca", "r2cb"]),
    ("plain", ["plain"]),
])
def test_host_ranges(pattern: str, expected: list[str]) -> None:
    assert expand_range(pattern) == expected


def test_every_problem_with_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path / "hosts.ini", """
        [web]
        ok1
        bad[3:1]
        bad-port:http
        weird ansible_connection=winrm
        sudoer ansible_become=perhaps
        [web:vars
        [db]
        db1 ansible_port=99999 runbook_nonsense=1
        """)
    with pytest.raises(ValidationErrors) as caught:
        load_inventory(path)
    found = [(p.file, p.line, p.message.split(";")[0].split(" (")[0])
             for p in caught.value.problems]
    assert found == [
        (str(path), 3, "host range 'bad[3:1]' ends before it starts"),
        (str(path), 4, "the port after ':' must be a number"),
        (str(path), 5, "ansible_connection 'winrm' has no runbook counterpart"),
        (str(path), 6, "ansible_become must be true or false"),
        (str(path), 7, "a section header is [group], [group:vars] or [group:children]"),
        (str(path), 9, "ansible_port must be a port number"),
    ]


def test_runbook_settings_through_runbook_variables(tmp_path: Path) -> None:
    path = write(tmp_path / "hosts", """
        [db]
        db1 runbook_connect_timeout=7s runbook_jump=bastion
        db2 runbook_nonsense=1
        """)
    with pytest.raises(ValidationErrors) as caught:
        load_inventory(path)
    assert [(p.line, p.field) for p in caught.value.problems] == [(3, "db2.nonsense")]


def test_yaml_problems_are_located(tmp_path: Path) -> None:
    path = write(tmp_path / "inv.yml", """
        all:
          children:
            web:
              hosts:
                w1:
                  ansible_become_user: postgres
              varz: {a: 1}
        """)
    with pytest.raises(ValidationErrors) as caught:
        load_inventory(path)
    assert [(p.line, p.field) for p in caught.value.problems] == [
        (6, "w1.ansible_become_user"), (7, "all.children.web.varz")]


def test_runbook_inventories_are_still_read_as_before(tmp_path: Path) -> None:
    inv = load_inventory(write(tmp_path / "inv.yaml", """
        targets:
          ncn: {connection: local}
        groups:
          db: {connection: ssh, hosts: [db1]}
        """))
    assert inv["db"].hosts == ["db1"] and inv["db1"].setting("host") == "db1"


def test_run_over_ssh_from_an_ansible_ini_inventory(tmp_path: Path, sshd: SSHServer) -> None:
    s = sshd.settings()
    inv = write(tmp_path / "hosts", f"""
        [web]
        web1 ansible_host={s['host']} ansible_port={s['port']} ansible_user={s['user']}
        [web:vars]
        ansible_ssh_private_key_file={s['key_file']}
        runbook_known_hosts={s['known_hosts']}
        """)
    out, audit = tmp_path / "out.txt", tmp_path / "audit.jsonl"
    pb = tmp_path / "pb.yaml"
    import yaml

    pb.write_text(yaml.safe_dump({"runbook": 1, "name": "ansible-inv", "steps": [
        {"id": "touch", "target": "web", "action": "host.shell",
         "with": {"command": sh('echo "$USER" >> "$1"', out)}}]}, width=1000))
    before = sshd.accepted_logins()
    proc = run_cli("run", pb, "--inventory", inv, "--yes", "--audit-log", audit)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert out.read_text().split() == [sshd.user]
    assert sshd.accepted_logins() == before + 1


def test_limit_connects_only_to_the_hosts_it_leaves(tmp_path: Path, sshd: SSHServer) -> None:
    """Early connections (opened while the engine loads) too: one login, for web2."""
    s = sshd.settings()
    host = f"ansible_host={s['host']} ansible_port={s['port']} ansible_user={s['user']}"
    inv = write(tmp_path / "hosts", f"""
        [web]
        web1 {host}
        web2 {host}
        web3 {host}
        [web:vars]
        ansible_ssh_private_key_file={s['key_file']}
        runbook_known_hosts={s['known_hosts']}
        """)
    out = tmp_path / "out.txt"
    pb = tmp_path / "pb.yaml"
    import yaml

    pb.write_text(yaml.safe_dump({"runbook": 1, "name": "ansible-limit", "steps": [
        {"id": "touch", "target": "web", "action": "host.shell",
         "with": {"command": sh('echo "$1" >> "$2"', "{{ target.name }}", out)}}]},
        width=1000))
    before = sshd.accepted_logins()
    proc = run_cli("run", pb, "-i", inv, "--limit", "web:!web1:!web3", "--yes")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert out.read_text().split() == ["web2"]
    assert sshd.accepted_logins() == before + 1


def test_group_vars_and_host_vars_beside_the_inventory(tmp_path: Path) -> None:
    inv = write(tmp_path / "hosts", """
        [web]
        web1
        web2 ansible_user=inline
        [db]
        db1
        [web:vars]
        ntp=from-inventory
        """)
    (tmp_path / "group_vars" / "db").mkdir(parents=True)
    (tmp_path / "host_vars").mkdir()
    write(tmp_path / "group_vars" / "all.yml", "ansible_user: ops\nntp: everyone\n")
    write(tmp_path / "group_vars" / "web.yaml", "ntp: web-ntp\nansible_port: 2200\n")
    write(tmp_path / "group_vars" / "db" / "main.yml", "ansible_become: yes\nrole: db\n")
    write(tmp_path / "group_vars" / "db" / "more.yml", "role: primary\n")
    write(tmp_path / "host_vars" / "web2", "ansible_host: 10.0.0.2\nansible_user: own\n")
    write(tmp_path / "host_vars" / "stranger.yml", "ansible_host: 10.9.9.9\n")  # no host
    inv_targets = load_inventory(inv)
    assert settings(inv_targets["web1"]) == {"connection": "ssh", "host": "web1", "port": 2200,
                                             "user": "ops", "vars": {"ntp": "web-ntp"}}
    assert settings(inv_targets["web2"]) == {"connection": "ssh", "host": "10.0.0.2",
                                             "port": 2200, "user": "own",
                                             "vars": {"ntp": "web-ntp"}}
    assert settings(inv_targets["db1"]) == {"connection": "ssh", "host": "db1", "user": "ops",
                                            "become": True,
                                            "vars": {"ntp": "everyone", "role": "primary"}}
    assert "stranger.yml" not in inv_targets
    write(tmp_path / "host_vars" / "web1.yml", "role: web\nansible_port: http\n")
    with pytest.raises(ValidationErrors) as caught:
        load_inventory(inv)
    assert [(p.file, p.line, p.field) for p in caught.value.problems] == [
        (str(tmp_path / "host_vars" / "web1.yml"), 2, "web1.ansible_port")]
