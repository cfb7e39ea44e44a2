"""The ``runbook`` command: a thin layer over the library.

Every command is a call a script could make itself. Modules are imported
inside the commands, so ``runbook --help`` loads click and nothing else.
Errors the user can fix print as ``file:line: field: message`` and exit 2;
no traceback reaches the user for bad input.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from runbook import cli_habits, cli_schema, completion
from runbook.cli_review import PLAN_EPILOG, PlanCommand
from runbook.cli_state import audit_events_state, audit_verify_state, state, state_option

if TYPE_CHECKING:
    from runbook.engine import RunOptions
    from runbook.models import Playbook, Target
    from runbook.prefetch import Prefetch

F = TypeVar("F", bound=Callable[..., Any])

EXIT_USAGE = 2


def _fail(message: str, code: int = EXIT_USAGE) -> None:
    click.echo(message, err=True)
    sys.exit(code)


def handle_errors(func: F) -> F:
    """Turn runbook errors into messages and exit codes, never tracebacks."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from runbook.errors import LockedError, PlaybookError, RunbookError

        try:
            return func(*args, **kwargs)
        except PlaybookError as exc:
            _fail(f"error: {exc}")
        except LockedError as exc:
            _fail(f"locked: {exc}", 5)
        except RunbookError as exc:
            _fail(f"error: {exc}")
        except (UnicodeError, RecursionError, OverflowError) as exc:
            # Hostile input that slipped past the readers: a message, never a traceback.
            _fail(f"error: cannot use this input: {type(exc).__name__}: {exc}")
        return None

    return wrapper  # type: ignore[return-value]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="runbook", message="runbook %(version)s")
def main() -> None:
    """Runbooks as code: plan, run, roll back and audit operational procedures."""


def run_options(func: F) -> F:
    """The options run and plan share."""
    options = [
        click.argument("playbook", type=click.Path(dir_okay=False)),
        click.option("-p", "--param", "params", multiple=True, metavar="NAME=VALUE",
                     help="Set a param (repeatable).", shell_complete=completion.params),
        click.option("--params-file", type=click.Path(exists=True, dir_okay=False),
                     help="YAML or JSON file of params."),
        click.option("-i", "--inventory", type=click.Path(exists=True, dir_okay=False),
                     help="Inventory of targets: runbook YAML, or Ansible INI/YAML."),
        click.option("--target", "target_uris", multiple=True, metavar="NAME=URI",
                     help="Define a target, e.g. db=ssh://ops@db1:22.",
                     shell_complete=completion.targets),
        click.option("--offline", is_flag=True, help="Do not run read-only probes either."),
        click.option("--sandbox", metavar="SCENARIO|DIR", shell_complete=completion.scenarios,
                     help="Run against the simulated estate: a scenario name or a sandbox "
                          "folder."),
        click.option("--keep-sandbox", is_flag=True,
                     help="Keep the sandbox folder made for a --sandbox SCENARIO (removed at "
                          "the end otherwise, unless the run can be resumed)."),
        click.option("--reason", help="Why (a ticket or a sentence); recorded in the audit "
                                      "log."),
        click.option("--audit-log", type=click.Path(dir_okay=False),
                     help="Audit log path (default $RUNBOOK_HOME/audit.jsonl)."),
        click.option("--forks", type=click.IntRange(1, 1000), default=10, show_default=True,
                     help="Hosts worked on in parallel in a fan-out."),
        click.option("--json", "as_json", is_flag=True, help="Print the result as JSON."),
        click.option("--force-unlock", is_flag=True,
                     help="Take over the lock of another run (audited)."),
        state_option,
        *cli_habits.OPTIONS,
    ]
    for option in reversed(options):
        func = option(func)
    return func


@main.command()
@run_options
@click.option("--dry-run", is_flag=True, help="Plan only: nothing mutating runs.")
@click.option("--yes", "-y", is_flag=True, help="Approve every gate.")
@click.option("--plan", "plan_file", type=click.Path(exists=True, dir_okay=False),
              help="Execute a saved plan exactly as reviewed.")
@click.option("--report", type=click.Path(dir_okay=False),
              help="Write a self-contained HTML report of the run to this file.")
@handle_errors
def run(playbook: str, dry_run: bool, yes: bool, plan_file: str | None, **kw: Any) -> None:
    """Execute PLAYBOOK."""
    _execute(playbook, dry_run=dry_run, yes=yes, plan_file=plan_file, **kw)


@main.command(cls=PlanCommand, epilog=PLAN_EPILOG)
@run_options
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="Save the plan (hash-locked) to run later with run --plan.")
@click.option("--format", "fmt", type=click.Choice(["text", "markdown"]), default="text",
              show_default=True, help="markdown: the plan for a change ticket, on stdout.")
@handle_errors
def plan(playbook: str, output: str | None, **kw: Any) -> None:
    """Dry-run review of PLAYBOOK: commands, targets, rollbacks, gates, live checks."""
    if kw["as_json"] and kw["fmt"] == "markdown":
        _fail("error: --format markdown and --json both write to stdout; choose one")
    _execute(playbook, dry_run=True, yes=False, plan_file=None, output=output, **kw)


def _execute(playbook_path: str, *, dry_run: bool, yes: bool, plan_file: str | None,
             params: tuple[str, ...], params_file: str | None, inventory: str | None,
             target_uris: tuple[str, ...], offline: bool, sandbox: str | None,
             reason: str | None, audit_log: str | None, forks: int, as_json: bool,
             force_unlock: bool = False, output: str | None = None,
             keep_sandbox: bool = False, fmt: str = "text", report: str | None = None,
             **habits: Any) -> None:
    from runbook.interrupts import sigterm_interrupts
    from runbook.loader import load
    from runbook.options import RunOptions

    sigterm_interrupts()
    targets = _targets(inventory, target_uris)
    playbook = load(playbook_path, targets=targets)
    options = RunOptions(dry_run=dry_run, offline=offline, yes=yes, reason=reason,
                         audit_log=audit_log, forks=forks, force_unlock=force_unlock,
                         targets=targets, from_cli=True)
    if cli_habits.apply(options, habits):
        click.echo(cli_habits.list_hosts(playbook, options))
        return
    # Only a fresh run against real hosts: a plan connects no more than its probes need,
    # and a sandbox's simulated hosts are reached through its transport, not SSH.
    early = not (dry_run or offline or sandbox)
    targets = cli_habits.select(playbook, options)  # --limit, tags: refused before anything
    prefetch = options.prefetch = _start_prefetch(playbook, targets, forks) if early else None
    try:
        given = _given(params, params_file)
        _run_playbook(playbook, options, given, plan_file=plan_file, sandbox=sandbox,
                      as_json=as_json, output=output, playbook_path=playbook_path,
                      keep_sandbox=keep_sandbox, fmt=fmt, report=report)
    finally:
        if prefetch is not None:
            prefetch.close()


def _start_prefetch(playbook: Playbook, targets: dict[str, Target], forks: int) -> Prefetch:
    """SSH handshakes proceed while the engine, audit log and console load."""
    from runbook.plugins import default_registry
    from runbook.prefetch import Prefetch

    return Prefetch.start(playbook, targets, default_registry(), forks)


def _given(params: tuple[str, ...], params_file: str | None) -> dict[str, Any]:
    """Params from ``--params-file`` and ``-p NAME=VALUE`` (the latter win)."""
    from runbook.params import parse_assignments

    given: dict[str, Any] = {}
    if params_file:
        given.update(_read_params_file(params_file))
    given.update(parse_assignments(list(params)))
    return given


def _run_playbook(playbook: Playbook, options: RunOptions, given: dict[str, Any], *,
                  plan_file: str | None, sandbox: str | None, as_json: bool,
                  output: str | None, playbook_path: str, keep_sandbox: bool = False,
                  fmt: str = "text", report: str | None = None) -> None:
    """Run or plan through the library; print the plan, the summary or JSON; exit."""
    from runbook import api
    from runbook.console import render_plan

    console, made = _console(options, sandbox, as_json or fmt == "markdown")
    if options.dry_run:
        result = api.plan(playbook, given, output=output, options=options)
    else:
        result = api.run(playbook, given, plan_file=plan_file, options=options)
    if fmt == "markdown":
        from runbook.review import plan_markdown

        click.echo(plan_markdown(result, playbook, options.targets, plan_file=output))
    elif options.dry_run and not as_json:
        render_plan(console, result)
    _finish(console, result, as_json)
    if report:
        from runbook.report import report_after_run

        report_after_run(console, result, report)
    if output and not as_json:
        console.print(f"plan saved to {output}; run it with: runbook run "
                      f"{playbook_path} --plan {output}")
    if made is not None:
        _tidy_sandbox(console, made, result.outcome, keep=keep_sandbox)
    sys.exit(result.exit_code)


RESUMABLE = ("needs-attention", "interrupted")
"""Outcomes after which a run may still be resumed (its sandbox is still needed)."""


def _tidy_sandbox(console: Any, made: Path, outcome: str, *, keep: bool) -> None:
    """A sandbox made for a scenario name goes at the end, unless kept or still needed."""
    from runbook.console import CLOSED

    if not keep and outcome not in RESUMABLE:
        import shutil

        shutil.rmtree(made, ignore_errors=True)
        return
    why = "--keep-sandbox" if keep else "the run may be resumed there"
    with contextlib.suppress(*CLOSED):
        console.print(f"[dim]sandbox kept ({why}): {made}; inspect it with runbook sim "
                      f"state {made}[/]")


def _console(options: RunOptions, sandbox: str | None,
             as_json: bool) -> tuple[Any, Path | None]:
    """The console (stderr under --json), the sandbox made data, the progress observer;
    and the sandbox folder made for a scenario name, if one was."""
    from runbook.console import ConsoleObserver, make_console

    console = make_console(sys.stderr if as_json else None)
    made: Path | None = None
    if sandbox:
        from runbook.api import sandbox_dir

        options.sandbox, scenario = sandbox_dir(sandbox, cli=True)
        if scenario is not None:
            made = options.sandbox
            console.print(f"[dim]sandbox: {options.sandbox} (scenario {scenario}); removed "
                          f"at the end unless --keep-sandbox[/]")
    if not as_json and options.verbosity >= 0:
        options.observers.append(ConsoleObserver(console, plan=options.dry_run))
    if not as_json and options.verbosity > 0:
        from runbook.console_verbose import VerboseObserver

        verbose = VerboseObserver(console, options.verbosity, live=options.verbosity > 1)
        options.observers.append(verbose)
        if verbose.live:
            options.on_output = verbose.line
    return console, made


def _finish(console: Any, result: Any, as_json: bool) -> None:
    """Print the result; a closed pipe or terminal loses the print, never the exit code."""
    from runbook.console import CLOSED

    try:
        if as_json:
            from runbook.jsonout import dumps, run_document

            click.echo(dumps(run_document(result.to_dict())))
        else:
            from runbook.console import render_summary

            render_summary(console, result)
    except CLOSED:
        _silence_stdout()


def _silence_stdout() -> None:
    """After a broken pipe: send what is still buffered nowhere (no error at exit)."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


def _read_params_file(path: str) -> dict[str, Any]:
    from runbook.errors import PlaybookError
    from runbook.yamlsrc import load_yaml, read_text

    source = load_yaml(read_text(path, "params file")[1], path)
    if not isinstance(source.data, dict):
        raise PlaybookError("a params file is a mapping of NAME: VALUE", file=path, line=1)
    return dict(source.data)


def _targets(inventory: str | None, uris: tuple[str, ...]) -> dict[str, Target]:
    """Targets from ``--inventory`` and ``--target NAME=URI`` (the latter win)."""
    if not inventory and not uris:
        return {}
    from runbook.inventory import load_inventory, parse_target_uri

    targets: dict[str, Target] = dict(load_inventory(inventory)) if inventory else {}
    for item in uris:
        name, target = parse_target_uri(item)
        targets[name] = target
    return targets


@main.command()
@click.argument("run_id", shell_complete=completion.run_ids)
@click.option("--rollback", is_flag=True, help="Undo the interrupted run instead.")
@click.option("--yes", "-y", is_flag=True,
              help="Approve gates; re-run an in-flight step only if it is idempotent.")
@click.option("--accept-changed-playbook", is_flag=True,
              help="Resume although the playbook changed since the run started.")
@click.option("-p", "--param", "params", multiple=True, metavar="NAME=VALUE",
              help="Secret params again (they are never stored).")
@click.option("--playbook", "playbook_path", type=click.Path(dir_okay=False),
              help="Where the playbook is now, if it moved.")
@click.option("--sandbox", metavar="DIR", help="The sandbox folder the run used.")
@click.option("--inventory", type=click.Path(exists=True, dir_okay=False),
              help="The inventory the run used.")
@click.option("--target", "target_uris", multiple=True, metavar="NAME=URI",
              help="The --target definitions the run used.")
@click.option("--force-unlock", is_flag=True, help="Take over the lock (audited).")
@click.option("--json", "as_json", is_flag=True)
@state_option
@handle_errors
def resume(run_id: str, rollback: bool, yes: bool, accept_changed_playbook: bool,
           params: tuple[str, ...], playbook_path: str | None, sandbox: str | None,
           inventory: str | None, target_uris: tuple[str, ...], force_unlock: bool,
           as_json: bool) -> None:
    """Continue an interrupted run (or --rollback to undo it)."""
    from runbook import api
    from runbook.engine import RunOptions
    from runbook.interrupts import sigterm_interrupts
    from runbook.params import parse_assignments

    sigterm_interrupts()
    options = RunOptions(yes=yes, force_unlock=force_unlock, from_cli=True,
                         targets=_targets(inventory, target_uris))
    console, _ = _console(options, sandbox, as_json)
    result = api.resume(run_id, rollback=rollback, params=parse_assignments(list(params)),
                        playbook=playbook_path, accept_changed=accept_changed_playbook,
                        options=options)
    _finish(console, result, as_json)
    sys.exit(result.exit_code)


@main.group(invoke_without_command=True)
@click.option("--playbook", help="Only runs of this playbook (its name).")
@click.option("--status", help="Only runs with this status.")
@click.option("--limit", type=click.IntRange(1, 10000), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@state_option
@click.pass_context
@handle_errors
def runs(ctx: click.Context, playbook: str | None, status: str | None, limit: int,
         as_json: bool) -> None:
    """Recent runs: id, playbook, actor, started, duration, status."""
    if ctx.invoked_subcommand is not None:
        return
    from runbook.history import format_runs, list_runs
    from runbook.jsonout import dumps, runs_document

    items = list_runs(playbook=playbook, status=status, limit=limit)
    click.echo(dumps(runs_document(items)) if as_json else format_runs(items))


@runs.command(name="show")
@click.argument("run_id", shell_complete=completion.run_ids)
@click.option("--json", "as_json", is_flag=True)
@state_option
@handle_errors
def runs_show(run_id: str, as_json: bool) -> None:
    """One run: params, per-step and per-host outcome, durations, rollbacks, audit trail."""
    from runbook.history import format_run, show_run
    from runbook.jsonout import dumps, run_record_document

    detail = show_run(run_id)
    click.echo(dumps(run_record_document(detail)) if as_json else format_run(detail))


@runs.command(name="resolve")
@click.argument("run_id", shell_complete=completion.run_ids)
@click.option("--reason", required=True,
              help="What was done by hand (recorded in the audit log).")
@click.option("--json", "as_json", is_flag=True)
@state_option
@handle_errors
def runs_resolve(run_id: str, reason: str, as_json: bool) -> None:
    """Close a run that needs attention once its remaining commands were done by hand."""
    from runbook.options import default_actor as _actor
    from runbook.resolve import resolve_run

    done = resolve_run(run_id, reason, actor=_actor())
    if as_json:
        from runbook.jsonout import dumps, resolved_document

        click.echo(dumps(resolved_document(done)))
        return
    click.echo(f"run {done['run_id']} resolved: {reason}")
    for cmd in done["commands"]:
        click.echo(f"  done by hand: $ {cmd}")


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--inventory", type=click.Path(exists=True, dir_okay=False),
              help="Also accept the targets this inventory defines (and check it).")
@click.option("--limit", "-l", metavar="PATTERN", shell_complete=completion.targets,
              help="Also check that this --limit selects hosts for every group each "
                   "playbook runs on (as run and plan would).")
@handle_errors
def validate(paths: tuple[str, ...], inventory: str | None, limit: str | None) -> None:
    """Check playbooks (files or folders); every problem with file:line and field."""
    from runbook.loader import find_playbooks, validate_paths
    from runbook.result import plural

    files = list(find_playbooks(list(paths)))
    given: dict[str, Any] = {}
    if inventory:
        from runbook.inventory import load_inventory

        given = load_inventory(inventory)
    problems = validate_paths(list(paths), targets=list(given))
    if limit:
        problems += cli_habits.limit_problems(files, {p.file for p in problems}, given, limit)
    for problem in problems:
        click.echo(str(problem), err=True)
    bad = len({p.file for p in problems})
    click.echo(f"{len(files) - bad}/{len(files)} playbooks valid"
               + (f", {plural(len(problems), 'problem')}" if problems else ""),
               err=bool(problems))
    sys.exit(EXIT_USAGE if problems else 0)


@main.command(name="list")
@click.argument("directory", default="playbooks", type=click.Path(exists=True))
@handle_errors
def list_(directory: str) -> None:
    """Playbooks under DIRECTORY with their title and params."""
    from runbook.errors import PlaybookError
    from runbook.loader import find_playbooks, load

    for path in find_playbooks([directory]):
        try:
            pb = load(path)
        except PlaybookError as exc:
            click.echo(f"{path}: invalid ({exc.problem.message})")
            continue
        params = " ".join(f"{n}={'<required>' if p.required else p.default}"
                          for n, p in pb.params.items())
        click.echo(f"{path}\t{pb.name}\t{pb.title}" + (f"\t{params}" if params else ""))


@main.command()
@click.argument("playbook", type=click.Path(exists=True, dir_okay=False))
@handle_errors
def show(playbook: str) -> None:
    """The procedure a playbook encodes, in words."""
    from runbook.docs import describe_playbook
    from runbook.loader import load

    click.echo(describe_playbook(load(playbook)))


@main.command()
@click.argument("playbook", type=click.Path(exists=True, dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["mermaid", "dot", "svg"]),
              default="mermaid", show_default=True)
@handle_errors
def graph(playbook: str, fmt: str) -> None:
    """The flow of steps, checks, gates and rollbacks (Mermaid, DOT or SVG)."""
    from runbook import graph as graphs
    from runbook.loader import load

    click.echo(getattr(graphs, fmt)(load(playbook)), nl=False)


@main.command()
@click.argument("directory", default="playbooks", type=click.Path(exists=True))
@click.option("-o", "--output", default="docs/playbooks", show_default=True,
              type=click.Path(file_okay=False), help="Where the pages are written.")
@click.option("--check", is_flag=True, help="Exit 1 if the pages are not up to date.")
@handle_errors
def docs(directory: str, output: str, check: bool) -> None:
    """Generate a Markdown page per playbook (procedure, params, flow graph)."""
    from runbook.docs import write_playbook_pages

    stale = write_playbook_pages(Path(directory), Path(output), check=check)
    if check and stale:
        _fail("out of date (run `runbook docs`): " + ", ".join(stale), 1)
    click.echo(f"{output}: " + ("up to date" if check else "written"))


@main.command()
@handle_errors
def plugins() -> None:
    """Loaded plugins, their actions (mutating or read-only) and arguments."""
    from runbook.docs import describe_plugins
    from runbook.plugins import default_registry

    click.echo(describe_plugins(default_registry()))


@main.group()
def audit() -> None:
    """The audit log: verify the hash chain, show a run's trail."""


@audit.command(name="verify")
@click.argument("path", required=False, type=click.Path(dir_okay=False))
@state_option
@handle_errors
def audit_verify(path: str | None) -> None:
    """Recompute the chain of PATH (default the audit log) and name the first bad event."""
    from runbook.audit import default_audit_path, verify
    from runbook.state import state_url

    if state_url() and not path:
        return audit_verify_state()

    target = Path(path) if path else default_audit_path()
    report = verify(target)
    if report.ok:
        click.echo(f"{target}: ok, {report.events} events, chain intact")
        return
    _fail(f"{target}:{report.first_bad_line}: chain broken at seq {report.first_bad_seq}: "
          f"{report.reason}", 1)


@audit.command(name="show")
@click.argument("run_id", required=False, shell_complete=completion.run_ids)
@click.option("--audit-log", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True)
@state_option
@handle_errors
def audit_show(run_id: str | None, audit_log: str | None, as_json: bool) -> None:
    """Print the audit trail of RUN_ID (a unique prefix is enough; default: the last run)."""
    from runbook.audit import default_audit_path, format_trail, last_run_id, read_run
    from runbook.state import state_url

    path = Path(audit_log) if audit_log else default_audit_path()
    events = audit_events_state(run_id) if state_url() and not audit_log else \
        read_run(path, run_id or last_run_id(path))
    if as_json:
        from runbook.jsonout import dumps, trail_document

        click.echo(dumps(trail_document(events[0]["run_id"] if events else str(run_id),
                                        str(path), events)))
    else:
        click.echo(format_trail(events))


from runbook.cli_review import report  # noqa: E402
from runbook.cli_sim import sim  # noqa: E402  (the group is its own module)

main.add_command(sim)
main.add_command(report)
main.add_command(state)
main.add_command(cli_schema.schema)


if __name__ == "__main__":  # pragma: no cover
    main()


def entry() -> None:
    """The ``runbook`` executable: the CLI, then a quick exit.

    Tearing down the interpreter (freeing every module and object of pydantic,
    paramiko, cryptography...) takes 100-200 ms after the work is done, longer than
    a whole step. Everything that must outlive the process is already durable by
    then (the audit log and journal are fsynced as the run goes), so once the
    command has finished we run the atexit handlers, flush the output and leave.
    If a thread that Python would wait for is still running (a plugin's pool, say),
    the normal exit does that instead. The library (``import runbook``) never
    exits early; only this entry point.
    """
    try:
        main(complete_var="_RUNBOOK_COMPLETE")  # also under python -m runbook
        code: Any = 0
    except SystemExit as exc:
        code = exc.code
    if any(t is not threading.current_thread() and not t.daemon and t.is_alive()
           for t in threading.enumerate()):
        raise SystemExit(code)
    try:
        atexit._run_exitfuncs()
    except KeyboardInterrupt:
        code = 130
    if code is not None and not isinstance(code, int):
        print(code, file=sys.stderr)
        code = 1
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code or 0)
