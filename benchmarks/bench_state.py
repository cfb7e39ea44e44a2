"""Per-mutating-step overhead of the PostgreSQL state backend against the SQLite default,
measured in the same run.

    python benchmarks/bench_state.py [--steps 50] [--repeat 5]

Workload: a playbook of N ``host.shell`` steps running /bin/true (mutating: before
each command the journal commits its transition and the audit event is made
durable), run in-process through the engine (1) with the default local state
(SQLite journal, synchronous=FULL, and the JSONL audit log, fsynced) and (2) with
``state_url=postgresql://...`` on a throwaway cluster on loopback
(benchmarks/_pgcluster.py, fsync on), against N bare ``subprocess.run`` calls.
Prints the median per-step overhead of each and their ratio (target: PostgreSQL
within 2x of SQLite). Needs Debian's postgresql package and psycopg.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._pgcluster import fresh_database, running_cluster  # noqa: E402
from benchmarks.bench_local import bare, playbook_text  # noqa: E402


def engine(steps: int, **options: object) -> float:
    import runbook

    pb = runbook.loads(playbook_text(steps), file="bench.yaml")
    start = time.perf_counter()
    result = runbook.run(pb, interactive=False, **options)  # type: ignore[arg-type]
    took = time.perf_counter() - start
    assert result.exit_code == 0, result.error
    return took


def measure(steps: int, repeat: int) -> dict[str, float]:
    """Median seconds per step: bare, sqlite, postgresql (one cluster for all rounds)."""
    times: dict[str, list[float]] = {"bare": [], "sqlite": [], "postgresql": []}
    with running_cluster() as cluster, tempfile.TemporaryDirectory() as tmp:
        url = fresh_database(cluster, "bench")
        engine(2, state_url=url)  # schema created, imports warm
        for i in range(repeat):
            home = Path(tmp) / f"r{i}"
            times["bare"].append(bare(steps) / steps)
            times["sqlite"].append(engine(steps, audit_log=home / "audit.jsonl",
                                          journal_path=home / "journal.db") / steps)
            times["postgresql"].append(engine(steps, state_url=url) / steps)
    return {k: statistics.median(v) for k, v in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    med = measure(args.steps, args.repeat)
    over = {k: (med[k] - med["bare"]) * 1000 for k in ("sqlite", "postgresql")}
    print(f"{args.steps} mutating steps x {args.repeat} rounds (median per step)")
    print(f"  bare subprocess      {med['bare'] * 1000:7.2f} ms")
    for name in ("sqlite", "postgresql"):
        print(f"  {name:<10} engine   {med[name] * 1000:7.2f} ms   overhead "
              f"{over[name]:6.2f} ms/step")
    ratio = over["postgresql"] / over["sqlite"] if over["sqlite"] > 0 else float("inf")
    print(f"  postgresql / sqlite overhead: {ratio:.2f}x (target <= 2x)")


if __name__ == "__main__":
    main()
