"""Engine overhead on local steps, measured against bare subprocess calls in the same run.

    python benchmarks/bench_local.py [--steps 50] [--repeat 5]

Workload: a playbook of N ``host.shell`` steps running /bin/true (mutating, so
each step is audited and fsynced before its command starts), run through the
engine in-process with the audit log on, against N bare ``subprocess.run``
calls. Also times ``runbook --help`` and ``runbook validate playbooks/`` as
fresh processes. Prints a table; no pass/fail, budgets are judged by people.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def playbook_text(steps: int) -> str:
    lines = ["runbook: 1", "name: bench-local", "steps:"]
    for i in range(steps):
        lines += [f"  - id: s{i}", "    action: host.shell", "    with: {command: [/bin/true]}"]
    return "\n".join(lines) + "\n"


def bare(steps: int) -> float:
    start = time.perf_counter()
    for _ in range(steps):
        subprocess.run(["/bin/true"], check=True, capture_output=True,
                       stdin=subprocess.DEVNULL, start_new_session=True)
    return time.perf_counter() - start


def engine(steps: int, tmp: Path) -> float:
    import runbook

    pb = runbook.loads(playbook_text(steps), file="bench.yaml")
    start = time.perf_counter()
    result = runbook.run(pb, audit_log=tmp / "audit.jsonl", interactive=False)
    took = time.perf_counter() - start
    assert result.exit_code == 0, result.error
    return took


def fresh(argv: list[str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "runbook", *argv], check=False,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=5)
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        engine(5, Path(tmp))  # warm imports and the plugin registry
        bare_t = statistics.median(bare(opts.steps) for _ in range(opts.repeat))
        eng_t = statistics.median(engine(opts.steps, Path(tmp)) for _ in range(opts.repeat))
    per_bare = bare_t / opts.steps * 1000
    per_eng = eng_t / opts.steps * 1000
    help_t = fresh(["--help"], opts.repeat) * 1000
    validate_t = fresh(["validate", "playbooks"], opts.repeat) * 1000
    python_t = statistics.median(
        _time([sys.executable, "-c", "pass"]) for _ in range(opts.repeat)) * 1000
    print(f"{'workload':<44}{'total ms':>10}{'per step ms':>13}")
    label = f"bare subprocess.run x {opts.steps}"
    print(f"{label:<44}{bare_t * 1000:>10.1f}{per_bare:>13.2f}")
    print(f"{'runbook engine x ' + str(opts.steps) + ' (audit+journal)':<44}{eng_t * 1000:>10.1f}"
          f"{per_eng:>13.2f}")
    print(f"{'engine overhead per step':<44}{'':>10}{per_eng - per_bare:>13.2f}")
    print(f"{'python -c pass (interpreter start)':<44}{python_t:>10.1f}")
    print(f"{'runbook --help':<44}{help_t:>10.1f}")
    print(f"{'runbook validate playbooks/':<44}{validate_t:>10.1f}")


def _time(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=False)
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
