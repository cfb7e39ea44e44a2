"""Ansible's habits on ``run``/``plan``: ``--limit``, ``--list-hosts``, ``--tags``,
``--skip-tags``, ``--start-at``, ``-v``/``-vv`` and ``-q`` (docs/cli.md has the table
of the Ansible flags they stand for). The choices land in ``RunOptions``; what
they do lives in ``runbook.limit``, ``runbook.tags`` and ``runbook.console_verbose``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from runbook import completion

if TYPE_CHECKING:
    from pathlib import Path

    from runbook.errors import Problem
    from runbook.models import Playbook, Target
    from runbook.options import RunOptions

OPTIONS: list[Callable[[Any], Any]] = [
    click.option("--limit", "-l", metavar="PATTERN", shell_complete=completion.targets,
                 help="Only these hosts of every group target: names, groups, globs, "
                      "!excluded, &intersection, @file; comma or colon separated."),
    click.option("--list-hosts", is_flag=True,
                 help="Print the hosts each target of the playbook stands for, then stop."),
    click.option("--tags", "-t", multiple=True, metavar="TAGS",
                 shell_complete=completion.tag_names,
                 help="Only steps with one of these tags (comma separated, repeatable)."),
    click.option("--skip-tags", multiple=True, metavar="TAGS",
                 shell_complete=completion.tag_names,
                 help="Leave out steps with one of these tags."),
    click.option("--start-at", metavar="STEP", shell_complete=completion.start_at,
                 help="Leave out the steps before STEP (plan it, then run the plan)."),
    click.option("-v", "--verbose", count=True,
                 help="-v: each step's commands; -vv: also their output."),
    click.option("-q", "--quiet", is_flag=True, help="Only the summary (and errors)."),
]


def _names(values: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(n.strip() for v in values for n in v.split(",") if n.strip())


def apply(options: RunOptions, habits: dict[str, Any]) -> bool:
    """Put the flags into the run's options; whether ``--list-hosts`` was asked."""
    options.limit = habits.get("limit") or None
    options.tags = _names(habits.get("tags") or ())
    options.skip_tags = _names(habits.get("skip_tags") or ())
    options.start_at = habits.get("start_at") or None
    options.verbosity = -1 if habits.get("quiet") else int(habits.get("verbose") or 0)
    return bool(habits.get("list_hosts"))


def select(playbook: Playbook, options: RunOptions) -> dict[str, Target]:
    """The targets after ``--limit`` (``options.targets`` narrowed in place, once), the
    steps left out decided: what the run, the plan's Markdown and the connections opened
    early all use."""
    from runbook.options import select as narrow
    from runbook.plugins import default_registry

    return narrow(playbook, options, default_registry())


def list_hosts(playbook: Playbook, options: RunOptions) -> str:
    """Each target the playbook runs on and its hosts (after ``--limit``), as Ansible's
    ``--list-hosts`` prints them."""
    from runbook.limit import Universe, used_targets
    from runbook.options import select
    from runbook.plugins import default_registry

    registry = default_registry()
    targets = {**playbook.effective_targets(), **select(playbook, options, registry)}
    universe = Universe(targets, registry)
    lines = [f"playbook {playbook.name}"
             + (f" (--limit {options.limit})" if options.limit else "")]
    for name in used_targets(playbook):
        hosts = universe.groups.get(name, [name])
        lines.append(f"  target {name} ({len(hosts)}):")
        lines += [f"    {h}" for h in hosts]
    return "\n".join(lines)


def limit_problems(files: list[Path], bad: set[str], targets: dict[str, Target],
                   pattern: str) -> list[Problem]:
    """``validate --limit``: what the limit would refuse in a run of each valid playbook
    (a term that selects nothing, a group a step needs that it leaves empty)."""
    from runbook.errors import PlaybookError, Problem
    from runbook.limit import narrow
    from runbook.loader import load
    from runbook.plugins import default_registry

    registry = default_registry()
    out: list[Problem] = []
    for path in files:
        if str(path) in bad:
            continue
        playbook = load(path, registry=registry, targets=targets)
        try:
            narrow(playbook, dict(targets), pattern, registry)
        except PlaybookError as exc:
            out.append(Problem(str(path), None, "--limit", exc.problem.message))
    return out
