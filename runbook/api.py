"""The library: run, plan and resume playbooks from Python, everything the CLI can.

Each CLI command is argument parsing and printing around one of these calls:
``run`` (optionally executing a saved plan, optionally in a sandbox),
``plan`` (a dry-run, optionally saved as a hash-locked plan file) and
``resume`` (continue or roll back an interrupted run from the journal).
Options are the fields of ``RunOptions``, as keywords.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runbook.engine import Engine
from runbook.errors import PlaybookError
from runbook.models import Playbook, Target
from runbook.options import RunOptions
from runbook.result import RunResult

if TYPE_CHECKING:
    from runbook.plugins import Registry

PlaybookLike = Playbook | str | Path


def run(playbook: PlaybookLike, params: Mapping[str, Any] | None = None, *,
        plan_file: str | Path | None = None, sandbox: str | Path | None = None,
        registry: Registry | None = None, options: RunOptions | None = None,
        **fields: Any) -> RunResult:
    """Run a playbook (a loaded one, or a path) and return the typed result.

    ``plan_file``: execute a saved plan exactly as reviewed (refused if the plan was
    edited, the playbook changed, params differ, or a mutating command would differ).
    ``sandbox``: a scenario name or a sandbox folder of the simulated estate.
    ``options`` (a ``RunOptions``) and keywords (its fields, which win) say how."""
    opts = _options(options, fields)
    loaded = _load(playbook, opts.targets, registry)
    if sandbox is not None:
        opts.sandbox = sandbox_dir(sandbox, cli=opts.from_cli)[0]
    given = dict(params or {})
    if opts.start_at and plan_file is None:
        raise PlaybookError(f"--start-at runs only through a reviewed plan that shows what "
                            f"is left out: runbook plan PLAYBOOK --start-at {opts.start_at} "
                            "-o PLANFILE, then runbook run PLAYBOOK --plan PLANFILE",
                            file="<command line>" if opts.from_cli else "<options>",
                            field="--start-at" if opts.from_cli else "start_at")
    if plan_file is not None:
        from runbook.planfile import apply_plan_file

        given = apply_plan_file(plan_file, loaded, given, opts, registry)
    if loaded.approval.required:
        from runbook.approval import require_approval

        require_approval(loaded, opts, plan_file)
    return Engine(loaded, given, opts, registry=registry).run()


def plan(playbook: PlaybookLike, params: Mapping[str, Any] | None = None, *,
         output: str | Path | None = None, sandbox: str | Path | None = None,
         registry: Registry | None = None, options: RunOptions | None = None,
         **fields: Any) -> RunResult:
    """A dry-run: the same engine with mutating execution switched off. ``output``
    saves the plan (hash-locked) for ``run(..., plan_file=output)``."""
    opts = _options(options, {**fields, "dry_run": True})
    loaded = _load(playbook, opts.targets, registry)
    if sandbox is not None:
        opts.sandbox = sandbox_dir(sandbox, cli=opts.from_cli)[0]
    engine = Engine(loaded, params, opts, registry=registry)
    result = engine.run()
    if output is not None:
        from runbook.planfile import write_plan_file

        write_plan_file(output, loaded, engine.params, engine.planned, run_id=result.run_id,
                        actor=result.actor, selection=opts.selection())
    return result


def resume(run_id: str, *, rollback: bool = False, params: Mapping[str, Any] | None = None,
           playbook: PlaybookLike | None = None, accept_changed: bool = False,
           sandbox: str | Path | None = None, registry: Registry | None = None,
           options: RunOptions | None = None, **fields: Any) -> RunResult:
    """Continue an interrupted run from the journal (``rollback=True``: undo it instead).

    Completed steps are skipped, the step in flight is re-checked, the rollback stack
    is rebuilt. ``params``: the secret params again (they are never stored).
    ``playbook``: where the playbook is now if it moved (a path), or the playbook
    itself for a run of one built in Python. ``accept_changed``: resume although the
    playbook changed since the run started."""
    from runbook.durable import check_unchanged, load_resume, local_only
    from runbook.state import open_state, state_url

    opts = _options(options, fields)
    if sandbox is not None:
        opts.sandbox = sandbox_dir(sandbox, cli=opts.from_cli)[0]
    opts.state_url = state_url(opts.state_url)
    journal = open_state(opts.state_url, journal_path=Path(opts.journal_path)
                         if opts.journal_path else None).journal()
    try:
        state, path = load_resume(journal, run_id, None if playbook is None
                                  or isinstance(playbook, Playbook) else str(playbook),
                                  cli=opts.from_cli, rollback=rollback)
    finally:
        journal.close()
    state.rollback_only = rollback
    from runbook.durable import kept_selection, same_shape

    same_shape(state, opts)
    kept_selection(state, opts)
    if isinstance(playbook, Playbook):
        loaded, text = playbook, ""
    elif str(path) == "<python>":
        raise PlaybookError(f"run {state.run_id} ran a playbook built in Python; give it "
                            "again: resume(run_id, playbook=...)", file="<python>",
                            field="playbook")
    elif not path.is_file():
        raise PlaybookError(f"run {state.run_id} ran the playbook {path}, which is not there "
                            "(moved, or run from another directory); pass its path: runbook "
                            f"resume {state.run_id} --playbook PATH", file=str(path))
    else:
        loaded, text = _load(path, opts.targets, registry), path.read_text(encoding="utf-8")
    check_unchanged(state, loaded, text, accept_changed=accept_changed, cli=opts.from_cli)
    local_only(state, loaded, opts)
    opts.audit_log = opts.audit_log or state.run.get("audit_log")
    opts.reason = opts.reason or state.run.get("reason")
    given = {**state.run["params"], **(params or {})}
    return Engine(loaded, given, opts, registry=registry, run_id=state.run_id,
                  resume=state).run()


def sandbox_dir(sandbox: str | Path, *, cli: bool = False) -> tuple[Path, str | None]:
    """A sandbox folder of the simulated estate, or a new one made for a scenario name:
    (folder, the scenario it was made for or None when it already existed)."""
    from runbook import sim

    where = ("<command line>", "--sandbox") if cli else ("<sandbox>", "sandbox")
    path = Path(sandbox)
    if path.is_dir():
        if not (path / "state.json").is_file():
            raise PlaybookError(f"{path} is not a sandbox (no state.json); create one with "
                                f"runbook sim init SCENARIO --dir {path}", file=where[0],
                                field=where[1])
        return path, None
    names = [name for name, _ in sim.list_scenarios()]
    if str(sandbox) not in names:
        raise PlaybookError(f"no sandbox folder or scenario {str(sandbox)!r}; scenarios: "
                            f"{', '.join(names)}", file=where[0], field=where[1])
    import tempfile

    directory = Path(tempfile.mkdtemp(prefix=f"runbook-sim-{sandbox}-"))
    sim.init_sandbox(str(sandbox), directory)
    return directory, str(sandbox)


def _options(options: RunOptions | None, fields: Mapping[str, Any]) -> RunOptions:
    if options is None:
        return RunOptions(**fields)
    return replace(options, **fields) if fields else options


def _load(playbook: PlaybookLike, targets: Mapping[str, Target],
          registry: Registry | None) -> Playbook:
    if isinstance(playbook, Playbook):
        return playbook
    from runbook.loader import load

    return load(playbook, registry=registry, targets=list(targets))
