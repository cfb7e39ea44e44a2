"""``runbook state init|status|migrate`` and the ``--state URL`` option.

``--state URL`` (or ``$RUNBOOK_STATE``) says where runs are kept: a team's
PostgreSQL database instead of the local journal and audit log. The option is
kept in ``runbook.state`` rather than the environment, so commands a run starts
never see a password. The URL is only ever shown without its password.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def _remember(_ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value:
        from runbook.state import set_cli_state

        set_cli_state(value)


def state_option(func: F) -> F:
    """``--state URL`` on a command (processed first, before the command body runs)."""
    return click.option(
        "--state", metavar="URL", expose_value=False, is_eager=True, callback=_remember,
        help="Where runs, locks and the audit trail are kept: a postgresql:// URL "
             "(default $RUNBOOK_STATE, else the local journal and audit log).")(func)


def _pg() -> Any:
    """The PostgreSQL backend in force (exit 2 when none is configured)."""
    from runbook.state import StateError, state_url

    url = state_url()
    if not url:
        raise StateError("no state database: give --state postgresql://... or set "
                         "RUNBOOK_STATE (the local journal needs no setting up)")
    from runbook.state.pg import PgState

    return PgState(url, check_schema=False)


def _guard(func: F) -> F:
    """The CLI's error handling (messages and exit codes), looked up when called."""
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from runbook.cli import handle_errors

        return handle_errors(func)(*args, **kwargs)
    return wrapper  # type: ignore[return-value]


@click.group(name="state")
def state() -> None:
    """The shared state database: create, inspect and migrate its schema."""


@state.command(name="init")
@state_option
@_guard
def state_init() -> None:
    """Create the schema in an empty database (or bring it to the newest version)."""
    backend = _pg()
    applied = backend.migrate()
    status = backend.status()
    click.echo(f"{status['url']}: schema version {status['schema_version']}"
               + (f" (applied {', '.join(map(str, applied))})" if applied else
                  " (already current)"))


@state.command(name="status")
@state_option
@click.option("--json", "as_json", is_flag=True)
@_guard
def state_status(as_json: bool) -> None:
    """Schema version (current and newest known), runs, audit events and locks held."""
    status = _pg().status()
    if as_json:
        click.echo(json.dumps(status, indent=2))
        return
    behind = status["schema_version"] < status["latest"]
    click.echo(f"{status['url']}: schema version {status['schema_version']} of "
               f"{status['latest']}" + (" (run `runbook state migrate`)" if behind else ""))
    for key in ("runs", "audit", "locks"):
        if key in status:
            click.echo(f"  {key}: {status[key]}")


@state.command(name="migrate")
@state_option
@click.option("--to", "target", type=int, default=None,
              help="Stop at this schema version (default: the newest).")
@_guard
def state_migrate(target: int | None) -> None:
    """Apply the pending forward migrations, each in one transaction."""
    backend = _pg()
    applied = backend.migrate(target)
    version = backend.status()["schema_version"]
    click.echo(f"migrated to schema version {version}" + (
        f" (applied {', '.join(map(str, applied))})" if applied else " (nothing to do)"))


def audit_verify_state() -> None:
    """``runbook audit verify`` on the database's audit table (exit 1 when broken)."""
    from runbook.state import open_state

    backend = open_state()
    report = backend.audit_verify(None)
    if report.ok:
        click.echo(f"{backend.shown}: ok, {report.events} events, chain intact")
        return
    click.echo(f"error: {backend.shown}: audit row {report.first_bad_line}: chain broken at "
               f"seq {report.first_bad_seq}: {report.reason}", err=True)
    sys.exit(1)


def audit_events_state(run_id: str | None) -> list[dict[str, Any]]:
    from runbook.state import open_state

    return open_state().audit_events(None, run_id)
