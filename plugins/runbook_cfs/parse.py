"""Parsers for ``cray cfs v3 ... --format json`` (see /work/shared/formats/cray-cfs-*.md).

Pure functions over captured stdout, raising ``runbook.parsing.ParseError``
when it is not the JSON the CFS API returns, plus the small helpers that turn
an option back into ``cray cfs v3 options update`` arguments.
"""

from __future__ import annotations

import re
from typing import Any, TypedDict

from runbook.parsing import (
    expect_bool,
    expect_dict,
    expect_int,
    expect_list,
    expect_str,
    load_json,
    parse_errors,
)
from runbook.samples import OutputParser

# Types of the V3Options keys (Cray-HPE/config-framework-service api/openapi.yaml).
_INT_OPTIONS = frozenset({
    "batch_size", "batch_window", "batcher_check_interval", "batcher_max_backoff",
    "batcher_pending_timeout", "debug_wait_time", "default_batcher_retry_policy",
    "default_page_size", "hardware_sync_interval",
})
_BOOL_OPTIONS = frozenset({"batcher_disable", "include_ara_links"})
_STR_OPTIONS = frozenset({
    "additional_inventory_url", "additional_inventory_source", "default_ansible_config",
    "default_playbook", "logging_level", "session_ttl",
})
_OPTION_NAME = re.compile(r"[a-z][a-z0-9_]*")
SESSION_STATUSES = ("pending", "running", "complete")


class SessionSummary(TypedDict):
    """A CFS session reduced to what runbooks wait and decide on.

    ``succeeded`` keeps the API's *string* (``none``, ``true``, ``false``,
    ``unknown``); keys the API has not set yet (a pending session has no job and
    no completion time) are None.
    """

    name: str
    status: str
    succeeded: str
    start_time: str | None
    completion_time: str | None
    job: str | None
    configuration: str | None


class Sessions(TypedDict):
    """Sessions of one page, grouped by status, and the paging cursor."""

    sessions: list[SessionSummary]
    by_status: dict[str, list[str]]
    next: dict[str, Any] | None


def parse_options(text: str) -> dict[str, Any]:
    """The CFS global options object, all keys kept, values typed as the API returns them.

    Known keys are checked against the API schema (integers, booleans,
    strings) so that a wrong document fails here rather than in a comparison;
    unknown keys are kept as they are, for newer CFS versions.
    """
    with parse_errors("cray cfs v3 options list", text):
        options = expect_dict(load_json(text), "options")
        for key, value in options.items():
            if key in _INT_OPTIONS:
                expect_int(value, key)
            elif key in _BOOL_OPTIONS:
                expect_bool(value, key)
            elif key in _STR_OPTIONS:
                expect_str(value, key)
        return options


def option_flag(name: str) -> str:
    """The ``cray cfs v3 options update`` flag of an option: ``batcher_max_backoff`` ->
    ``--batcher-max-backoff``."""
    if not _OPTION_NAME.fullmatch(name):
        raise ValueError(f"not a CFS option name: {name!r}")
    return "--" + name.replace("_", "-")


def format_option_value(value: object) -> str:
    """An option value as the CLI expects it: JSON-style ``true``/``false``, the rest as str."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def parse_sessions(text: str) -> Sessions:
    """Sessions from ``cray cfs v3 sessions list`` (or one from ``describe``).

    ``list`` prints ``{"next": ..., "sessions": [...]}``; ``next`` is null on
    the last page, otherwise the cursor (``after_id``, ``limit``) for the next
    request. ``by_status`` always has ``pending``, ``running`` and
    ``complete``, plus any other status a newer CFS reports, so every session
    is under its status key.
    """
    with parse_errors("cray cfs v3 sessions list", text):
        doc = load_json(text)
        next_page: dict[str, Any] | None = None
        if isinstance(doc, list):  # older CLIs print a bare array
            items = doc
        elif isinstance(doc, dict) and "sessions" in doc:
            items = expect_list(doc["sessions"], "sessions")
            cursor = doc.get("next")
            next_page = None if cursor is None else expect_dict(cursor, "next")
        else:
            items = [expect_dict(doc, "session")]  # describe: one session object
        sessions = [_session(expect_dict(item, f"sessions[{i}]")) for i, item in enumerate(items)]
        by_status: dict[str, list[str]] = {status: [] for status in SESSION_STATUSES}
        for session in sessions:
            by_status.setdefault(session["status"], []).append(session["name"])
        return {"sessions": sessions, "by_status": by_status, "next": next_page}


def _session(obj: dict[str, Any]) -> SessionSummary:
    """Summary of one decoded session object."""
    name = expect_str(obj.get("name"), "name")
    status = expect_dict(obj.get("status"), f"{name}: status")
    state = expect_dict(status.get("session"), f"{name}: status.session")
    configuration = expect_dict(obj.get("configuration") or {}, f"{name}: configuration")

    def optional(value: object, what: str) -> str | None:
        return None if value is None else expect_str(value, f"{name}: {what}")

    return {
        "name": name,
        "status": expect_str(state.get("status"), f"{name}: status.session.status"),
        "succeeded": expect_str(state.get("succeeded"), f"{name}: status.session.succeeded"),
        "start_time": optional(state.get("start_time"), "status.session.start_time"),
        "completion_time": optional(state.get("completion_time"),
                                    "status.session.completion_time"),
        "job": optional(state.get("job"), "status.session.job"),
        "configuration": optional(configuration.get("name"), "configuration.name"),
    }


# --- the parsers as declared to runbook_parsers(), each tested on its samples folder ----------

def _options_sample(stdout: str, stderr: str, rc: int) -> dict[str, Any]:
    return parse_options(stdout)


def _sessions_sample(stdout: str, stderr: str, rc: int) -> Sessions:
    return parse_sessions(stdout)


PARSERS = {
    "cray-cfs-options": OutputParser(_options_sample),
    "cray-cfs-sessions": OutputParser(_sessions_sample),
}
