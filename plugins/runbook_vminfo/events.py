"""What a vminfod client's log says about its event stream (bunyan JSON lines).

Two symptoms from the vminfod guide: ``vminfod watchForChanges timeout
exceeded`` (the client waited for a change that never matched; compared
here with the change vminfod did emit for the same VM and property, so a
string ``"1024"`` against a number ``1024`` shows up as a type mismatch, a
bug in the caller) and ``VminfodEventStream ended prematurely`` (vminfod died
while the client was connected). Lines that are not bunyan JSON are listed
in ``not_understood``.
"""

from __future__ import annotations

from typing import Any

from runbook_svcs.logs import parse_log

TIMEOUT = "watchForChanges timeout exceeded"
PREMATURE = "VminfodEventStream ended prematurely"


def json_type(value: object) -> str:
    """The JSON name of a decoded value's type."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _says(entry: dict[str, Any], needle: str) -> bool:
    err = entry.get("err")
    detail = err.get("message", "") if isinstance(err, dict) else ""
    return needle in str(entry.get("msg", "")) or needle in str(detail)


def _changes(entry: dict[str, Any]) -> list[dict[str, Any]]:
    found = entry.get("changes")
    return [c for c in found if isinstance(c, dict)] if isinstance(found, list) else []


def _key(change: dict[str, Any]) -> str:
    path = change.get("path")
    return ".".join(map(str, path)) if isinstance(path, list) else str(path)


def parse_client_log(text: str) -> dict[str, Any]:
    """``{timeouts, premature_ends, not_understood}`` of a client's log text."""
    read = parse_log(text)
    emitted: dict[tuple[Any, str], Any] = {}
    timeouts: list[dict[str, Any]] = []
    ends: list[dict[str, Any]] = []
    for entry in read["entries"]:
        if entry["source"] != "bunyan":
            continue
        if _says(entry, TIMEOUT):
            timeouts += _timeout_rows(entry, emitted)
        elif _says(entry, PREMATURE):
            ends.append({"time": entry.get("time"), "msg": entry.get("msg")})
        for change in _changes(entry) if entry.get("msg") == "vminfod event" else []:
            emitted[(entry.get("vm_uuid"), _key(change))] = change.get("newValue")
    return {"timeouts": timeouts, "premature_ends": ends,
            "not_understood": read["not_understood"]}


def _timeout_rows(entry: dict[str, Any], emitted: dict[tuple[Any, str], Any]
                  ) -> list[dict[str, Any]]:
    vm = entry.get("vm_uuid")
    wanted = _changes(entry)
    if not wanted:
        return [{"time": entry.get("time"), "vm_uuid": vm, "path": None, "expected": None,
                 "expected_type": None, "emitted": None, "emitted_type": None,
                 "type_mismatch": False,
                 "note": "the timeout names no expected change (no 'changes' field)"}]
    rows = []
    for change in wanted:
        key = _key(change)
        expected = change.get("newValue")
        seen = (vm, key) in emitted
        got = emitted.get((vm, key))
        rows.append({
            "time": entry.get("time"), "vm_uuid": vm, "path": key,
            "expected": expected, "expected_type": json_type(expected),
            "emitted": got, "emitted_type": json_type(got) if seen else None,
            "type_mismatch": seen and json_type(got) != json_type(expected)
            and str(got) == str(expected),
            "note": None if seen else "vminfod emitted no change of this property",
        })
    return rows
