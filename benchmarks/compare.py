"""runbook vs ansible-playbook vs pyinfra: the same workloads, in the same run, on this machine.

    python benchmarks/compare.py                       # throwaway venv, 3 rounds, tables to stdout
    python benchmarks/compare.py --venv /tmp/rb-bench/venv --repeat 5 --write-docs

What it does:

* makes a virtualenv (under the work folder, or ``--venv PATH`` to keep and
  reuse one) and pip-installs ``ansible-core`` and ``pyinfra`` there;
* puts its work folder (runbook's audit logs and journal among it) under
  ``--workdir`` (default /var/tmp) and refuses a memory file system there
  (tmpfs: fsync would cost nothing) unless ``--allow-tmpfs``;
* starts its own unprivileged sshd on a free 127.0.0.1 port with generated keys
  (benchmarks/_sshd.py), stopped at the end, also on Ctrl-C or SIGTERM;
* runs every case (benchmarks/_cases.py) as a fresh process once per round,
  all cases one after another in each round, round after round (round 0 is
  an untimed warm-up), so load from elsewhere on the machine hits all alike;
  records wall time, the tool's CPU, the sshd's CPU and SSH logins per run;
* reports medians with their ranges (min-max), ratios taken round by round
  (pair by pair), per-step costs as marginal costs ((T(N) - T(1)) / (N - 1)),
  the fan-out scaling over 20/50/100 target names, and whether the targets of
  issue 16 are met (benchmarks/_report.py);
* times runbook's engine per SSH step in this process against a bare paramiko
  exec on one open connection.
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
for _p in (str(ROOT), str(HERE)):
    if _p not in sys.path:
        sys.path.insert(0, _p)

from _cases import TOOLS, Case, build_cases  # noqa: E402
from _procs import (  # noqa: E402
    MEMORY_FS,
    byte_compile,
    children_usage,
    ensure_venv,
    filesystem,
    logins,
    run,
    server_cpu,
    settle,
    sigterm_as_interrupt,
    stop_control_masters,
    version,
)
from _report import Context, dump, load, render, write_docs  # noqa: E402
from _sshd import Server, running_sshd  # noqa: E402
from _stats import Sample, Series  # noqa: E402

DOCS = ROOT / "docs" / "performance.md"


# --- measuring ---------------------------------------------------------------------------------

def _error_line(output: str, rc: int) -> str:
    lines = [ln.strip() for ln in output.strip().splitlines() if ln.strip()]
    useful = [ln for ln in lines if "error" in ln.lower() or "fatal" in ln.lower()]
    text = (useful or lines or [""])[-1]
    return f"exit {rc}: {text[:160]}"


def once(case: Case, srv: Server, timeout: float) -> tuple[Sample | None, str | None]:
    """One run of a case: its sample, or why it failed."""
    if case.ssh:
        settle(srv)
    if case.prime:
        run(case.prime, timeout=timeout, env=case.env, cwd=case.cwd)
    before = logins(srv) if case.ssh else 0
    cpu0, ctx0 = children_usage()
    sshd0 = server_cpu(srv) if case.ssh else 0.0
    done = run(case.argv, timeout=timeout, env=case.env, cwd=case.cwd)
    if case.ssh:
        settle(srv)
    cpu1, ctx1 = children_usage()
    sample = Sample(done.seconds, cpu1 - cpu0, (server_cpu(srv) - sshd0) if case.ssh else 0.0,
                    logins(srv) - before if case.ssh else 0, ctx1 - ctx0)
    if done.rc:
        return None, _error_line(done.output, done.rc)
    return sample, None


def measure(cases: Sequence[Case], srv: Server, repeat: int,
            timeout: float) -> dict[str, Series]:
    """Every case once per round, in order, round after round; round 0 warms up."""
    series = {c.key: Series() for c in cases}
    for attempt in range(repeat + 1):
        started = time.monotonic()
        for case in cases:
            s = series[case.key]
            if s.error:
                continue
            sample, error = once(case, srv, timeout)
            if error:
                s.error = error
                print(f"  {case.key}: {error}", file=sys.stderr)
            elif attempt and sample is not None:
                s.samples.append(sample)
        print(f"round {attempt}/{repeat} done in {time.monotonic() - started:.0f} s",
              file=sys.stderr)
    return series


# --- runbook's engine per SSH step, in this process --------------------------------------------

class EngineRun:
    """runbook's engine alone, in this process: no interpreter start, no imports."""

    def __init__(self, playbook: Path, audit_log: Path) -> None:
        import runbook

        self.run = runbook.run
        self.playbook = runbook.load(playbook)
        self.audit_log = audit_log

    def once(self) -> float:
        start = time.perf_counter()
        result = self.run(self.playbook, yes=True, interactive=False, audit_log=self.audit_log)
        took = time.perf_counter() - start
        if result.exit_code:
            raise RuntimeError(f"engine run failed: {result.error or result.outcome}")
        return took


@dataclass
class StepCost:
    """One SSH step's marginal cost in the engine against a bare exec, seconds per round."""

    engine: list[float]
    bare: list[float]


def ssh_step_cost(work: Path, srv: Server, steps: int, rounds: int) -> StepCost | None:
    """(T(2n steps) - T(n steps)) / n in the engine, each round interleaved with n bare
    execs on one open paramiko connection, so that load hits both alike."""
    from ssh_overhead import bare_client, bare_exec, timed

    single = work / f"b{steps}.yaml"
    double = work / f"b2x{steps}.yaml"
    if not single.exists():
        return None
    lines = single.read_text().splitlines()
    body = lines[lines.index("steps:") + 1:]
    extra = [ln.replace("id: s", "id: t") for ln in body]
    double.write_text("\n".join([*lines, *extra]) + "\n", encoding="utf-8")
    try:
        one = EngineRun(single, work / "engine-b.jsonl")
        two = EngineRun(double, work / "engine-b2.jsonl")
    except Exception as exc:  # the table says "not measured"; the rest of the run is kept
        print(f"engine step cost not measured: {type(exc).__name__}: {exc}", file=sys.stderr)
        return None
    client = bare_client(srv.settings())
    cost = StepCost([], [])
    try:
        timed(lambda: bare_exec(client, "/bin/true"), 20)
        for attempt in range(rounds + 1):
            t1 = one.once()
            per_exec = statistics.fmean(timed(lambda: bare_exec(client, "/bin/true"), steps))
            t2 = two.once()
            if attempt:
                cost.engine.append((t2 - t1) / steps)
                cost.bare.append(per_exec / 1000)
    except RuntimeError as exc:
        print(f"engine step cost not measured: {exc}", file=sys.stderr)
        return None
    finally:
        client.close()
    return cost


# --- main --------------------------------------------------------------------------------------

def workdir(opts: argparse.Namespace) -> Path:
    """The parent of the work folder, on a real disk unless --allow-tmpfs."""
    parent = Path(opts.workdir).resolve()
    parent.mkdir(parents=True, exist_ok=True)
    mount, fstype, device = filesystem(parent)
    if fstype in MEMORY_FS and not opts.allow_tmpfs:
        raise SystemExit(f"{parent} is on {fstype} ({mount}): fsync costs nothing there, so "
                         "runbook's durability would be measured as free. Choose a folder on "
                         "a disk with --workdir, or pass --allow-tmpfs to measure it anyway.")
    print(f"work folder (audit logs, journal) under {parent}: {fstype} {device} on {mount}",
          file=sys.stderr)
    return parent


def collect(tmp: Path, venv: Path, srv: Server, opts: argparse.Namespace,
            tools: Sequence[str], groups: set[str]) -> Context:
    load_before = os.getloadavg()[0]
    byte_compile()
    cases = build_cases(tmp, venv, srv, opts, tools, groups)
    env = cases[0].env
    versions = {
        "runbook": version([sys.executable, "-m", "runbook", "--version"], env),
        "ansible-core": version([str(venv / "bin" / "ansible-playbook"), "--version"], env),
        "pyinfra": version([str(venv / "bin" / "pyinfra"), "--version"], env),
    }
    series = measure(cases, srv, opts.repeat, opts.timeout)
    os.environ["RUNBOOK_HOME"] = str(tmp / "runbook-home-api")
    cost = (ssh_step_cost(tmp / "work", srv, opts.steps, max(5, opts.repeat))
            if "b" in groups and "runbook" in tools else None)
    mount, fstype, device = filesystem(tmp)
    return Context(cases=cases, series=series, opts=opts, versions=versions, cost=cost,
                   load=(load_before, os.getloadavg()[0]),
                   disk=f"{tmp} ({fstype} {device} on {mount})")


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3, help="timed rounds (after a warm-up)")
    ap.add_argument("--venv", type=Path, help="virtualenv to reuse (created if missing)")
    ap.add_argument("--write-docs", action="store_true", help=f"write {DOCS.relative_to(ROOT)}")
    ap.add_argument("--steps", type=int, default=50, help="steps in (a) and (b)")
    ap.add_argument("--names", default="20,50,100", help="target names in (c), one run each")
    ap.add_argument("--ansible-max-names", type=int, default=20,
                    help="largest (c) given to ansible-playbook (it takes ~1 s per name)")
    ap.add_argument("--host-steps", type=int, default=5, help="steps per host in (c)")
    ap.add_argument("--forks", type=int, default=10, help="hosts at a time in (c)")
    ap.add_argument("--tools", default=",".join(TOOLS), help="comma-separated subset")
    ap.add_argument("--workloads", default="a,b,c,d", help="comma-separated subset")
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds per process")
    ap.add_argument("--workdir", default="/var/tmp",
                    help="where the work folder goes (audit logs, journal): a real disk")
    ap.add_argument("--allow-tmpfs", action="store_true",
                    help="measure even if --workdir is a memory file system")
    ap.add_argument("--save", type=Path, help="also write the raw samples to this JSON file")
    ap.add_argument("--render", type=Path, metavar="JSON",
                    help="measure nothing: render the samples a --save wrote")
    opts = ap.parse_args(argv)
    opts.names = sorted({int(n) for n in str(opts.names).split(",") if n.strip()})
    return opts


def main(argv: Sequence[str] | None = None) -> int:
    opts = parse(argv)
    if opts.render:
        ctx = load(opts.render)
        print(render(ctx))
        if opts.write_docs:
            write_docs(ctx, DOCS)
            print(f"wrote {DOCS}", file=sys.stderr)
        return 0
    tools = [t for t in opts.tools.split(",") if t in TOOLS]
    groups = set(opts.workloads.split(","))
    command = shlex.join(["python", "benchmarks/compare.py",
                          *(sys.argv[1:] if argv is None else argv)])
    parent = workdir(opts)
    with sigterm_as_interrupt(), tempfile.TemporaryDirectory(prefix="rb-compare-",
                                                             dir=parent) as t:
        tmp = Path(t)
        venv = ensure_venv(opts.venv or tmp / "venv", timeout=900)
        (tmp / "sshd").mkdir()
        with running_sshd(tmp / "sshd") as srv:
            print(f"sshd on {srv.host}:{srv.port}", file=sys.stderr)
            try:
                ctx = collect(tmp, venv, srv, opts, tools, groups)
            finally:
                stop_control_masters(tmp / "ansible" / "cp")
    ctx.command = command
    if opts.save:
        dump(ctx, opts.save)
    print(render(ctx))
    if opts.write_docs:
        write_docs(ctx, DOCS)
        print(f"wrote {DOCS}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except KeyboardInterrupt:
        print("interrupted; sshd stopped, temp files removed", file=sys.stderr)
        raise SystemExit(130) from None
