"""What the engine tells the journal, and what a resumed run gets back from it.

``Durable`` is a thin adapter: the engine reports transitions (step running,
step done, rollback pushed, ...) and the journal commits each one before the
engine goes on. With the journal off (a dry-run, or ``journal=False`` from
Python) every call is a no-op. ``ResumeState`` is what a resume starts from:
per-step states, captured pre-state, results, and the pending rollbacks.
"""

from __future__ import annotations

import difflib
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runbook.errors import LockedError, PlaybookError
from runbook.journal import FINAL, RollbackRecord, StepRecord, lock_key
from runbook.models import Playbook

if TYPE_CHECKING:
    from runbook.options import RunOptions
    from runbook.state import JournalStore


@dataclass
class ResumeState:
    """Where an interrupted run stood, read back from the journal."""

    run_id: str
    run: dict[str, Any]
    steps: dict[str, StepRecord] = field(default_factory=dict)
    hosts: dict[str, dict[str, StepRecord]] = field(default_factory=dict)
    rollbacks: list[RollbackRecord] = field(default_factory=list)
    rollback_only: bool = False
    retry_failed: bool = False
    """``resume --rollback`` of a needs-attention run: its failed rollbacks run again."""

    @property
    def was_rolling_back(self) -> bool:
        return any(r.state in ("running", "done", "failed") for r in self.rollbacks)


class Durable:
    """The engine's side of the journal."""

    def __init__(self, journal: JournalStore | None, run_id: str) -> None:
        self.journal = journal
        self.run_id = run_id
        self.lock: str | None = None

    def __bool__(self) -> bool:
        return self.journal is not None

    @property
    def rides_with_audit(self) -> bool:
        """The journal's deferred transitions are committed by the audit's next durable
        event (one PostgreSQL transaction for both)."""
        return bool(getattr(self.journal, "rides_with_audit", False))

    def open_run(self, playbook: Playbook, params: dict[str, Any], targets: list[str], *,
                 actor: str, reason: str | None, audit_log: str | None, lock: bool,
                 takeover: bool, resumed: bool,
                 options: dict[str, Any] | None = None) -> dict[str, Any] | None:
        """Take the run's lock (LockedError when held; with ``takeover`` the previous
        holder is returned) and record the run, or reopen a resumed one."""
        if self.journal is None:
            return None
        key = lock_key(playbook.name, targets)
        previous = None
        if lock:
            key, previous = self._take_slot(key, playbook, actor=actor, takeover=takeover)
            self.lock = key
        if resumed:
            self.journal.reopen_run(self.run_id)
            return previous
        secret = sorted(n for n, p in playbook.params.items() if p.secret)
        self.journal.start_run(
            run_id=self.run_id, playbook=playbook.name, playbook_path=_absolute(playbook.origin),
            sha256=playbook.sha256, text=_source_text(playbook),
            params={n: v for n, v in params.items() if n not in secret},
            secret_params=secret, targets=targets, actor=actor, reason=reason,
            audit_log=audit_log, lock_key=self.lock or key, options=options)
        return previous

    def _take_slot(self, key: str, playbook: Playbook, *, actor: str,
                   takeover: bool) -> tuple[str, dict[str, Any] | None]:
        """The first free of the playbook's ``concurrency`` slots (slot 1 is the plain key;
        a resumed run first tries the slot it held); LockedError naming the holder of
        the first when all are taken. ``--force-unlock`` takes over slot 1."""
        assert self.journal is not None
        keys = [key] + [f"{key}#{n}" for n in range(2, playbook.concurrency + 1)]
        held = self.journal.run(self.run_id) if len(keys) > 1 else None
        if held and held.get("lock_key") in keys:
            keys.remove(held["lock_key"])
            keys.insert(0, held["lock_key"])
        first: LockedError | None = None
        for slot in keys:
            try:
                return slot, self.journal.acquire(slot, run_id=self.run_id, actor=actor,
                                                  playbook=playbook.name, takeover=False)
            except LockedError as exc:
                first = first or exc
        if takeover:
            return keys[0], self.journal.acquire(keys[0], run_id=self.run_id, actor=actor,
                                                 playbook=playbook.name, takeover=True)
        assert first is not None
        raise first

    def step(self, step_id: str, state: str, *, defer: bool | None = None,
             **fields: Any) -> None:
        """Commit a transition now; a command's outcome (done, checking, failed) is
        deferred to the next commit, which comes before the next mutating command. A
        background step's ``started`` is committed at once: it names the process a resume
        must stop, and a runner killed before the next commit would lose it."""
        if self.journal is not None:
            if defer is None:
                defer = state in ("done", "checking", "failed")
            self.journal.step(self.run_id, step_id, state=state, defer=defer, **fields)

    def push(self, step_id: str, target: str, action: str, args: dict[str, Any],
             commands: list[str]) -> int | None:
        if self.journal is None:
            return None
        return self.journal.push_rollback(self.run_id, step_id=step_id, target=target,
                                          action=action, args=args, commands=commands)

    def rollback_state(self, seq: int | None, state: str) -> None:
        if self.journal is not None and seq is not None:
            self.journal.set_rollback(self.run_id, seq, state)

    def discharge(self, step_id: str) -> None:
        if self.journal is not None:
            self.journal.discharge(self.run_id, step_id)

    def finish(self, status: str, exit_code: int) -> None:
        if self.journal is None:
            return
        from runbook.state import StateLost

        try:
            # An interrupted run paused by its operator stays resumable.
            self.journal.finish_run(self.run_id, status, exit_code)
            if self.lock:
                self.journal.release(self.lock, self.run_id)
        except StateLost:
            pass  # the run stays "running"; its lock went with the connection: resumable


def _source_text(playbook: Playbook) -> str | None:
    if playbook.origin == "<python>":
        return None
    try:
        return Path(playbook.origin).read_text(encoding="utf-8")
    except OSError:
        return None


def _absolute(origin: str) -> str:
    """The playbook's path as resume finds it from any directory (``<python>`` as is)."""
    return origin if origin.startswith("<") else os.path.abspath(origin)


def load_resume(journal: JournalStore, run_id: str, playbook_path: str | None = None, *,
                cli: bool = True, rollback: bool = False) -> tuple[ResumeState, Path]:
    """Read an interrupted run; refuse (PlaybookError, exit 2) what cannot be resumed.
    ``cli``: the error names the command line's RUN_ID, else the call's ``run_id``."""
    file, field = ("<command line>", "RUN_ID") if cli else ("<resume>", "run_id")
    run = journal.run(run_id)
    if run is None:
        candidates = journal.ambiguous(run_id)
        hint = f"; it matches {', '.join(candidates)}" if candidates else \
            "; `runbook runs` lists recent runs"
        raise PlaybookError(f"no run {run_id!r} in the journal{hint}", file=file, field=field)
    retry = _finished(journal, run, rollback=rollback, file=file, field=field)
    from runbook.state.liveness import still_running

    alive = still_running(journal, run)
    if alive:
        raise PlaybookError(alive, file=file, field=field)
    path = Path(playbook_path or run["playbook_path"])
    state = ResumeState(run["run_id"], run, retry_failed=retry)
    for rec in journal.steps(run["run_id"]):
        if rec.host:
            state.hosts.setdefault(rec.step_id, {})[rec.host] = rec
        else:
            state.steps[rec.step_id] = rec
    state.rollbacks = journal.rollbacks(run["run_id"])
    return state, path


def _finished(journal: JournalStore, run: dict[str, Any], *, rollback: bool, file: str,
              field: str) -> bool:
    """Refuse a finished run, except ``--rollback`` of one whose rollbacks failed
    (True: retry them)."""
    failed = [r for r in journal.rollbacks(run["run_id"]) if r.state == "failed"]
    retry = rollback and run["status"] == "needs-attention" and bool(failed)
    if run["status"] in FINAL and not retry:
        hint = (f"; retry its failed rollbacks with: runbook resume {run['run_id']} "
                f"--rollback, or, once done by hand, close it with: runbook runs resolve "
                f"{run['run_id']} --reason TEXT") if failed else ""
        raise PlaybookError(f"run {run['run_id']} already finished ({run['status']}); "
                            f"nothing to resume{hint}", file=file, field=field)
    return retry


def check_unchanged(state: ResumeState, playbook: Playbook, text: str, *,
                    accept_changed: bool, cli: bool = True) -> None:
    """A playbook edited since the run started is refused unless accepted, with the diff."""
    if playbook.sha256 == state.run["playbook_sha256"] or accept_changed:
        return
    old = (state.run.get("playbook_text") or "").splitlines(keepends=True)
    diff = "".join(difflib.unified_diff(old, text.splitlines(keepends=True),
                                        "as the run started", "now", n=1))
    raise PlaybookError(
        f"the playbook changed since run {state.run_id} started (sha256 "
        f"{state.run['playbook_sha256'][:12]} -> {playbook.sha256[:12]}); review the change "
        f"and pass {'--accept-changed-playbook' if cli else 'accept_changed=True'} to resume "
        f"anyway:\n{diff}",
        file=playbook.origin, field="sha256")


def same_shape(state: ResumeState, options: RunOptions) -> None:
    """A resume works on what the run worked on: the sandbox and targets the journal
    kept are used when none are given, and different ones are refused (exit 2) with
    the command that resumes the run as it was."""
    from runbook.options import run_shape

    kept = state.run.get("options") or {}
    if not kept:  # a run journaled before runs kept their options
        return
    given = run_shape(options)
    where = ("<command line>", "--sandbox") if options.from_cli else ("<resume>", "sandbox")
    command = f"runbook resume {state.run_id}"
    _same_machine(state, kept, where)
    if given["sandbox"] is None and kept.get("sandbox"):
        if not Path(kept["sandbox"], "state.json").is_file():
            raise PlaybookError(f"run {state.run_id} ran in the sandbox {kept['sandbox']}, "
                                "which is gone; it cannot be resumed elsewhere",
                                file=where[0], field=where[1])
        options.sandbox = Path(kept["sandbox"])
    elif given["sandbox"] != kept.get("sandbox"):
        ran = f"in the sandbox {kept['sandbox']}" if kept.get("sandbox") else \
            "against the real systems (no sandbox)"
        raise PlaybookError(f"run {state.run_id} ran {ran}; resume it there, as it "
                            f"remembers: {command}", file=where[0], field=where[1])
    if not options.targets and kept.get("targets"):
        from runbook.models import Target

        options.targets = {n: Target.model_validate(t) for n, t in kept["targets"].items()}
    elif given["targets"] != kept.get("targets", {}):
        raise PlaybookError(f"run {state.run_id} ran with other targets (inventory, "
                            f"--target) than given now; resume it with the targets it "
                            f"remembers: {command}", file=where[0],
                            field="--target" if options.from_cli else "targets")


def kept_selection(state: ResumeState, options: RunOptions) -> None:
    """What the run started with besides its shape: the steps ``--tags`` left out, and
    the approval of its plan (the gates the approver saw are not asked again)."""
    kept = state.run.get("options") or {}
    options.skips = options.skips or dict(kept.get("skips") or {})
    if options.approval is None:
        from runbook.approval import PlanApproval

        options.approval = PlanApproval.from_journal(kept.get("approval"))


def _same_machine(state: ResumeState, kept: dict[str, Any], where: tuple[str, str]) -> None:
    """A run resumed from another machine (a shared state database) must not depend on
    the first machine's files: its sandbox folder."""
    host = state.run.get("host")
    if host and host != socket.gethostname() and kept.get("sandbox"):
        raise PlaybookError(f"run {state.run_id} ran in the sandbox {kept['sandbox']} on "
                            f"{host}, a folder of that machine; resume it there",
                            file=where[0], field=where[1])


def local_only(state: ResumeState, playbook: Playbook, options: RunOptions) -> None:
    """Refuse to resume on another machine a run whose targets are the first machine
    itself (``connection: local``): its commands acted there; a local target marked
    ``shared: true`` acts on a shared system (kubectl, a cloud API) and may move."""
    host = state.run.get("host")
    if not host or host == socket.gethostname():
        return
    targets = {**playbook.effective_targets(), **options.targets}
    local = sorted(n for n in state.run.get("targets") or []
                   if n in targets and targets[n].connection == "local"
                   and not targets[n].shared)
    if local:
        where = ("<command line>", "RUN_ID") if options.from_cli else ("<resume>", "run_id")
        raise PlaybookError(f"run {state.run_id} ran on {host} with local target(s) "
                            f"{', '.join(local)}, which act on that machine itself; resume it "
                            f"on {host} (a target whose commands act on a shared system, "
                            "e.g. kubectl against a cluster, says shared: true)",
                            file=where[0], field=where[1])

__all__ = ["Durable", "ResumeState", "check_unchanged", "kept_selection", "load_resume",
           "local_only",
           "lock_key", "same_shape"]
