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
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runbook.errors import PlaybookError
from runbook.models import Playbook
from runbook.params import coerce

if TYPE_CHECKING:
    from runbook.options import RunOptions
    from runbook.planner import PlannedStep

FORMAT = 2


def _digest(body: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":"),
                                     default=str).encode()).hexdigest()


def write_plan_file(path: str | Path, playbook: Playbook, params: dict[str, Any],
                    planned: Sequence[PlannedStep], *, run_id: str) -> None:
    body = {
        "format": FORMAT,
        "playbook": playbook.name,
        "playbook_path": playbook.origin,
        "playbook_sha256": playbook.sha256,
        "params": {n: v for n, v in params.items() if not playbook.params[n].secret},
        "secret_params": sorted(n for n in params if playbook.params[n].secret),
        "run_id": run_id,
        "steps": {p.id: p.record() for p in planned},
    }
    doc = {**body, "sha256": _digest(body)}
    Path(path).write_text(json.dumps(doc, indent=2, default=str) + "\n", encoding="utf-8")


def read_plan_file(path: str | Path) -> dict[str, Any]:
    """The plan's contents, once its own hash says nobody edited it."""
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
    if claimed != _digest(doc):
        raise PlaybookError("plan file was modified after it was written (sha256 mismatch)",
                            file=file, field="sha256")
    return doc


def apply_plan_file(path: str | Path, playbook: Playbook, given: dict[str, Any],
                    options: RunOptions) -> dict[str, Any]:
    """Check a plan against the playbook and params; set the commands each mutating
    step must run; return the params to run with."""
    file = str(path)
    doc = read_plan_file(path)
    if doc["playbook_sha256"] != playbook.sha256:
        raise PlaybookError(f"the playbook changed since this plan was made "
                            f"(sha256 {doc['playbook_sha256'][:12]} -> {playbook.sha256[:12]});"
                            " make a new plan", file=file, field="playbook_sha256")
    params = _merge_params(doc, playbook, given, file, cli=options.from_cli)
    options.expected_commands = {
        sid: list(s["commands"]) for sid, s in doc["steps"].items()
        if s["mutating"] and not s["execute"] and s["waits_on"] is None}
    return params


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
