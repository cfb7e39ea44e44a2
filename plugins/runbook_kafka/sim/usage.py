"""Kafka's scripts' command-line parsing (jopt-simple) and usage errors."""

from __future__ import annotations

import sys

from runbook.sim.argv import Parsed, UsageError, parse


def kafka_usage(message: str) -> int:
    """Kafka's scripts print usage errors on stderr and exit 1."""
    print(message, file=sys.stderr)
    return 1


def parse_kafka(argv: list[str], flags: dict[str, bool],
                not_simulated: tuple[str, ...] | frozenset[str]) -> Parsed | str:
    """Parse like jopt-simple; the message Kafka's scripts would print on bad usage."""
    try:
        opts = parse(argv, flags)
    except UsageError as exc:
        if exc.kind == "missing_value":
            return f"Option {exc.flag} requires an argument"
        return f"{exc.flag if exc.kind == 'unknown' else exc.token} is not a recognized option"
    for name in not_simulated:
        if opts.has(name):
            return f"--{name} is not simulated by the runbook estate"
    return opts
