"""The review commands: ``runbook plan approve PLANFILE`` and ``runbook report RUN_ID``.

``plan`` stays a command (``runbook plan PLAYBOOK``); ``PlanCommand`` hands
``runbook plan approve ...`` to its subcommand. Only click is imported here at
module level: the work is done by ``runbook.approval`` and ``runbook.report``.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

import click


def _errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """runbook.cli.handle_errors, looked up when called (cli imports this module)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from runbook.cli import handle_errors

        return handle_errors(func)(*args, **kwargs)

    return wrapper


@click.command(name="approve")
@click.argument("planfile", type=click.Path(exists=True, dir_okay=False))
@click.option("--reason", required=True, help="Why it may run (recorded in the audit log).")
@click.option("--audit-log", type=click.Path(dir_okay=False),
              help="Audit log path (default $RUNBOOK_HOME/audit.jsonl).")
@click.option("--json", "as_json", is_flag=True)
@_errors
def approve(planfile: str, reason: str, audit_log: str | None, as_json: bool) -> None:
    """Approve a saved plan made by someone else (four eyes)."""
    from runbook.approval import approve as record
    from runbook.options import default_actor

    done = record(planfile, reason, actor=default_actor(), audit_log=audit_log)
    if as_json:
        click.echo(json.dumps(done, indent=2))
        return
    click.echo(f"plan {done['plan_sha256'][:12]} (by {done['author']}) approved by "
               f"{done['approver']}: {reason}\n  recorded in {planfile} and {done['audit_log']}"
               f" (event {done['audit_hash'][:12]})")


class PlanCommand(click.Command):
    """``runbook plan PLAYBOOK``, and ``runbook plan approve PLANFILE`` beside it."""

    subcommands: dict[str, click.Command] = {"approve": approve}

    def make_context(self, info_name: str | None, args: list[str],
                     parent: click.Context | None = None, **extra: Any) -> click.Context:
        if args and args[0] in self.subcommands:
            sub = self.subcommands[args[0]]
            return sub.make_context(f"{info_name} {args[0]}", args[1:], parent=parent,
                                    **extra)
        return super().make_context(info_name, args, parent=parent, **extra)


PLAN_EPILOG = ("Approve a saved plan (four eyes): runbook plan approve PLANFILE --reason TEXT. "
               "See docs/review.md.")


@click.command()
@click.argument("run_id")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="The HTML file to write.")
@click.option("--audit-log", type=click.Path(dir_okay=False),
              help="Audit log path (default: the run's, from the journal).")
@_errors
def report(run_id: str, output: str, audit_log: str | None) -> None:
    """A self-contained HTML report of RUN_ID (a unique prefix will do)."""
    from runbook.report import write_report

    written = write_report(run_id, output, audit_log=audit_log)
    click.echo(f"report of run {written.run_id} written to {output} (last audit event "
               f"{written.last_hash[:12]})")
