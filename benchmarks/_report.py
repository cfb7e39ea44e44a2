"""The tables and notes of benchmarks/compare.py, and docs/performance.md made from them."""

from __future__ import annotations

import argparse
import json
import os
import platform
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _cases import Case
from _stats import Sample, Series, Spread, cell, marginal, ratio, spread

LABEL = {"runbook": "runbook", "ansible": "ansible-playbook", "pyinfra": "pyinfra",
         "sshexec": "runbook's SSH executor alone (no engine)",
         "paramiko": "paramiko alone, out of the box"}
PASS = "python -c pass (the interpreter)"
STANDIN = "stand-in: kubectl get deployment (simulated estate)"


@dataclass
class Context:
    cases: list[Case]
    series: dict[str, Series]
    opts: argparse.Namespace
    versions: dict[str, str]
    cost: Any
    load: tuple[float, float]
    disk: str
    command: str = ""
    targets: list[str] = field(default_factory=list)

    def get(self, group: str, tool: str, n: int) -> Series:
        return self.series.get(f"{group}/{tool}/{n}", Series(error="not measured"))

    def label(self, label: str) -> Series:
        return self.series.get(f"d/{label}", Series(error="not measured"))

    def tools(self, group: str) -> list[str]:
        return list(dict.fromkeys(c.tool for c in self.cases if c.group == group))

    def sizes(self, group: str, tool: str) -> list[int]:
        return sorted({c.n for c in self.cases if c.group == group and c.tool == tool})


def dump(ctx: Context, path: Path) -> None:
    """The raw samples, so the report can be rendered again without measuring again."""
    data = {"cases": [dict(vars(c), cwd=str(c.cwd), env={}) for c in ctx.cases],
            "series": {k: {"error": v.error, "samples": [vars(x) for x in v.samples]}
                       for k, v in ctx.series.items()},
            "opts": vars(ctx.opts), "versions": ctx.versions, "load": ctx.load,
            "disk": ctx.disk, "command": ctx.command,
            "cost": vars(ctx.cost) if ctx.cost is not None else None}
    path.write_text(json.dumps(data, indent=1, default=str), encoding="utf-8")


def load(path: Path) -> Context:
    from compare import StepCost

    data = json.loads(path.read_text(encoding="utf-8"))
    cases = [Case(**dict(c, cwd=Path(c["cwd"]))) for c in data["cases"]]
    series = {k: Series([Sample(**x) for x in v["samples"]], v["error"])
              for k, v in data["series"].items()}
    cost = StepCost(**data["cost"]) if data["cost"] else None
    return Context(cases, series, argparse.Namespace(**data["opts"]), data["versions"], cost,
                   tuple(data["load"]), data["disk"], data["command"])


def _table(head: list[str], rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] * len(head)) + "|"]
    return "\n".join(out + ["| " + " | ".join(r) + " |" for r in rows])


def _ms(s: Series, what: str = "wall") -> str:
    return s.error if s.error and not s.samples else cell(spread(s, what))


def startup_table(ctx: Context) -> str:
    py = ctx.label(PASS)
    rows = []
    named = [c.label for c in ctx.cases if c.group == "d"]
    one = [(f"{LABEL[t]}: a one-step local run", ctx.get("a", t, 1)) for t in ctx.tools("a")]
    for label, s in [(label, ctx.label(label)) for label in named] + one:
        rows.append([label, _ms(s), cell(ratio(s, py), "x"), _ms(s, "cpu"),
                     cell(ratio(s, py, "cpu"), "x")])
    return _table(["start-up case", "wall ms, median [min-max]",
                   "wall x python -c pass, pair by pair", "CPU ms (process + children)",
                   "CPU x python -c pass"], rows)


def steps_table(ctx: Context, group: str) -> str:
    n = ctx.opts.steps
    rows = []
    base = marginal(ctx.get(group, "runbook", n), ctx.get(group, "runbook", 1), n, 1)
    for tool in ctx.tools(group):
        big, small = ctx.get(group, tool, n), ctx.get(group, tool, 1)
        per = marginal(big, small, n, 1)
        against = None
        if base is not None and per is not None:
            rb_big, rb_small = ctx.get(group, "runbook", n), ctx.get(group, "runbook", 1)
            rounds = zip(big.samples, small.samples, rb_big.samples, rb_small.samples,
                         strict=False)
            against = Spread.of([(b.wall - s.wall) / (rb.wall - rs.wall)
                                 for b, s, rb, rs in rounds if rb.wall > rs.wall])
        rows.append([LABEL[tool], _ms(small), _ms(big), cell(per), cell(against, "x"),
                     _ms(big, "cpu"), _ms(big, "sshd") if group == "b" else "—"])
    return _table(["tool", "1 step: wall ms", f"{n} steps: wall ms",
                   "per step ms (marginal)", "per step x runbook", f"tool CPU ms ({n})",
                   f"sshd CPU ms ({n})"], rows)


def _bound(s: Series, cpus: int) -> Spread | None:
    """wall / ((tool CPU + sshd CPU) / cpus), per run: 1.0 means every CPU was busy."""
    if not s.ok():
        return None
    return Spread.of([x.wall / ((x.cpu + x.sshd) / cpus) for x in s.samples
                      if x.cpu + x.sshd > 0])


def fanout_table(ctx: Context) -> str:
    cpus = len(os.sched_getaffinity(0))
    rows = []
    for tool in ctx.tools("c"):
        for names in ctx.sizes("c", tool):
            s = ctx.get("c", tool, names)
            logins = s.samples[-1].logins if s.ok() else "—"
            sw = spread(s, "switches")
            switches = f"{sw.median:,.0f} [{sw.low:,.0f}-{sw.high:,.0f}]" if sw else "—"
            rows.append([LABEL[tool], str(names), _ms(s), _ms(s, "cpu"), _ms(s, "sshd"),
                         cell(_bound(s, cpus), "x"), str(logins), switches])
        sizes = ctx.sizes("c", tool)
        if len(sizes) > 1:
            lo, hi = sizes[0], sizes[-1]
            big, small = ctx.get("c", tool, hi), ctx.get("c", tool, lo)
            rows.append([f"**{LABEL[tool]}: per added name**", f"{lo}→{hi}",
                         cell(marginal(big, small, hi, lo)),
                         cell(marginal(big, small, hi, lo, "cpu")),
                         cell(marginal(big, small, hi, lo, "sshd")), "—", "—", "—"])
    return _table(["tool", "names", "wall ms", "tool CPU ms", "sshd CPU ms",
                   f"wall / ((tool + sshd CPU) / {cpus} CPUs)", "SSH logins",
                   "tool context switches"], rows)


def engine_rows(ctx: Context) -> str:
    c = ctx.cost
    if c is None:
        return ""
    eng, bare = Spread.of(c.engine), Spread.of(c.bare)
    ratios = Spread.of([e / b for e, b in zip(c.engine, c.bare, strict=False)])
    return _table(["in one process", "ms per SSH step, median [min-max]", "x bare exec"], [
        ["bare paramiko exec on one open connection", cell(bare), "1.00x"],
        ["runbook engine, one more step in a run (marginal)", cell(eng), cell(ratios, "x")]])


def targets(ctx: Context) -> list[str]:
    """Issue 16's four targets, each with the figure that decides it."""
    out = []
    py = ctx.label(PASS)
    one = ratio(ctx.get("a", "runbook", 1), py)
    one_cpu = ratio(ctx.get("a", "runbook", 1), py, "cpu")
    if one is not None and one_cpu is not None:
        out.append(_verdict(one.median <= 10, "start-up: a one-step local `runbook run` (audit "
                            f"and journal on, output piped) at most 10x `python -c pass`: "
                            f"{one.times()} in wall time ({one_cpu.times()} in CPU time)"))
    for what in ("validate (one-step playbook)", "plan (one-step playbook)"):
        r = ratio(ctx.label(f"runbook {what}"), py)
        if r is not None:
            out.append(_verdict(r.median <= 10, f"start-up: `runbook {what}` at most 10x "
                                f"`python -c pass`: {r.times()}"))
    sizes = ctx.sizes("c", "runbook")
    if len(sizes) > 1:
        big, small = ctx.get("c", "runbook", sizes[-1]), ctx.get("c", "runbook", sizes[0])
        per = marginal(big, small, sizes[-1], sizes[0], "cpu")
        below = ""
        for tool, what in (("sshexec", "runbook's SSH executor alone"),
                           ("paramiko", "paramiko alone")):
            floor = marginal(ctx.get("c", tool, sizes[-1]), ctx.get("c", tool, sizes[0]),
                             sizes[-1], sizes[0], "cpu")
            if floor is not None:
                below += f"; {what}, same logins and commands: {floor.ms(2)} ms"
        if per is not None:
            out.append(_verdict(per.median * 1000 <= 6, "fan-out: runbook's CPU per added "
                                f"target name at most 6 ms ({sizes[0]}→{sizes[-1]} names): "
                                f"{per.ms(2)} ms{below}"))
        bound = _bound(big, len(os.sched_getaffinity(0)))
        if bound is not None:
            out.append(_verdict(bound.median <= 1.10, f"fan-out: wall time at {sizes[-1]} "
                                "names within 10% of (tool CPU + sshd CPU) / CPUs: "
                                f"{bound.times()}"))
    standin = ratio(ctx.label(STANDIN), py)
    if standin is not None:
        out.append(_verdict(standin.median <= 3, "stand-ins: one stand-in call at most 3x "
                            f"`python -c pass`: {standin.times()}"))
    return out


def _verdict(met: bool, text: str) -> str:
    return f"**{'met' if met else 'NOT met'}**: {text}"


def render(ctx: Context) -> str:
    parts = ["## Targets (issue 16)", "\n".join(f"- {t}" for t in targets(ctx)),
             "## (d) start-up, and one-step runs", startup_table(ctx)]
    for group, title in (("a", f"(a) {ctx.opts.steps} x /bin/true, local"),
                         ("b", f"(b) {ctx.opts.steps} x /bin/true, SSH to one host")):
        if ctx.tools(group) and ctx.opts.steps in ctx.sizes(group, "runbook"):
            parts += [f"## {title}", steps_table(ctx, group)]
    if ctx.tools("c"):
        parts += [f"## (c) fan-out: {ctx.opts.host_steps} steps per name, "
                  f"{ctx.opts.forks} names at a time", fanout_table(ctx)]
    engine = engine_rows(ctx)
    if engine:
        parts += ["## runbook's engine per SSH step, in one process", engine]
    return "\n\n".join(parts)


def write_docs(ctx: Context, docs: Path) -> None:
    machine = (f"{os.cpu_count()} CPUs (nproc {len(os.sched_getaffinity(0))}), "
               f"{platform.system()} {platform.release()} {platform.machine()}, "
               f"Python {platform.python_version()}, {_cpu_model()}")
    tools = "; ".join(f"{k} {v}" for k, v in ctx.versions.items())
    o = ctx.opts
    head = textwrap.dedent(f"""\
        # Performance: runbook, ansible-playbook and pyinfra on the same workloads

        Generated by `benchmarks/compare.py` (do not edit by hand; run it again).

        - Command: `{ctx.command}`
        - Machine: {machine}; load average {ctx.load[0]:.1f} before the run and
          {ctx.load[1]:.1f} after it (other work on the machine adds noise to every tool alike;
          the ranges show how much)
        - Tools: {tools}
        - Audit logs and runbook's journal (and everything else of the run) in {ctx.disk}:
          a real disk, so each fsync of the durability contract is paid
        - {o.repeat} timed rounds after one untimed warm-up round. In every round each case
          runs once as a fresh process, all cases one after another; a figure is the median
          over the rounds with the range (min-max) beside it; a ratio is taken round by round
          (both sides from the same round) and then summarised the same way.
        - Bytecode: every tool runs from compiled bytecode (one PYTHONPYCACHEPREFIX folder,
          filled by the warm-up round), as installed packages do.
        """)
    body = render(ctx)
    explain = EXPLAIN.format(o=o, steps_1=o.steps - 1, steps_2=o.steps * 2)
    docs.write_text(head + "\n" + body + "\n\n" + explain + "\n", encoding="utf-8")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


EXPLAIN = """\
## What each case measures

- **(a) local**: steps that each run `/bin/true` on this machine, one after another,
  as a one-step run and as a {o.steps}-step run of each tool. runbook: `host.shell` steps
  (mutating, so each step's audit event is written and fsynced before the command starts,
  and the journal records each state change). ansible-playbook: `connection: local`,
  `gather_facts: false`, `ansible.builtin.command: /bin/true`. pyinfra: `@local` with
  `server.shell`. **Per step** is the marginal cost, (T({o.steps}) - T(1)) / {steps_1},
  computed within each round: a tool's start-up is not spread over its steps.
- **(b) SSH, one host**: the same over SSH to an unprivileged OpenSSH server on 127.0.0.1
  started by the script (strict host key checking through a generated known_hosts file on
  every side). runbook and pyinfra keep one paramiko connection per host;
  ansible-playbook uses OpenSSH with ControlPersist and pipelining on (its fastest
  settings; its control masters outlive a run, so their logins and server CPU are paid
  once, in the warm-up round).
- **(c) fan-out**: a group of N target names (all 127.0.0.1 on the sshd port),
  {o.host_steps} steps each, {o.forks} names at a time (runbook `--forks {o.forks}` on a
  group from an inventory file, pyinfra `--parallel {o.forks}`, ansible `-f {o.forks}`,
  given at most {o.ansible_max_names} names: it takes about a second per name). runbook and
  pyinfra log in once per name; OpenSSH's ControlMaster keys connections by host, port and
  user, so ansible's names share one. **Per added name** is (T(largest) - T(smallest)) /
  (difference in names), round by round, for wall time, the tool's CPU and the sshd's CPU.
  The wall / CPU column is 1.0 when the run kept every CPU busy with the tool's and the
  server's work (both run on this machine).
- **(d) start-up**: `python -c pass` (the interpreter alone, the yardstick);
  `--help`/`--version` of each tool; `runbook validate` and `runbook plan` of the one-step
  playbook; `runbook validate playbooks/` (every bundled playbook); one stand-in call of the
  simulated estate (`bin/kubectl ... get deployment ... -o json` in a `cfs-stuck-sessions`
  sandbox, which reads, evolves and writes the sandbox's state; an untimed call just before
  each timed one keeps the simulated time it evolves the same). The one-step runs of (a)
  are the start-up that does work: runbook one step, pyinfra one operation, ansible one
  task.
- **CPU**: the tool's own CPU time and its children's (ansible's workers, ssh clients),
  from the kernel's accounting of reaped children; the sshd's from /proc (its
  per-connection processes once reaped). An OpenSSH ControlMaster left running by
  ansible-playbook is not counted.
- **runbook's engine per SSH step, in one process**: (engine time of a
  {steps_2}-step SSH run - that of a {o.steps}-step run) / {o.steps} through
  `runbook.run` in the benchmark's own process, each round interleaved with {o.steps} bare
  paramiko `exec_command("/bin/true")` on one open connection (the floor for one SSH step):
  a step's own cost with the audit event and the journal transition made durable before the
  command.

The sshd runs on the same machine as the tools, so SSH figures include the server's work;
absolute times vary by machine, the ratios are what the performance budgets in DESIGN.md
are about.

## What keeps runbook's costs down (and the tests that guard it)

- **Start-up**: a run whose output is not a terminal never imports rich (`runbook.markup`
  renders rich's markup as plain text, checked against rich itself); the audit pipeline is
  structlog's `BoundLoggerBase` imported without structlog's package `__init__` (which pulls
  in its console renderer, rich, asyncio: `runbook.lightimport`); `import runbook` imports
  nothing heavy, not even pluggy. `tests/test_startup.py` runs the real CLI and fails if a
  piped one-step run, `validate`, `plan` or `--help` imports what it does not use (rich,
  structlog's package, paramiko, jinja2, ...). The bundled plugins declare their actions
  as `"module:Class"`, imported when a playbook first names one (`runbook.lazyactions`):
  a run no longer builds the sixty-odd pydantic models of actions it does not use, and the
  playbook models build their validators when first used (`defer_build`). paramiko is
  imported without `invoke` (which paramiko.config imports for ssh_config's `Match exec`,
  never used here; as long again as paramiko itself: `runbook.executors.paramiko_lean`).
  What is left is mostly pydantic's own import and the models' construction.
- **Stand-ins**: the generated `bin/` scripts run `python -S` and import only
  `runbook.sim` and the tool's own `sim` modules (`tests/test_sim_cli.py`).
- **SSH fan-out**: per connection, AES-GCM is offered first (with AES-CTR paramiko checks
  every packet's MAC in a pure-Python loop), the key file and known_hosts are parsed once
  per version of the file rather than per login, the server's debug messages are not
  escaped unless logged, and an idle transport thread wakes once a second instead of ten
  times (closing shuts its socket down, so it still ends at once); `tests/test_ssh_cost.py`
  checks each of these against the loopback sshd. The connection's socket reads ahead
  (paramiko asks for each packet in two `recv` calls; the packets of a command that arrive
  together now cost one), a command's stdin and EOF follow its exec request without
  waiting for the reply (as OpenSSH's client does), and known_hosts patterns and
  paramiko's algorithm lists are built once rather than per login (`tests/test_ssh_cost.py`
  again). What is left per name is paramiko's pure-Python packet handling: the key
  exchange and login (about 3 ms of CPU) and about 0.65 ms per command (channel open, exec,
  output, exit status, close), plus the audit event and journal transition of each
  host-step. Two rows of (c) do the same logins and commands without the engine (no
  audit, no journal; `benchmarks/ssh_floor.py`): **paramiko alone, out of the box**, and
  **runbook's SSH executor alone**; runbook's CPU per added name less the latter's is the
  engine's own share.
- **Fan-out waves**: a group's batch starts its first `--forks` hosts as soon as their
  journal rows and audit events are on disk, and records the rest while those run; the
  group's own "running" transition rides in that first commit. The servers are busy while
  the engine thread records, instead of waiting for it (`tests/test_fanout.py` checks,
  under a slow disk, that no host's command starts before its own records).
- **Durability, grouped**: the audit log's fsync runs outside its write mutex and covers
  every append written before it started, so concurrent durable appends share one fsync
  (an append whose line an earlier fsync covered skips its own); the journal commits the
  transitions of concurrent threads in one transaction (each caller still returns only
  once its own transition is committed). Nothing starts before its audit event and
  journal transition are on disk, as before (`tests/test_group_commit.py`,
  `tests/test_durability.py`)."""
