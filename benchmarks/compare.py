"""runbook vs ansible-playbook vs pyinfra: the same workloads, in the same run, on this machine.

    python benchmarks/compare.py                       # throwaway venv, 3 repeats, table to stdout
    python benchmarks/compare.py --venv /tmp/bench-venv --repeat 5 --write-docs

What it does:

* makes a virtualenv (under a temp folder, or ``--venv PATH`` to keep and reuse
  one) and pip-installs ``ansible-core`` and ``pyinfra`` there;
* starts its own unprivileged sshd on a free 127.0.0.1 port with generated keys
  (benchmarks/_sshd.py), stopped at the end, also on Ctrl-C or SIGTERM;
* runs every workload with each tool as a fresh process (median of
  ``--repeat``, after one untimed warm-up run), plus runbook's engine alone
  through the Python API, plus a bare paramiko exec on one open connection:

  (a) 50 steps of /bin/true on the local machine;
  (b) 50 steps of /bin/true over SSH to the loopback sshd;
  (c) 20 target names (all 127.0.0.1 on the sshd port) x 5 steps, 10 at a time;
  (d) start-up: ``runbook --help``, ``ansible-playbook --version``,
      ``pyinfra --version``, and ``runbook validate playbooks/``.

Per-step overhead is (wall - that tool's start-up from (d)) / steps; for (c)
the steps are host-steps (20 x 5) done 10 at a time. Every subprocess has a
timeout and runs in its own process group, killed whole on timeout.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import re
import resource
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
for _p in (str(ROOT), str(HERE)):
    if _p not in sys.path:
        sys.path.insert(0, _p)

from _sshd import Server, descendants, running_sshd  # noqa: E402

TOOLS = ("runbook", "ansible", "pyinfra")
DOCS = ROOT / "docs" / "performance.md"


# --- processes ---------------------------------------------------------------------------------

@dataclass
class Ran:
    rc: int
    seconds: float
    output: str


def run(argv: Sequence[str], *, timeout: float, env: dict[str, str] | None = None,
        cwd: Path | None = None) -> Ran:
    """Run argv in its own process group; on timeout or Ctrl-C the whole group is killed."""
    start = time.perf_counter()
    proc = subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, env=env, cwd=cwd,
                            start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        out, _ = proc.communicate()
        took = time.perf_counter() - start
        return Ran(124, took, out.decode(errors="replace") + f"\n[timed out after {timeout}s]")
    except BaseException:
        _kill_group(proc)
        raise
    return Ran(proc.returncode, time.perf_counter() - start, out.decode(errors="replace"))


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10)


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM unwinds like Ctrl-C, so the sshd and temp folders are cleaned up."""
    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


# --- the other tools ---------------------------------------------------------------------------

def ensure_venv(path: Path, timeout: float) -> Path:
    """A virtualenv with ansible-core and pyinfra (created and installed if missing)."""
    bin_dir = path / "bin"
    if (bin_dir / "ansible-playbook").exists() and (bin_dir / "pyinfra").exists():
        return path
    if not (bin_dir / "python").exists():
        print(f"creating virtualenv {path}", file=sys.stderr)
        done = run([sys.executable, "-m", "venv", str(path)], timeout=timeout)
        if done.rc:
            raise SystemExit(f"python -m venv failed:\n{done.output}")
    print("installing ansible-core and pyinfra from PyPI ...", file=sys.stderr)
    done = run([str(bin_dir / "python"), "-m", "pip", "install", "--quiet",
                "--disable-pip-version-check", "ansible-core", "pyinfra"], timeout=timeout)
    if done.rc:
        raise SystemExit(f"pip install failed:\n{done.output[-3000:]}")
    return path


def stop_control_masters(control_dir: Path) -> None:
    """End the OpenSSH ControlPersist masters ansible left running (they outlive it)."""
    for sock in control_dir.iterdir() if control_dir.is_dir() else []:
        run(["ssh", "-o", f"ControlPath={sock}", "-O", "exit", "bench"], timeout=10)


def version(argv: Sequence[str], env: dict[str, str]) -> str:
    """The first version number a ``--version`` prints."""
    done = run(argv, timeout=60, env=env)
    found = re.search(r"\d+(?:\.\d+)+", done.output)
    return found.group(0) if found else "?"


# --- workloads ---------------------------------------------------------------------------------

@dataclass
class Workload:
    key: str
    title: str
    steps: int  # host-steps
    commands: dict[str, list[str]] = field(default_factory=dict)
    env: dict[str, dict[str, str]] = field(default_factory=dict)
    cwd: Path | None = None
    engine: dict[str, Any] | None = None  # runbook.run(**engine) for the engine-only row
    engine_double: dict[str, Any] | None = None  # the same with twice the steps (marginal cost)


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


def build_workloads(tmp: Path, venv: Path, srv: Server, opts: argparse.Namespace) -> list[Workload]:
    work = tmp / "work"
    work.mkdir()
    py = venv / "bin" / "python"
    n, hosts, per_host = opts.steps, opts.hosts, opts.host_steps
    names = [f"h{i:02d}" for i in range(1, hosts + 1)]

    def write(name: str, text: str) -> Path:
        path = work / name
        path.write_text(text, encoding="utf-8")
        return path

    home = tmp / "runbook-home"
    rb_env = {**os.environ, "RUNBOOK_HOME": str(home), "RUNBOOK_ACTOR": "bench",
              "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    ansible_home = tmp / "ansible"
    (ansible_home / "cp").mkdir(parents=True)
    an_env = {**os.environ, "ANSIBLE_HOME": str(ansible_home),
              "ANSIBLE_LOCAL_TEMP": str(ansible_home / "tmp"),
              "ANSIBLE_SSH_CONTROL_PATH_DIR": str(ansible_home / "cp"),
              "ANSIBLE_PIPELINING": "True", "ANSIBLE_HOST_KEY_CHECKING": "True",
              "ANSIBLE_RETRY_FILES_ENABLED": "False", "ANSIBLE_NOCOLOR": "1",
              "ANSIBLE_SSH_ARGS": "-o ControlMaster=auto -o ControlPersist=60s",
              "ANSIBLE_CONFIG": str(write("ansible.cfg", "[defaults]\n")),
              "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"}
    pi_env = {**os.environ, "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"}
    envs = {"runbook": rb_env, "ansible": an_env, "pyinfra": pi_env}
    rb = [sys.executable, "-m", "runbook", "run"]
    ap = str(venv / "bin" / "ansible-playbook")
    pi = str(venv / "bin" / "pyinfra")
    ssh_fields = (f"connection: ssh, host: {srv.host}, port: {srv.port}, user: {srv.user}, "
                  f"key_file: {srv.key_file}, known_hosts: {srv.known_hosts}")

    # (a) local
    a_pb = write("a.yaml", "\n".join(["runbook: 1", "name: bench-local", "steps:",
                                       *_steps_yaml(n, None)]) + "\n")
    a = Workload("a", f"(a) {n} x /bin/true, local", n, env=envs, cwd=work)
    a.commands = {
        "runbook": [*rb, str(a_pb), "--yes", "--audit-log", str(tmp / "audit-a.jsonl")],
        "ansible": [ap, "-i", str(write("a.ini", f"localhost ansible_connection=local "
                                                   f"ansible_python_interpreter={py}\n")),
                    str(write("a.yml", _ansible_play("localhost", n)))],
        "pyinfra": [pi, "@local", str(write("deploy_a.py", _pyinfra_deploy(n))), "-y"],
    }
    a.engine = {"playbook": a_pb, "audit_log": tmp / "engine-a.jsonl"}

    # (b) one SSH host
    b_pb = write("b.yaml", "\n".join(["runbook: 1", "name: bench-ssh", "targets:",
                                       f"  box: {{{ssh_fields}}}", "steps:",
                                       *_steps_yaml(n, "box")]) + "\n")
    b = Workload("b", f"(b) {n} x /bin/true, SSH to 1 host", n, env=envs, cwd=work)
    b.commands = {
        "runbook": [*rb, str(b_pb), "--yes", "--audit-log", str(tmp / "audit-b.jsonl")],
        "ansible": [ap, "-i", str(write("b.ini", _ansible_inventory(["box"], srv, py))),
                    str(write("b.yml", _ansible_play("bench", n)))],
        "pyinfra": [pi, str(write("inv_b.py", _pyinfra_inventory(["box"], srv))),
                    str(write("deploy_b.py", _pyinfra_deploy(n))), "-y"],
    }
    b.engine = {"playbook": b_pb, "audit_log": tmp / "engine-b.jsonl"}
    b2_pb = write("b2.yaml", "\n".join(["runbook: 1", "name: bench-ssh-double", "targets:",
                                         f"  box: {{{ssh_fields}}}", "steps:",
                                         *_steps_yaml(2 * n, "box")]) + "\n")
    b.engine_double = {"playbook": b2_pb, "audit_log": tmp / "engine-b2.jsonl"}

    # (c) fan-out: a group of 20 names from an inventory, 10 at a time
    c_pb = write("c.yaml", "\n".join(["runbook: 1", "name: bench-fanout", "steps:",
                                       *_steps_yaml(per_host, "fleet")]) + "\n")
    members = ", ".join(f"{{name: {h}}}" for h in names)
    c_inv = write("c-inventory.yaml", f"groups:\n  fleet: {{{ssh_fields},\n    hosts: "
                                      f"[{members}]}}\n")
    c = Workload("c", f"(c) {hosts} hosts x {per_host} steps, {opts.forks} in parallel",
                 hosts * per_host, env=envs, cwd=work)
    c.commands = {
        "runbook": [*rb, str(c_pb), "--inventory", str(c_inv), "--forks", str(opts.forks),
                    "--yes", "--audit-log", str(tmp / "audit-c.jsonl")],
        "ansible": [ap, "-i", str(write("c.ini", _ansible_inventory(names, srv, py))),
                    "-f", str(opts.forks), str(write("c.yml", _ansible_play("bench",
                                                                            per_host)))],
        "pyinfra": [pi, str(write("inv_c.py", _pyinfra_inventory(names, srv))),
                    str(write("deploy_c.py", _pyinfra_deploy(per_host))), "-y",
                    "--parallel", str(opts.forks)],
    }
    c.engine = {"playbook": c_pb, "audit_log": tmp / "engine-c.jsonl", "inventory": c_inv,
                "forks": opts.forks}

    # (d) start-up
    d = Workload("d", "(d) start-up", 0, env=envs, cwd=ROOT)
    d.commands = {"runbook": [sys.executable, "-m", "runbook", "--help"],
                  "ansible": [ap, "--version"], "pyinfra": [pi, "--version"]}
    return [d, a, b, c]


# --- measuring ---------------------------------------------------------------------------------

@dataclass
class Result:
    tool: str
    times: list[float] = field(default_factory=list)
    error: str | None = None
    logins: int | None = None  # SSH logins the last run made
    cpu: tuple[float, float] | None = None  # CPU seconds of the last run: tool, sshd

    @property
    def wall(self) -> float | None:
        return statistics.median(self.times) if self.times and not self.error else None


def _error_line(output: str, rc: int) -> str:
    lines = [ln.strip() for ln in output.strip().splitlines() if ln.strip()]
    useful = [ln for ln in lines if "error" in ln.lower() or "fatal" in ln.lower()]
    text = (useful or lines or [""])[-1]
    return f"exit {rc}: {text[:160]}"


ENGINE = "runbook engine (API)"


def children_cpu() -> float:
    """CPU seconds of every finished child process so far (the tool and its helpers)."""
    use = resource.getrusage(resource.RUSAGE_CHILDREN)
    return use.ru_utime + use.ru_stime


def server_cpu(srv: Server | None) -> float:
    """CPU seconds the sshd has used so far, with its finished per-connection processes."""
    if srv is None:
        return 0.0
    try:
        fields = Path(f"/proc/{srv.pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def settle(srv: Server | None, limit: float = 5.0) -> None:
    """Wait until the sshd has reaped the connection processes of earlier runs (so their
    CPU time is counted where it belongs): until none is left, or their number has held
    still for a moment (an OpenSSH ControlMaster ansible left running keeps its own)."""
    if srv is None:
        return
    deadline = time.monotonic() + limit
    count, since = len(descendants(srv.pid)), time.monotonic()
    while count and time.monotonic() < deadline and time.monotonic() - since < 0.3:
        time.sleep(0.05)
        now = len(descendants(srv.pid))
        if now != count:
            count, since = now, time.monotonic()


def logins(srv: Server) -> int:
    """SSH logins the benchmark's sshd has accepted so far (from its log)."""
    try:
        return Path(srv.log_file).read_text(errors="replace").count("Accepted publickey")
    except OSError:
        return 0


def measure(w: Workload, tools: Sequence[str], repeat: int, timeout: float,
            srv: Server | None = None) -> dict[str, Result]:
    """Every tool (and runbook's engine in this process) once per round, round after round,
    so that load from elsewhere on the machine hits them alike. Round 0 is a warm-up."""
    results = {t: Result(t) for t in tools if t in w.commands}
    engine = EngineRun(w) if w.engine is not None and "runbook" in tools else None
    if engine is not None:
        results[ENGINE] = engine.result
    for attempt in range(repeat + 1):
        for tool, res in results.items():
            if res.error:
                continue
            if tool == ENGINE:
                assert engine is not None
                took = engine.once()
                if took is not None and attempt:
                    res.times.append(took)
                continue
            settle(srv)
            before = logins(srv) if srv is not None else 0
            cpu = children_cpu(), server_cpu(srv)
            done = run(w.commands[tool], timeout=timeout, env=w.env[tool], cwd=w.cwd)
            if srv is not None:
                settle(srv)
                res.logins = logins(srv) - before
                res.cpu = (children_cpu() - cpu[0], server_cpu(srv) - cpu[1])
            if done.rc:
                res.error = _error_line(done.output, done.rc)
                print(f"  {tool} {w.key}: {res.error}", file=sys.stderr)
                continue
            if attempt:
                res.times.append(done.seconds)
        print(f"  {w.key} round {attempt}/{repeat} done", file=sys.stderr)
    return results


class EngineRun:
    """runbook's engine alone, in this process: no interpreter start, no imports, the
    playbook loaded once. A failure is kept in ``result.error`` for the table."""

    def __init__(self, w: Workload, spec: dict[str, Any] | None = None) -> None:
        import runbook
        from runbook.inventory import load_inventory

        self.run = runbook.run
        self.result = Result(ENGINE)
        spec = dict(spec if spec is not None else w.engine or {})
        self.targets: dict[str, Any] = {}
        self.playbook: Any = None
        try:
            inventory = spec.pop("inventory", None)
            self.targets = load_inventory(inventory) if inventory else {}
            self.playbook = runbook.load(spec.pop("playbook"), targets=self.targets)
        except Exception as exc:  # a broken workload is reported in the table
            self.result.error = f"{type(exc).__name__}: {str(exc).splitlines()[0][:160]}"
        self.options = spec

    def once(self) -> float | None:
        start = time.perf_counter()
        try:
            result = self.run(self.playbook, yes=True, interactive=False,
                              targets=dict(self.targets), **self.options)
        except Exception as exc:
            self.result.error = f"{type(exc).__name__}: {str(exc).splitlines()[0][:160]}"
            return None
        took = time.perf_counter() - start
        if result.exit_code:
            self.result.error = (f"exit {result.exit_code}: "
                                 f"{(result.error or result.outcome)[:160]}")
            return None
        return took


@dataclass
class StepCost:
    """One SSH step's marginal cost in the engine against a bare exec, in ms."""

    engine_ms: float
    bare_ms: float
    rounds: int

    @property
    def ratio(self) -> float:
        return self.engine_ms / self.bare_ms


def ssh_step_cost(w: Workload, srv: Server, rounds: int) -> StepCost | None:
    """The engine's cost per SSH step with the run's fixed costs taken out, as a bare
    exec on an open connection has none: (T(2n steps) - T(n steps)) / n, each round
    interleaved with n bare execs so that load on the machine hits both alike."""
    from ssh_overhead import bare_client, bare_exec, timed

    if w.engine is None or w.engine_double is None:
        return None
    single, double = EngineRun(w), EngineRun(w, w.engine_double)
    client = bare_client(srv.settings())
    engine: list[float] = []
    bare: list[float] = []
    try:
        timed(lambda: bare_exec(client, "/bin/true"), 20)
        for attempt in range(rounds + 1):
            t1 = single.once()
            per_exec = statistics.fmean(timed(lambda: bare_exec(client, "/bin/true"), w.steps))
            t2 = double.once()
            if t1 is None or t2 is None:
                return None
            if attempt:  # round 0 warms up
                engine.append((t2 - t1) / w.steps * 1000)
                bare.append(per_exec)
    finally:
        client.close()
    return StepCost(statistics.median(engine), statistics.median(bare), rounds)


# --- report ------------------------------------------------------------------------------------

@dataclass
class Report:
    rows: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    versions: dict[str, str] = field(default_factory=dict)
    load: tuple[float, float] = (0.0, 0.0)

    def markdown(self) -> str:
        head = ["workload", "tool", "wall ms (median)", "per step ms", "x runbook"]
        lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] * len(head)) + "|"]
        lines += ["| " + " | ".join(row) + " |" for row in self.rows]
        return "\n".join(lines)


def _ms(seconds: float | None) -> str:
    return "—" if seconds is None else f"{seconds * 1000:,.0f}" if seconds >= 1 \
        else f"{seconds * 1000:.1f}"


def report(workloads: list[Workload], results: dict[str, dict[str, Result]],
           engine: dict[str, Result], python_start: float, validate: Result,
           cost: StepCost | None) -> Report:
    rep = Report()
    startup = {t: r.wall for t, r in results.get("d", {}).items()}
    for w in workloads:
        res = results.get(w.key, {})
        base = res["runbook"].wall if "runbook" in res else None
        label = {"runbook": "runbook (CLI)", "ansible": "ansible-playbook",
                 "pyinfra": "pyinfra"}
        rows: list[tuple[str, Result, float | None]] = [
            (label[t], r, startup.get(t)) for t, r in res.items()]
        if w.key in engine:
            rows.insert(1, ("runbook engine (API)", engine[w.key], 0.0))
        for name, r, start in rows:
            if r.error:
                rep.rows.append([w.title, name, f"failed: {r.error}", "—", "—"])
                continue
            wall = r.wall
            per = "—"
            if w.steps and wall is not None and start is not None:
                per = f"{(wall - start) / w.steps * 1000:.1f}"
            ratio = f"{wall / base:.1f}x" if wall is not None and base else "—"
            rep.rows.append([w.title, name, _ms(wall), per, ratio])
        if w.key == "d":
            rep.rows.append([w.title, "runbook validate playbooks/",
                             f"failed: {validate.error}" if validate.error
                             else _ms(validate.wall), "—", "—"])
            rep.rows.append([w.title, "python -c pass (interpreter)", _ms(python_start), "—",
                             "—"])
    cli_a, eng_a = results.get("a", {}).get("runbook"), engine.get("a")
    if cli_a and eng_a and cli_a.wall and eng_a.wall and startup.get("runbook"):
        rest = cli_a.wall - eng_a.wall - (startup["runbook"] or 0.0)
        rep.notes.append(f"runbook CLI on (a): {_ms(cli_a.wall)} ms = start-up "
                         f"{_ms(startup['runbook'])} + engine {_ms(eng_a.wall)} + "
                         f"{_ms(rest)} ms of run-path imports (engine, pydantic, structlog, rich, "
                         "plugins), playbook load and console; `runbook validate` pays most of "
                         "the same imports")
    for key in ("b", "c"):
        made = {t: r.logins for t, r in results.get(key, {}).items() if r.logins is not None}
        if made:
            rep.notes.append(f"SSH logins per run of ({key}) (counted in the sshd's log): "
                             + ", ".join(f"{t} {n}" for t, n in made.items())
                             + (" (ansible-playbook reuses the ControlPersist masters of its "
                                "earlier runs: its logins and their server-side CPU happened "
                                "in the warm-up run)" if "ansible" in made else ""))
        used = {t: r.cpu for t, r in results.get(key, {}).items() if r.cpu is not None}
        if used:
            cpus = len(os.sched_getaffinity(0))
            rep.notes.append(
                f"CPU time of the last run of ({key}), tool + sshd, and the least wall time "
                f"any schedule of that work could take on {cpus} CPUs: " + "; ".join(
                    f"{t} {c * 1000:,.0f} + {sv * 1000:,.0f} ms (>= {(c + sv) / cpus * 1000:,.0f}"
                    " ms)" for t, (c, sv) in used.items())
                + ". The tool's CPU includes its start-up and imports; an OpenSSH "
                "ControlMaster left running after the run is not counted")
    if cost is not None:
        steps = workloads_steps(workloads, "b")
        rep.rows.append(["bare paramiko exec, 1 open connection", "paramiko",
                         "—", f"{cost.bare_ms:.1f}", "—"])
        rep.rows.append(["one more SSH step in a run (marginal)", "runbook engine (API)",
                         "—", f"{cost.engine_ms:.1f}", "—"])
        rep.notes.append(f"runbook engine per SSH step: {cost.engine_ms:.1f} ms = "
                         f"{cost.ratio:.2f}x a bare paramiko exec ({cost.bare_ms:.1f} ms) on "
                         f"one open connection; median of {cost.rounds} rounds, each (time of "
                         f"a {2 * steps}-step run - time of a {steps}-step run) / {steps}, "
                         f"interleaved with {steps} bare execs. That is what each step costs "
                         "with the audit event and the journal transition fsynced before its "
                         "command; the run's fixed costs (connect, lock, journal, audit open) "
                         "are left out, as the bare exec has none")
        cli = results.get("b", {}).get("runbook")
        if cli is not None and cli.wall is not None and startup.get("runbook") is not None:
            cli_ms = (cli.wall - (startup["runbook"] or 0)) / steps * 1000
            rep.notes.append(f"runbook CLI per SSH step, everything after start-up included "
                             f"(imports of the run path, connecting, lock, journal): "
                             f"{cli_ms:.1f} ms = {cli_ms / cost.bare_ms:.2f}x a bare exec")
    return rep


def workloads_steps(workloads: list[Workload], key: str) -> int:
    return next(w.steps for w in workloads if w.key == key)


def write_docs(rep: Report, opts: argparse.Namespace, command: str) -> None:
    machine = (f"{os.cpu_count()} CPUs (nproc {len(os.sched_getaffinity(0))}), "
               f"{platform.system()} {platform.release()} {platform.machine()}, "
               f"Python {platform.python_version()}")
    tools = "; ".join(f"{k} {v}" for k, v in rep.versions.items())
    notes = "\n".join(f"- {n}" for n in rep.notes)
    text = f"""\
        # Performance: runbook, ansible-playbook and pyinfra on the same workloads

        Generated by `benchmarks/compare.py` (do not edit by hand; run it again).

        - Command: `{command}`
        - Machine: {machine}; load average {rep.load[0]:.1f} before the run and
          {rep.load[1]:.1f} after it (other work on the machine adds noise to every tool alike)
        - Tools: {tools}
        - Median of {opts.repeat} runs after one untimed warm-up run; each tool runs as a
          fresh process, one after another, interleaved round by round.

        {{table}}

        {{notes}}

        ## What each workload measures

        - **(a) local**: {opts.steps} steps that each run `/bin/true` on this machine, one
          after another. runbook: `host.shell` steps (mutating, so each step's audit event is
          written and fsynced before the command starts, and the journal records each state
          change). ansible-playbook: `connection: local`, `gather_facts: false`,
          `ansible.builtin.command: /bin/true`. pyinfra: `@local` with `server.shell`.
        - **(b) SSH, one host**: the same {opts.steps} steps over SSH to an unprivileged
          OpenSSH server on 127.0.0.1 started by the script (strict host key checking
          through a generated known_hosts file on every side). runbook keeps one paramiko
          connection per host; ansible-playbook uses OpenSSH with ControlPersist and
          pipelining on (its fastest settings; warm-up and repeats reuse its control
          masters); pyinfra keeps one paramiko connection per host.
        - **(c) fan-out**: {opts.hosts} distinct target names, all 127.0.0.1 on the sshd
          port, {opts.host_steps} steps each, {opts.forks} hosts at a time (runbook
          `--forks {opts.forks}` on a group from an inventory file, ansible `-f
          {opts.forks}`, pyinfra `--parallel {opts.forks}`). Per step here is per
          host-step ({opts.hosts} x {opts.host_steps}), with {opts.forks} running at once.
          runbook and pyinfra log in once per target name; OpenSSH's ControlMaster, which
          ansible-playbook uses, keys its connections by host, port and user, so the names
          share connections there (the logins each tool made are in the notes above).
        - **(d) start-up**: a fresh process that does nothing useful: `runbook --help`,
          `ansible-playbook --version`, `pyinfra --version`; and `runbook validate
          playbooks/`, which loads and checks every bundled playbook. `python -c pass` is
          the interpreter alone.
        - **runbook engine (API)**: `runbook.run(playbook, ...)` in an already running
          Python process: what the engine, executors, audit log and journal cost without
          interpreter start and imports.
        - **bare paramiko exec**: `exec_command("/bin/true")` on one already-open
          connection with TCP_NODELAY (the approach of `benchmarks/ssh_overhead.py`), the
          floor for one SSH step.
        - **one more SSH step in a run (marginal)**: (engine time of a {2 * opts.steps}-step
          SSH run - that of the {opts.steps}-step run) / {opts.steps}: a step's own cost
          (templating, arguments, the audit event and journal transition made durable
          before the command, the command, the result) without the run's one-off costs.

        "per step ms" is (wall - that tool's start-up from (d)) / steps; "x runbook" is the
        wall time against runbook's CLI on the same workload (above 1 means slower than
        runbook). The sshd runs on the same 2-CPU machine as the tools, so SSH numbers
        include the server's work; absolute times vary by machine, the ratios are what the
        performance budgets in DESIGN.md are about.
        """
    body = textwrap.dedent(text).replace("{table}", rep.markdown()).replace("{notes}", notes)
    DOCS.parent.mkdir(parents=True, exist_ok=True)
    DOCS.write_text(body.rstrip() + "\n", encoding="utf-8")
    print(f"wrote {DOCS}", file=sys.stderr)


# --- main --------------------------------------------------------------------------------------

def byte_compile() -> None:
    """Byte-compile runbook's own sources, as ``pip install`` does for ansible and pyinfra
    in their venv: with PYTHONDONTWRITEBYTECODE set (or a read-only checkout) every run
    would otherwise recompile them (about 100 ms per process)."""
    done = run([sys.executable, "-m", "compileall", "-q", str(ROOT / "runbook"),
                str(ROOT / "plugins")], timeout=300)
    if done.rc:
        raise SystemExit(f"compileall failed:\n{done.output[-2000:]}")


def measure_all(tmp: Path, venv: Path, srv: Server, opts: argparse.Namespace,
                tools: Sequence[str], keys: set[str]) -> Report:
    load_before = os.getloadavg()[0]
    byte_compile()
    workloads = [w for w in build_workloads(tmp, venv, srv, opts)
                 if w.key in keys or w.key == "d"]
    env = workloads[0].env
    versions = {
        "runbook": version([sys.executable, "-m", "runbook", "--version"], env["runbook"]),
        "ansible-core": version([str(venv / "bin" / "ansible-playbook"), "--version"],
                                env["ansible"]),
        "pyinfra": version([str(venv / "bin" / "pyinfra"), "--version"], env["pyinfra"]),
    }
    results: dict[str, dict[str, Result]] = {}
    engine: dict[str, Result] = {}
    for w in workloads:
        print(f"{w.title}", file=sys.stderr)
        results[w.key] = measure(w, tools, opts.repeat, opts.timeout,
                                 srv if w.key in ("b", "c") else None)
        if ENGINE in results[w.key]:
            engine[w.key] = results[w.key].pop(ENGINE)
    python_start = statistics.median(
        run([sys.executable, "-c", "pass"], timeout=60).seconds
        for _ in range(max(3, opts.repeat)))
    validate = Result("validate")
    for _ in range(opts.repeat):
        done = run([sys.executable, "-m", "runbook", "validate", "playbooks"],
                   timeout=opts.timeout, env=env["runbook"], cwd=ROOT)
        validate.times.append(done.seconds)
        if done.rc not in (0, 2):  # 2: some playbook is invalid, which still times the work
            validate.error = _error_line(done.output, done.rc)
    b = next((w for w in workloads if w.key == "b"), None)
    cost = ssh_step_cost(b, srv, max(5, opts.repeat)) if b is not None else None
    rep = report(workloads, results, engine, python_start, validate, cost)
    rep.versions = versions
    rep.load = (load_before, os.getloadavg()[0])
    return rep


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3, help="timed runs per tool and workload")
    ap.add_argument("--venv", type=Path, help="virtualenv to reuse (created if missing)")
    ap.add_argument("--write-docs", action="store_true", help=f"write {DOCS.relative_to(ROOT)}")
    ap.add_argument("--steps", type=int, default=50, help="steps in (a) and (b)")
    ap.add_argument("--hosts", type=int, default=20, help="target names in (c)")
    ap.add_argument("--host-steps", type=int, default=5, help="steps per host in (c)")
    ap.add_argument("--forks", type=int, default=10, help="hosts at a time in (c)")
    ap.add_argument("--tools", default=",".join(TOOLS), help="comma-separated subset")
    ap.add_argument("--workloads", default="a,b,c,d", help="comma-separated subset")
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds per process")
    opts = ap.parse_args(argv)
    tools = [t for t in opts.tools.split(",") if t in TOOLS]
    keys = set(opts.workloads.split(","))
    command = shlex.join(["python", "benchmarks/compare.py",
                          *(sys.argv[1:] if argv is None else argv)])

    with sigterm_as_interrupt(), tempfile.TemporaryDirectory(prefix="rb-compare-") as t:
        tmp = Path(t)
        os.environ["RUNBOOK_HOME"] = str(tmp / "runbook-home-api")
        venv = ensure_venv(opts.venv or tmp / "venv", timeout=900)
        (tmp / "sshd").mkdir()
        with running_sshd(tmp / "sshd") as srv:
            print(f"sshd on {srv.host}:{srv.port}", file=sys.stderr)
            try:
                rep = measure_all(tmp, venv, srv, opts, tools, keys)
            finally:
                stop_control_masters(tmp / "ansible" / "cp")
    print(rep.markdown())
    for note in rep.notes:
        print(f"\n{note}")
    if opts.write_docs:
        write_docs(rep, opts, command)
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except KeyboardInterrupt:
        print("interrupted; sshd stopped, temp files removed", file=sys.stderr)
        raise SystemExit(130) from None
