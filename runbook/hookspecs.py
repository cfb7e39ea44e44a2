"""Every hook a runbook plugin can implement, in one place.

Plugins are registered through the ``runbook`` entry point group (built-in
ones too). A plugin is a module or object with functions decorated with
``runbook.hookimpl`` and named after the hooks below. Every hook here is
documented in ``docs/hooks.md``; a test keeps the two in step.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from runbook.actions import Action
    from runbook.events import Event, RunInfo
    from runbook.executors.base import Executor
    from runbook.executors.kinds import ConnectionKind
    from runbook.samples import OutputParser
    from runbook.sim.parts import Part
    from runbook.state import StateBackend

hookspec = pluggy.HookspecMarker("runbook")


@hookspec
def runbook_actions() -> list[type[Action[Any]]] | Mapping[str, type[Action[Any]] | str]:
    """Contribute actions.

    Called once when the plugin manager loads. Return a list of ``Action``
    subclasses; each has a unique dotted ``name`` such as ``kubectl.scale``. Or
    return ``{name: "package.module:Class"}``: the module is imported only when a
    playbook first uses the action (what the bundled plugins do; a run then loads
    the actions it names, not all of them). All answers are collected; two plugins
    naming the same action is an error.
    """


@hookspec
def runbook_executors() -> Mapping[str, ConnectionKind | Callable[[str, dict[str, Any]], Executor]]:
    """Contribute connection kinds, keyed by the name a target's ``connection`` uses.

    Called once when the plugin manager loads. Return a mapping such as
    ``{"docker": DOCKER}`` where ``DOCKER`` is a ``runbook.executors.ConnectionKind``:
    its settings model (validated when playbooks and inventories load, with
    file, line and field), URI scheme for ``--target NAME=URI``, defaults,
    settings that name other targets (``via``, ``jump``), whether it connects
    early, and ``factory(name, settings) -> Executor`` (import heavy modules
    inside it). A bare factory is still accepted as the value: a kind without
    a settings model of its own. All answers are collected; a kind claimed
    twice is an error.
    """


@hookspec
def runbook_filters() -> Mapping[str, Callable[..., Any]]:
    """Contribute Jinja2 filters for templates and expressions.

    Called once when the template environment is built. Return a mapping of
    filter name to callable. All answers are collected (later plugins win on
    a clash).
    """


@hookspec
def runbook_run_started(run: RunInfo) -> None:
    """A run begins, before preconditions are checked.

    ``run`` carries the run id, actor, reason, redacted params and whether it
    is a dry-run. Every implementation is called; return values are ignored.
    """


@hookspec
def runbook_check_finished(run: RunInfo, event: Event) -> None:
    """A check (precondition, step post-condition, wait or verify) was evaluated.

    ``event.status`` is ``ok``, ``failed`` or ``warn``; ``event.data`` holds
    ``expected``, ``observed`` and the check's ``kind``.
    """


@hookspec
def runbook_gate_answered(run: RunInfo, event: Event) -> None:
    """A human gate was answered: ``event.status`` is ``approved`` or ``declined``.

    ``event.data["how"]`` says whether a person answered on the terminal,
    ``--yes`` approved it, or nobody could be asked.
    """


@hookspec
def runbook_gate_asked(run: RunInfo, event: Event) -> None:
    """A person is about to be asked at a gate (on the terminal) and the run waits.

    ``event.step`` is the step, ``event.message`` the question. Not an audit
    event (``runbook_gate_answered`` is): it lets an observer such as the
    notifier say that a run is waiting for someone. Called only when a person
    is asked, not when ``--yes``, an approved plan or the lack of a terminal
    answers.
    """


@hookspec
def runbook_step_started(run: RunInfo, event: Event) -> None:
    """A step is about to run its command(s).

    Called before the command starts; an implementation that must be durable
    (the audit log) writes and fsyncs here. ``event.argv`` is the redacted
    command, ``event.mutating`` whether it changes the system.
    """


@hookspec
def runbook_step_finished(run: RunInfo, event: Event) -> None:
    """A step ended: ``event.status`` is ``ok``, ``failed``, ``skipped``,
    ``planned`` (dry-run) or ``started`` (a background step now running)."""


@hookspec
def runbook_rollback_started(run: RunInfo, event: Event) -> None:
    """A rollback of ``event.step`` is about to run ``event.argv``."""


@hookspec
def runbook_rollback_finished(run: RunInfo, event: Event) -> None:
    """A rollback ended: ``event.status`` is ``ok`` or ``failed``."""


@hookspec
def runbook_run_finished(run: RunInfo, event: Event) -> None:
    """A run ended. ``event.status`` is the outcome (``succeeded``, ``failed``,
    ``rolled-back``, ``needs-attention``, ``declined``, ``precondition-failed``,
    ``could-not-check``, ``planned``) and ``event.rc`` the exit code."""


@hookspec
def runbook_parsers() -> Mapping[str, OutputParser]:
    """Declare output parsers and the recorded samples they are tested on.

    Called by tests and tools, never during a run. Return a mapping of parser
    name to ``runbook.samples.OutputParser(parse, samples)``: ``parse(stdout,
    stderr, rc, **kwargs)`` and the folder of recorded cases (absolute, or
    relative to the project's samples root; by default named after the
    parser). All answers are collected; a name declared twice is an error.
    """


@hookspec
def runbook_sim_parts() -> list[Part]:
    """Contribute parts of the simulated estate (``runbook.sim.parts.Part``).

    Called whenever the simulated estate needs its catalogue (``runbook sim
    list``, ``init``, ``--sandbox SCENARIO``), never by a stand-in process.
    Return a list of ``Part`` objects: each names its stand-in tools
    (``{command: "module.path"}``, the module has ``run(directory, argv) ->
    int``), its world module (how its slice of the state is built, evolves
    and is summarised), the parts it requires, its knobs, faults and
    scenarios (which may combine parts of other plugins and declare
    simulated hosts). All answers are collected; two different parts with one
    name is an error. See docs/simulated-estate.md.
    """


@hookspec(firstresult=True)
def runbook_state_backend(url: str) -> StateBackend | None:
    """Provide the state backend for a ``--state``/``RUNBOOK_STATE`` URL.

    Asked only for a scheme runbook does not know (the local default and
    ``postgresql://`` are built in). Return an object with the
    ``runbook.state.StateBackend`` shape (``journal()``, ``audit_log(path)``,
    ``audit_verify(path)``, ``audit_events(path, run_id)``, ``close()`` and a
    ``shown`` string without secrets), or None when the URL is not yours. The
    first answer wins; no answer is an error (exit 2) before anything runs.
    """
