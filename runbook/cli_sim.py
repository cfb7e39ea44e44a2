"""``runbook sim ...``: the simulated estate from the command line.

Create a sandbox from a scenario (with faults switched on), switch faults,
look at the world, open a shell with the stand-ins on PATH, or run one
stand-in as a simulated host would (``exec``), so an estate can be checked
from outside without reading its state file. A thin layer over
``runbook.sim``; the library is imported inside the commands so that
``runbook --help`` stays fast. Mistakes (an unknown scenario, fault, host or
tool) list the choices and exit 2.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])
EXIT_USAGE = 2


def _fail(message: str) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(EXIT_USAGE)


def _unknown(what: str, name: str, choices: Iterable[str]) -> NoReturn:
    _fail(f"unknown {what} {name!r}; choose from: {', '.join(sorted(choices)) or 'none'}")


def _errors(func: F) -> F:
    """A sandbox or plugin problem (or a scenario that cannot be built: a knob or part that
    is not there) is a message and exit 2, never a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from runbook.errors import RunbookError

        try:
            return func(*args, **kwargs)
        except (RunbookError, ValueError) as exc:
            _fail(str(exc))

    return wrapper  # type: ignore[return-value]


@click.group()
def sim() -> None:
    """The simulated estate: scenarios, faults, state, a shell, stand-ins run as a host."""


@sim.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="One JSON document per scenario.")
@_errors
def sim_list(as_json: bool) -> None:
    """Scenarios: NAME<TAB>DESCRIPTION, then their parts, hosts and faults indented."""
    from runbook.sim import scenarios

    known = scenarios.all_parts()
    for scenario in sorted(scenarios.all_scenarios().values(), key=lambda s: s.name):
        missing = [name for name in scenario.parts if name not in known]
        faults = [] if missing else scenarios.faults_of(scenarios.ordered(scenario.parts, known))
        hosts = [{"name": h.name, "address": h.address, "up": h.up} for h in scenario.hosts]
        if as_json:
            click.echo(json.dumps({"name": scenario.name, "description": scenario.description,
                                   "parts": list(scenario.parts), "missing_parts": missing,
                                   "hosts": hosts,
                                   "faults": {f.name: f.description for f in faults}}))
            continue
        click.echo(f"{scenario.name}\t{scenario.description}")
        click.echo(f"  parts: {', '.join(scenario.parts)}"
                   + (f" (not installed: {', '.join(missing)})" if missing else ""))
        if hosts:
            click.echo("  hosts: " + ", ".join(
                f"{h['name']} {h['address']}" + ("" if h["up"] else " (down)") for h in hosts))
        for fault in faults:
            on = " (on at start)" if fault.name in scenario.faults else ""
            click.echo(f"  fault {fault.name}{on}: {fault.description}")


@sim.command(name="init")
@click.argument("scenario")
@click.option("--dir", "directory", required=True, type=click.Path(file_okay=False))
@click.option("--fault", "faults", multiple=True, metavar="NAME",
              help="Switch this fault on from the start (repeatable).")
@_errors
def sim_init(scenario: str, directory: str, faults: tuple[str, ...]) -> None:
    """Create a sandbox folder for SCENARIO."""
    from runbook.sim import init_sandbox, scenarios

    found = scenarios.all_scenarios()
    if scenario not in found:
        _unknown("scenario", scenario, found)
    offered = [f.name for f in scenarios.faults_of(
        scenarios.ordered(found[scenario].parts, scenarios.all_parts()))]
    for fault in faults:
        if fault not in offered:
            _unknown(f"fault for scenario {scenario}:", fault, offered)
    path = init_sandbox(scenario, Path(directory), faults=faults)
    click.echo(f"sandbox {path} ready (scenario {scenario}); try: runbook sim shell {path}")


@sim.command(name="fault")
@click.argument("directory", type=click.Path(exists=True, file_okay=False))
@click.argument("name")
@click.option("--off", is_flag=True, help="Switch the fault off instead.")
@_errors
def sim_fault(directory: str, name: str, off: bool) -> None:
    """Switch fault NAME of a sandbox on (or off)."""
    from runbook.sim import load_state, set_fault

    offered = load_state(Path(directory))["faults"]
    if name not in offered:
        _unknown("fault", name, offered)
    set_fault(Path(directory), name, not off)
    click.echo(f"fault {name} {'off' if off else 'on'} in {directory}")


@sim.command(name="host")
@click.argument("directory", type=click.Path(exists=True, file_okay=False))
@click.argument("name")
@click.option("--down/--up", default=True, help="Mark the host down (default) or up again.")
@_errors
def sim_host(directory: str, name: str, down: bool) -> None:
    """Mark simulated host NAME down (it refuses connections) or --up again."""
    from runbook.sim import load_state, set_host_up

    known = load_state(Path(directory)).get("hosts", {})
    if name not in known:
        _unknown("host", name, known)
    set_host_up(Path(directory), name, not down)
    click.echo(f"host {name} {'down' if down else 'up'} in {directory}")


@sim.command(name="state")
@click.argument("directory", type=click.Path(exists=True, file_okay=False))
@click.option("--json", "as_json", is_flag=True)
@_errors
def sim_state(directory: str, as_json: bool) -> None:
    """The state of a sandbox's world."""
    from runbook import sim as simulation

    if as_json:
        click.echo(json.dumps(simulation.load_state(Path(directory)), indent=2))
    else:
        click.echo(simulation.describe_state(Path(directory)))


@sim.command(name="shell")
@click.argument("directory", type=click.Path(exists=True, file_okay=False))
@click.option("--host", metavar="NAME", help="Be this simulated host.")
@_errors
def sim_shell(directory: str, host: str | None) -> None:
    """A shell with the sandbox's stand-in tools first on PATH."""
    from runbook import sim as simulation

    env = _host_env(Path(directory), host)
    shell = os.environ.get("SHELL", "/bin/sh")
    tools = ", ".join(simulation.list_tools(Path(directory)))
    click.echo(f"sandbox shell: {tools} act on {directory}"
               + (f" as host {host}" if host else "") + "; exit to leave", err=True)
    os.execvpe(shell, [shell], env)


@sim.command(name="exec", context_settings={"ignore_unknown_options": True})
@click.argument("directory", type=click.Path(exists=True, file_okay=False))
@click.option("--host", metavar="NAME", help="Run as this simulated host.")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@_errors
def sim_exec(directory: str, host: str | None, command: tuple[str, ...]) -> None:
    """Run a stand-in as a simulated host would: runbook sim exec D [--host NAME] -- TOOL ARGS.

    Its own output and exit status pass through unchanged.
    """
    from runbook import sim as simulation

    tools = simulation.list_tools(Path(directory))
    if command[0] not in tools:
        _unknown("tool", command[0], tools)
    env = _host_env(Path(directory), host)
    tool = Path(directory).resolve() / "bin" / command[0]
    sys.stdout.flush()
    import subprocess

    sys.exit(subprocess.run([str(tool), *command[1:]], env=env, check=False).returncode)


def _host_env(directory: Path, host: str | None) -> dict[str, str]:
    """The environment of a process on ``host`` (or on no host) of the sandbox."""
    from runbook import sim as simulation

    known = simulation.load_state(directory).get("hosts", {})
    if host is not None and host not in known:
        _unknown("host", host, known)
    env = {k: v for k, v in os.environ.items()
           if k not in ("SSH_CONNECTION", "RUNBOOK_SIM_HOST")}
    env.update(simulation.sandbox_env(directory, host))
    return env
