"""Saved plans: review now, execute later exactly as reviewed.

A plan file records the playbook's sha256, the params (secrets left out: they
must be given again), every step's rendered commands, and a sha256 over all
of it. ``runbook run --plan`` refuses a plan whose hash does not match, a
playbook that changed since, or params that differ; during the run each
step's commands must equal the reviewed ones.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runbook.errors import PlaybookError
from runbook.models import Playbook
from runbook.params import coerce
from runbook.result import RunResult

if TYPE_CHECKING:
    from runbook.engine import RunOptions

FORMAT = 1


def _digest(body: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":"),
                                     default=str).encode()).hexdigest()


def write_plan_file(path: str | Path, playbook: Playbook, params: dict[str, Any],
                    result: RunResult) -> None:
    body = {
        "format": FORMAT,
        "playbook": playbook.name,
        "playbook_path": playbook.origin,
        "playbook_sha256": playbook.sha256,
        "params": {n: v for n, v in params.items() if not playbook.params[n].secret},
        "secret_params": sorted(n for n in params if playbook.params[n].secret),
        "run_id": result.run_id,
        "steps": {s.id: {"commands": s.commands, "mutating": s.mutating, "status": s.status,
                         "rollback": s.rollback, "gate": s.gate} for s in result.steps},
    }
    doc = {**body, "sha256": _digest(body)}
    Path(path).write_text(json.dumps(doc, indent=2, default=str) + "\n", encoding="utf-8")


def apply_plan_file(path: str | Path, playbook: Playbook, given: dict[str, Any],
                    options: RunOptions) -> dict[str, Any]:
    """Check a plan against the playbook; return the params to run with."""
    file = str(path)
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise PlaybookError(f"cannot read plan file: {exc}", file=file) from exc
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise PlaybookError("not a runbook plan file (format 1)", file=file)
    claimed = doc.pop("sha256", None)
    if claimed != _digest(doc):
        raise PlaybookError("plan file was modified after it was written (sha256 mismatch)",
                            file=file, field="sha256")
    if doc["playbook_sha256"] != playbook.sha256:
        raise PlaybookError(f"the playbook changed since this plan was made "
                            f"(sha256 {doc['playbook_sha256'][:12]} -> {playbook.sha256[:12]});"
                            " make a new plan", file=file, field="playbook_sha256")
    params = dict(doc["params"])
    for name, value in given.items():
        if name in params and name in playbook.params:
            try:
                value = coerce(playbook.params[name], value)
            except ValueError as exc:
                raise PlaybookError(str(exc), file="<command line>",
                                    field=f"params.{name}") from exc
        if name in params and params[name] != value:
            raise PlaybookError(f"param {name}={value!r} differs from the reviewed plan "
                                f"({params[name]!r})", file=file, field=f"params.{name}")
        params[name] = value
    missing = [n for n in doc.get("secret_params", []) if n not in params]
    if missing:
        raise PlaybookError(f"secret params are not stored in plans; give them again: "
                            f"{', '.join('-p ' + n + '=...' for n in missing)}", file=file,
                            field="params")
    options.expected_commands = {
        sid: s["commands"] for sid, s in doc["steps"].items()
        if s.get("mutating") and s.get("status") == "planned"
        and not any("(waits on" in c for c in s["commands"])}
    return params
