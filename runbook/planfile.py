"""Saved plans: review now, execute later exactly as reviewed.

A plan file records the playbook's sha256, the params (secrets left out: they
must be given again), every planned step (``PlannedStep.record``: action,
target, whether it mutates, whether it was only planned, its commands, or
what it waits on, gate and rollback) and a sha256 over all of it. Running
with a plan refuses a plan whose hash does not match, a playbook that changed
since, or params that differ; during the run each mutating step the plan
showed with known commands must run exactly those commands. A step that
waited on an earlier result is typed as such (``waits_on``), never guessed
from its text.

A plan cannot be forged by whoever can write the file: besides its sha256 it
carries an HMAC keyed with a secret kept in ``$RUNBOOK_HOME/plan.key`` (0600),
so a plan runs only where it was made. What a step may do is decided from the
playbook itself, not from the plan's own ``mutating`` flags, and a mutating
step the reviewed plan did not run (skipped by its ``when``) is refused.

Approvals (``runbook.approval``) are kept beside the signed body under
``approvals``: adding one leaves the plan's sha256 as it was, and each is
signed over that sha256, so editing the plan or the approval voids it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runbook.errors import PlaybookError
from runbook.models import Playbook
from runbook.params import coerce

if TYPE_CHECKING:
    from runbook.options import RunOptions
    from runbook.planner import PlannedStep
    from runbook.plugins import Registry

FORMAT = 2


def _digest(body: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":"),
                                     default=str).encode()).hexdigest()


NOT_IN_PLAN = "(not run in the reviewed plan: its when was false)"
"""The commands a plan expects of a mutating step it skipped: none can match."""


def _key() -> bytes:
    """This runbook home's plan-signing key, made on first use (readable by its owner)."""
    from runbook.paths import runbook_home

    path = runbook_home() / "plan.key"
    try:
        return path.read_bytes()
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return path.read_bytes()
        with os.fdopen(fd, "wb") as fh:
            fh.write(secrets.token_bytes(32))
        return path.read_bytes()


def _signature(body: dict[str, Any]) -> str:
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str).encode()
    return hmac.new(_key(), text, hashlib.sha256).hexdigest()


sign = _signature
"""HMAC of a record with this runbook home's plan key (approvals are signed with it)."""


def signed(record: dict[str, Any], signature: object) -> bool:
    """Whether signature is this runbook home's HMAC of record."""
    return isinstance(signature, str) and hmac.compare_digest(signature, _signature(record))


def write_plan_file(path: str | Path, playbook: Playbook, params: dict[str, Any],
                    planned: Sequence[PlannedStep], *, run_id: str,
                    actor: str | None = None,
                    selection: dict[str, Any] | None = None) -> None:
    body = {
        "format": FORMAT,
        "playbook": playbook.name,
        "playbook_path": playbook.origin,
        "playbook_sha256": playbook.sha256,
        "params": {n: v for n, v in params.items() if not playbook.params[n].secret},
        "secret_params": sorted(n for n in params if playbook.params[n].secret),
        "run_id": run_id,
        "actor": actor,
        "approval": playbook.approval.model_dump(),
        "steps": {p.id: p.record() for p in planned},
        **({"selection": selection} if selection else {}),
    }
    doc = {**body, "sha256": _digest(body), "signature": _signature(body)}
    Path(path).write_text(json.dumps(doc, indent=2, default=str) + "\n", encoding="utf-8")


def read_plan_file(path: str | Path) -> dict[str, Any]:
    """The plan's contents, once its own hash says nobody edited it (with ``sha256``
    and the unchecked ``approvals`` records put back: ``runbook.approval`` checks them)."""
    file = str(path)
    from runbook.yamlsrc import read_text

    try:
        doc = json.loads(read_text(path, "plan file")[1])
    except (json.JSONDecodeError, RecursionError) as exc:
        raise PlaybookError(f"cannot read plan file: {exc}", file=file) from exc
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise PlaybookError(f"not a runbook plan file (format {FORMAT}); make a new plan",
                            file=file)
    claimed = doc.pop("sha256", None)
    signature = doc.pop("signature", None)
    approvals = doc.pop("approvals", [])
    if claimed != _digest(doc):
        raise PlaybookError("plan file was modified after it was written (sha256 mismatch)",
                            file=file, field="sha256")
    if not isinstance(signature, str) or not hmac.compare_digest(signature, _signature(doc)):
        raise PlaybookError("plan file was not signed by this runbook home (edited, or made "
                            "elsewhere); make a new plan here", file=file, field="signature")
    if not isinstance(doc.get("steps"), dict) or not isinstance(doc.get("params"), dict):
        raise PlaybookError("plan file lacks its steps or params; make a new plan",
                            file=file, field="steps")
    if not isinstance(approvals, list):
        raise PlaybookError("the plan's approvals are not a list (edited?)", file=file,
                            field="approvals")
    return {**doc, "sha256": claimed, "approvals": approvals}


def apply_plan_file(path: str | Path, playbook: Playbook, given: dict[str, Any],
                    options: RunOptions, registry: Registry | None = None) -> dict[str, Any]:
    """Check a plan against the playbook and params; set the commands each mutating
    step must run; return the params to run with."""
    file = str(path)
    doc = read_plan_file(path)
    if doc["playbook_sha256"] != playbook.sha256:
        raise PlaybookError(f"the playbook changed since this plan was made "
                            f"(sha256 {doc['playbook_sha256'][:12]} -> {playbook.sha256[:12]});"
                            " make a new plan", file=file, field="playbook_sha256")
    params = _merge_params(doc, playbook, given, file, cli=options.from_cli)
    _apply_selection(doc.get("selection") or {}, options, file)
    options.expected_commands = _expected(doc, playbook, registry)
    from runbook.approval import approval_of

    options.approval = approval_of(doc, playbook, file)
    return params


def _expected(doc: dict[str, Any], playbook: Playbook,
              registry: Registry | None) -> dict[str, list[str]]:
    """Each mutating step's reviewed commands, mutating as the playbook's own actions
    say; a mutating step the plan did not run may not run now."""
    from runbook.plugins import default_registry

    registry = registry or default_registry()
    expected: dict[str, list[str]] = {}
    for step in playbook.steps:
        if not registry.action(step.action).mutating:
            continue
        planned = doc["steps"].get(step.id)
        if planned is None:
            expected[step.id] = [NOT_IN_PLAN]
        elif planned.get("waits_on") is None:
            expected[step.id] = list(planned.get("commands") or [])
    return expected


def _apply_selection(kept: dict[str, Any], options: RunOptions, file: str) -> None:
    """The reviewed ``--limit``/``--tags``/``--skip-tags``/``--start-at`` hold for the
    run; given again they must be the same."""
    given = options.selection()
    for key in ("limit", "tags", "skip_tags", "start_at"):
        if key in given and given[key] != kept.get(key):
            flag = "--" + key.replace("_", "-")
            raise PlaybookError(f"{flag} {given[key]!r} differs from the reviewed plan "
                                f"({kept.get(key)!r}); run the plan as reviewed or make a "
                                "new one", file=file, field=f"selection.{key}")
    options.limit = kept.get("limit")
    options.tags = tuple(kept.get("tags") or ())
    options.skip_tags = tuple(kept.get("skip_tags") or ())
    options.start_at = kept.get("start_at")


def _merge_params(doc: dict[str, Any], playbook: Playbook, given: dict[str, Any], file: str,
                  *, cli: bool) -> dict[str, Any]:
    """The plan's params; a given one must equal the reviewed value; secrets again."""
    params = dict(doc["params"])
    for name, value in given.items():
        if name in params and name in playbook.params:
            try:
                value = coerce(playbook.params[name], value)
            except ValueError as exc:
                raise PlaybookError(str(exc), file="<command line>" if cli else "<params>",
                                    field=f"params.{name}") from exc
        if name in params and params[name] != value:
            raise PlaybookError(f"param {name}={value!r} differs from the reviewed plan "
                                f"({params[name]!r})", file=file, field=f"params.{name}")
        params[name] = value
    missing = [n for n in doc.get("secret_params", []) if n not in params]
    if missing:
        again = (", ".join(f"-p {n}=..." for n in missing) if cli
                 else "params " + ", ".join(missing))
        raise PlaybookError(f"secret params are not stored in plans; give them again: {again}",
                            file=file, field="params")
    return params
