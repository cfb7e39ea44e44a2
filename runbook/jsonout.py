"""What ``--json`` prints: one JSON document per command, versioned, one vocabulary.

Scripts read ``run``, ``plan``, ``resume``, ``runs``, ``runs show``, ``runs resolve``
and ``audit show``; each prints exactly one document with ``format`` (bumped when a
field changes meaning or goes away) and ``kind``. The same thing has the same name
everywhere: a run's ``run_id``, ``playbook``, ``actor``, ``reason``, ``status``,
``exit_code``, ``started`` and ``duration_ms``; a step's ``id`` and ``status``.
Older names stay beside them (``outcome`` and ``started_at`` of a run result,
``duration_s`` and a journal step's ``step``/``state``) so existing scripts go on
working. docs/cli.md shows an example of each; tests compare them with real output.
"""

from __future__ import annotations

import json
from typing import Any

FORMAT = 1
"""The version of every ``--json`` document."""

_JOURNAL_STATUS = {"done": "ok"}
"""A journal step state as the step status a run result uses (the rest are the same)."""


def dumps(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, default=str)


def _head(kind: str) -> dict[str, Any]:
    return {"format": FORMAT, "kind": kind}


def run_document(result: dict[str, Any]) -> dict[str, Any]:
    """``run``, ``plan``, ``resume``: the run result, with the shared names."""
    kind = "plan" if result.get("dry_run") else "run"
    return {**_head(kind), "status": result["outcome"], "started": result["started_at"],
            **result}


def runs_document(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """``runs``: the recent runs, newest first."""
    return {**_head("runs"), "runs": [_with_ms(r) for r in runs]}


def run_record_document(detail: dict[str, Any]) -> dict[str, Any]:
    """``runs show``: one run as the journal keeps it."""
    steps = [{"id": s["step"], "status": _JOURNAL_STATUS.get(s["state"], s["state"]), **s}
             for s in detail["steps"]]
    return {**_head("run-record"), **_with_ms(detail), "steps": steps}


def resolved_document(done: dict[str, Any]) -> dict[str, Any]:
    """``runs resolve``: the run closed by hand and the commands that were listed."""
    return {**_head("resolved"), **done}


def trail_document(run_id: str, audit_log: str, events: list[dict[str, Any]]) -> dict[str, Any]:
    """``audit show``: one run's events exactly as the log holds them (hash-chained)."""
    return {**_head("audit-trail"), "run_id": run_id, "audit_log": audit_log,
            "events": events}


def _with_ms(run: dict[str, Any]) -> dict[str, Any]:
    seconds = run.get("duration_s")
    return {**run, "duration_ms": None if seconds is None else round(seconds * 1000, 3)}
