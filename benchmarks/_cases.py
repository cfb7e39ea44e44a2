"""The workloads, as the exact command each tool runs, written into a work folder.

(a) N x /bin/true locally, (b) the same over SSH to one host, both also as a
one-step run (the marginal cost per step is taken between the two); (c) a
fan-out over 20/50/100 target names (all 127.0.0.1 on the benchmark's sshd),
5 steps each, 10 at a time; (d) start-up: ``python -c pass``, ``--help`` and
``--version``, ``validate`` and ``plan`` of a one-step playbook, and one call
of a simulated-estate stand-in. The one-step runs of (a) are the start-up
comparison that does work: runbook one step, pyinfra one operation, ansible
one task.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from _procs import ROOT, run
from _sshd import Server

TOOLS = ("runbook", "ansible", "pyinfra", "paramiko", "sshexec")
"""paramiko, sshexec: the SSH work of (c) without runbook's engine (benchmarks/ssh_floor.py)."""


@dataclass
class Case:
    """One command measured every round."""

    key: str  # unique: "a/runbook/50", "c/pyinfra/100", "d/runbook --help"
    group: str  # a, b, c or d
    tool: str  # runbook, ansible, pyinfra, python
    label: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    n: int = 0  # steps in (a)/(b), target names in (c)
    ssh: bool = False
    prime: list[str] | None = None  # run untimed just before each timed run


def _steps_yaml(n: int, target: str | None) -> list[str]:
    out = []
    for i in range(n):
        out += [f"  - id: s{i}", "    action: host.shell", "    with: {command: [/bin/true]}"]
        if target:
            out.append(f"    target: {target}")
    return out


def _ansible_play(hosts: str, n: int) -> str:
    lines = [f"- hosts: {hosts}", "  gather_facts: false", "  tasks:"]
    for i in range(n):
        lines += [f"    - name: s{i}", "      ansible.builtin.command: /bin/true"]
    return "\n".join(lines) + "\n"


def _pyinfra_deploy(n: int) -> str:
    return ("from pyinfra.operations import server\n\n"
            f"for i in range({n}):\n"
            "    server.shell(name=f's{i}', commands=['/bin/true'])\n")


def _pyinfra_inventory(names: Sequence[str], srv: Server) -> str:
    data = {"ssh_hostname": srv.host, "ssh_port": srv.port, "ssh_user": srv.user,
            "ssh_key": srv.key_file, "ssh_known_hosts_file": srv.known_hosts,
            "ssh_strict_host_key_checking": "yes"}
    rows = ",\n".join(f"    ({n!r}, {data!r})" for n in names)
    return f"hosts = [\n{rows},\n]\n"


def _ansible_inventory(names: Sequence[str], srv: Server, python: Path) -> str:
    common = (f"-o UserKnownHostsFile={srv.known_hosts} -o GlobalKnownHostsFile=/dev/null "
              "-o StrictHostKeyChecking=yes")
    lines = ["[bench]"]
    lines += [f"{n} ansible_host={srv.host}" for n in names]
    lines += ["", "[bench:vars]", f"ansible_port={srv.port}", f"ansible_user={srv.user}",
              f"ansible_ssh_private_key_file={srv.key_file}",
              f"ansible_python_interpreter={python}",
              f"ansible_ssh_common_args='{common}'"]
    return "\n".join(lines) + "\n"


def _runbook_playbook(name: str, n: int, target: str | None, targets: str = "") -> str:
    return "\n".join(["runbook: 1", f"name: {name}", *([targets] if targets else []),
                      "steps:", *_steps_yaml(n, target)]) + "\n"


@dataclass
class Setup:
    """What every case needs: the work folder, the tools, the envs, the sshd."""

    work: Path
    venv: Path
    srv: Server
    envs: dict[str, dict[str, str]]
    opts: argparse.Namespace

    def write(self, name: str, text: str) -> Path:
        path = self.work / name
        path.write_text(text, encoding="utf-8")
        return path

    @property
    def rb(self) -> list[str]:
        return [sys.executable, "-m", "runbook"]

    @property
    def ap(self) -> str:
        return str(self.venv / "bin" / "ansible-playbook")

    @property
    def pi(self) -> str:
        return str(self.venv / "bin" / "pyinfra")

    def ssh_fields(self) -> str:
        s = self.srv
        return (f"connection: ssh, host: {s.host}, port: {s.port}, user: {s.user}, "
                f"key_file: {s.key_file}, known_hosts: {s.known_hosts}")

    def case(self, group: str, tool: str, label: str, argv: list[str], n: int = 0,
             cwd: Path | None = None) -> Case:
        key = f"{group}/{tool}/{n}" if n else f"{group}/{label}"
        return Case(key, group, tool, label, argv, self.envs[tool], cwd or self.work, n,
                    ssh=group in ("b", "c"))


def environments(tmp: Path) -> dict[str, dict[str, str]]:
    """One environment per tool. Bytecode is allowed and goes to one cache folder for
    every tool (PYTHONPYCACHEPREFIX), filled by the warm-up round: installed packages
    run from bytecode, and a checkout with PYTHONDONTWRITEBYTECODE set would otherwise
    recompile runbook on every run."""
    base = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    base.update(PYTHONPYCACHEPREFIX=str(tmp / "pycache"), LC_ALL="C.UTF-8", LANG="C.UTF-8")
    runbook = {**base, "RUNBOOK_HOME": str(tmp / "runbook-home"), "RUNBOOK_ACTOR": "bench",
               "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    ansible_home = tmp / "ansible"
    (ansible_home / "cp").mkdir(parents=True, exist_ok=True)
    (tmp / "work").mkdir(exist_ok=True)
    (tmp / "work" / "ansible.cfg").write_text("[defaults]\n", encoding="utf-8")
    ansible = {**base, "ANSIBLE_HOME": str(ansible_home),
               "ANSIBLE_LOCAL_TEMP": str(ansible_home / "tmp"),
               "ANSIBLE_SSH_CONTROL_PATH_DIR": str(ansible_home / "cp"),
               "ANSIBLE_PIPELINING": "True", "ANSIBLE_HOST_KEY_CHECKING": "True",
               "ANSIBLE_RETRY_FILES_ENABLED": "False", "ANSIBLE_NOCOLOR": "1",
               "ANSIBLE_SSH_ARGS": "-o ControlMaster=auto -o ControlPersist=60s",
               "ANSIBLE_CONFIG": str(tmp / "work" / "ansible.cfg")}
    return {"runbook": runbook, "ansible": ansible, "pyinfra": dict(base),
            "paramiko": dict(base), "sshexec": dict(runbook), "python": dict(runbook)}


def local_cases(su: Setup, n: int) -> list[Case]:
    """(a): n local steps of /bin/true, each tool."""
    py = su.venv / "bin" / "python"
    inv = su.write("a.ini", f"localhost ansible_connection=local ansible_python_interpreter={py}\n")
    pb = su.write(f"a{n}.yaml", _runbook_playbook("bench-local", n, None))
    audit = str(su.work.parent / f"audit-a{n}.jsonl")
    return [
        su.case("a", "runbook", "runbook", [*su.rb, "run", str(pb), "--yes", "--audit-log",
                                            audit], n),
        su.case("a", "ansible", "ansible-playbook",
                [su.ap, "-i", str(inv), str(su.write(f"a{n}.yml", _ansible_play("localhost", n)))],
                n),
        su.case("a", "pyinfra", "pyinfra",
                [su.pi, "@local", str(su.write(f"deploy_a{n}.py", _pyinfra_deploy(n))), "-y"], n),
    ]


def ssh_cases(su: Setup, n: int) -> list[Case]:
    """(b): n steps over SSH to one host, each tool."""
    py = su.venv / "bin" / "python"
    pb = su.write(f"b{n}.yaml", _runbook_playbook("bench-ssh", n, "box",
                                                  f"targets:\n  box: {{{su.ssh_fields()}}}"))
    audit = str(su.work.parent / f"audit-b{n}.jsonl")
    return [
        su.case("b", "runbook", "runbook", [*su.rb, "run", str(pb), "--yes", "--audit-log",
                                            audit], n),
        su.case("b", "ansible", "ansible-playbook",
                [su.ap, "-i", str(su.write("b.ini", _ansible_inventory(["box"], su.srv, py))),
                 str(su.write(f"b{n}.yml", _ansible_play("bench", n)))], n),
        su.case("b", "pyinfra", "pyinfra",
                [su.pi, str(su.write("inv_b.py", _pyinfra_inventory(["box"], su.srv))),
                 str(su.write(f"deploy_b{n}.py", _pyinfra_deploy(n))), "-y"], n),
    ]


def fanout_cases(su: Setup, names: int) -> list[Case]:
    """(c): a group of ``names`` target names, host_steps steps each, forks at a time."""
    o = su.opts
    hosts = [f"h{i:03d}" for i in range(1, names + 1)]
    py = su.venv / "bin" / "python"
    pb = su.write("c.yaml", _runbook_playbook("bench-fanout", o.host_steps, "fleet"))
    members = ", ".join(f"{{name: {h}}}" for h in hosts)
    inv = su.write(f"c{names}-inventory.yaml",
                   f"groups:\n  fleet: {{{su.ssh_fields()},\n    hosts: [{members}]}}\n")
    out = [su.case("c", "runbook", "runbook",
                   [*su.rb, "run", str(pb), "--inventory", str(inv), "--forks", str(o.forks),
                    "--yes", "--audit-log", str(su.work.parent / f"audit-c{names}.jsonl")],
                   names),
           su.case("c", "pyinfra", "pyinfra",
                   [su.pi, str(su.write(f"inv_c{names}.py", _pyinfra_inventory(hosts, su.srv))),
                    str(su.write("deploy_c.py", _pyinfra_deploy(o.host_steps))), "-y",
                    "--parallel", str(o.forks)], names)]
    srv = su.srv
    for tool, via in (("sshexec", "runbook"), ("paramiko", "paramiko")):
        out.append(su.case("c", tool, tool,
                           [sys.executable, str(ROOT / "benchmarks" / "ssh_floor.py"),
                            "--via", via, "--host", srv.host, "--port", str(srv.port),
                            "--user", srv.user, "--key-file", str(srv.key_file),
                            "--known-hosts", str(srv.known_hosts), "--names", str(names),
                            "--steps", str(o.host_steps), "--forks", str(o.forks)], names))
    if names <= o.ansible_max_names:
        out.append(su.case("c", "ansible", "ansible-playbook",
                           [su.ap, "-i", str(su.write(f"c{names}.ini",
                                                      _ansible_inventory(hosts, su.srv, py))),
                            "-f", str(o.forks),
                            str(su.write("c.yml", _ansible_play("bench", o.host_steps)))],
                           names))
    return out


def startup_cases(su: Setup, standin: list[str] | None) -> list[Case]:
    """(d): the interpreter alone, --help/--version, validate/plan of one step, a stand-in."""
    one = su.work / "a1.yaml"
    out = [
        su.case("d", "python", "python -c pass (the interpreter)", [sys.executable, "-c",
                                                                    "pass"]),
        su.case("d", "runbook", "runbook --help", [*su.rb, "--help"]),
        su.case("d", "runbook", "runbook --version", [*su.rb, "--version"]),
        su.case("d", "ansible", "ansible-playbook --version", [su.ap, "--version"]),
        su.case("d", "pyinfra", "pyinfra --version", [su.pi, "--version"]),
        su.case("d", "runbook", "runbook validate (one-step playbook)",
                [*su.rb, "validate", str(one)]),
        su.case("d", "runbook", "runbook plan (one-step playbook)", [*su.rb, "plan", str(one)]),
        su.case("d", "runbook", "runbook validate playbooks/ (every bundled playbook)",
                [*su.rb, "validate", "playbooks"], cwd=ROOT),
    ]
    if standin:
        call = su.case("d", "python", "stand-in: kubectl get deployment (simulated estate)",
                       standin)
        # The world evolves by the time elapsed since the last call: one untimed call just
        # before makes every timed call evolve the same few milliseconds, whatever the
        # length of a round.
        call.prime = standin
        out.append(call)
    return out


def make_standin(su: Setup) -> list[str] | None:
    """A sandbox of the simulated estate, and the argv of one of its stand-ins."""
    box = su.work.parent / "sandbox"
    done = run([*su.rb, "sim", "init", "cfs-stuck-sessions", "--dir", str(box)], timeout=120,
               env=su.envs["runbook"])
    if done.rc:
        print(f"no stand-in case: sim init failed: {done.output[-300:]}", file=sys.stderr)
        return None
    su.envs["python"]["RUNBOOK_SIM_DIR"] = str(box)
    return [str(box / "bin" / "kubectl"), "-n", "services", "get", "deployment",
            "cray-cfs-operator", "-o", "json"]


def build_cases(tmp: Path, venv: Path, srv: Server, opts: argparse.Namespace,
                tools: Sequence[str], groups: set[str]) -> list[Case]:
    su = Setup(tmp / "work", venv, srv, environments(tmp), opts)
    cases: list[Case] = []
    for n in (1, opts.steps):  # (a) one step always: (d) compares it across tools
        cases += local_cases(su, n) if ("a" in groups or n == 1) else []
    if "b" in groups:
        for n in (1, opts.steps):
            cases += ssh_cases(su, n)
    if "c" in groups:
        for names in opts.names:
            cases += fanout_cases(su, names)
    if "d" in groups:
        cases += startup_cases(su, make_standin(su))
    return [c for c in cases if c.tool in (*tools, "python")]
