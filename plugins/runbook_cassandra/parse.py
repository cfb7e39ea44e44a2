"""Parsers of ``nodetool status``, ``info`` and ``describecluster`` and of cqlsh's errors.

Written against the layouts in shared/formats (3.x fixed columns, 4.x tables,
pre-3.x ``KB``/``MB``) and tested on their samples (``tests/samples/nodetool-*``).
Columns are split on runs of spaces, never by position: a 10-character Load
pushes the rest of a 3.x line right. Stdlib only, plus runbook's ParseError.
"""

from __future__ import annotations

import re
from typing import Any

from runbook.parsing import ParseError
from runbook.samples import OutputParser

_UNITS = {"bytes": 1, "KiB": 1024, "MiB": 1024**2, "GiB": 1024**3, "TiB": 1024**4,
          "KB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}
_NODE = re.compile(
    r"^(?P<status>[UD?])(?P<state>[NLJM])\s+(?P<address>\S+)\s+"
    r"(?P<load>\?|[\d.]+\s+(?:bytes|[KMGT]i?B))\s+(?P<tokens>\d+)\s+"
    r"(?P<owns>\?|[\d.]+%)\s+(?P<host_id>[0-9a-fA-F-]{36})\s+(?P<rack>.*?)\s*$")
_LEGEND = ("Status=Up/Down", "|/ State=Normal/Leaving/Joining/Moving", "Note: ")
_STATES = {"joining": "J", "leaving": "L", "moving": "M"}


def size_bytes(text: str) -> int | None:
    """``812.5 MiB`` -> bytes; ``?`` -> None."""
    text = text.strip()
    if text == "?":
        return None
    number, _, unit = text.partition(" ")
    if unit not in _UNITS:
        raise ParseError(f"unknown size unit in {text!r}")
    return round(float(number) * _UNITS[unit])


def _percent(text: str) -> float | None:
    return None if text == "?" else float(text.rstrip("%"))


def parse_status(text: str) -> dict[str, Any]:
    """``nodetool status``: every datacenter's nodes, and who is not ``UN``."""
    datacenters: list[str] = []
    nodes: list[dict[str, Any]] = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("Datacenter:"):
            datacenters.append(stripped.partition(":")[2].strip())
            continue
        if (not stripped or set(stripped) == {"="} or stripped.startswith(_LEGEND)
                or stripped.startswith("--")):
            continue
        match = _NODE.match(stripped)
        if match is None or not datacenters:
            raise ParseError(f"not a line of nodetool status: {line!r}")
        nodes.append({"datacenter": datacenters[-1], "status": match["status"],
                      "state": match["state"], "address": match["address"],
                      "load_bytes": size_bytes(match["load"]), "tokens": int(match["tokens"]),
                      "owns": _percent(match["owns"]), "host_id": match["host_id"],
                      "rack": match["rack"]})
    if not datacenters:
        raise ParseError("no 'Datacenter:' heading")
    return summarize(datacenters, nodes)


def summarize(datacenters: list[str], nodes: list[dict[str, Any]]) -> dict[str, Any]:
    """The lists of addresses by status and state, and ``all_normal`` (every node ``UN``)."""
    out: dict[str, Any] = {"datacenters": datacenters, "nodes": nodes,
                           "up": [n["address"] for n in nodes if n["status"] == "U"],
                           "down": [n["address"] for n in nodes if n["status"] == "D"]}
    for key, code in _STATES.items():
        out[key] = [n["address"] for n in nodes if n["state"] == code]
    out["all_normal"] = bool(nodes) and all(n["status"] + n["state"] == "UN" for n in nodes)
    return out


def _fields(text: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            found.setdefault(key.strip(), []).append(value.strip())
    return found


def _bool(value: str) -> bool:
    if value not in ("true", "false"):
        raise ParseError(f"expected true or false, got {value!r}")
    return value == "true"


def _cache(line: str | None) -> tuple[float | None, bool]:
    """(recent hit rate or None for NaN, whether the cache has a capacity)."""
    if line is None:
        return None, False
    rate = re.search(r"(NaN|[\d.]+) recent hit rate", line)
    capacity = re.search(r"capacity ([\d.]+ (?:bytes|[KMGT]i?B))", line)
    if rate is None or capacity is None:
        raise ParseError(f"not a cache line of nodetool info: {line!r}")
    hit = None if rate[1] == "NaN" else float(rate[1])
    return hit, bool(size_bytes(capacity[1]))


def _token_count(tokens: list[str]) -> int | None:
    if not tokens:
        return None
    many = re.match(r"\(invoke with -T/--tokens to see all (\d+) tokens\)", tokens[0])
    if many:
        return int(many[1])
    if tokens[0].startswith("(node is not joined"):
        return 0
    return len(tokens)


def parse_info(text: str) -> dict[str, Any]:
    """``nodetool info`` (3.11 layout)."""
    f = _fields(text)

    def one(key: str) -> str:
        if key not in f:
            raise ParseError(f"no {key!r} line")
        return f[key][0]

    heap = re.match(r"([\d.]+) / ([\d.]+)$", one("Heap Memory (MB)"))
    if heap is None:
        raise ParseError(f"cannot read the heap line {one('Heap Memory (MB)')!r}")
    uptime = one("Uptime (seconds)")
    key_rate, _ = _cache(f.get("Key Cache", [None])[0])
    row_rate, row_enabled = _cache(f.get("Row Cache", [None])[0])
    return {
        "id": one("ID"), "gossip_active": _bool(one("Gossip active")),
        "native_transport_active": _bool(one("Native Transport active")),
        "load_bytes": size_bytes(one("Load")),
        "uptime_seconds": None if uptime == "N/A" else int(uptime),
        "heap_used_mb": float(heap[1]), "heap_max_mb": float(heap[2]),
        "data_center": one("Data Center"), "rack": one("Rack"),
        "exceptions": int(one("Exceptions")),
        "percent_repaired": float(one("Percent Repaired").rstrip("%")),
        "key_cache_hit_rate": key_rate,
        "row_cache_hit_rate": row_rate if row_enabled else None,
        "token_count": _token_count(f.get("Token", [])),
    }


_VERSION = re.compile(r"^\s*(\S+): \[(.*)\]\s*$")


def _schema_versions(lines: list[str]) -> dict[str, list[str]]:
    """The ``<version>: [<ip>, ...]`` lines that follow ``Schema versions:``."""
    versions: dict[str, list[str]] = {}
    start = next((i for i, line in enumerate(lines) if line.strip() == "Schema versions:"), None)
    if start is None:
        raise ParseError("no 'Schema versions:' line")
    for line in lines[start + 1:]:
        match = _VERSION.match(line)
        if match is None:
            if line.strip():
                break
            continue
        versions[match[1]] = [a.strip() for a in match[2].split(",") if a.strip()]
    return versions


_DESCRIBE_FIELDS = {"Name": "cluster_name", "Snitch": "snitch",
                    "DynamicEndPointSnitch": "dynamic_snitch", "Partitioner": "partitioner"}


def parse_describecluster(text: str) -> dict[str, Any]:
    """``nodetool describecluster``: name, snitch, partitioner, schema versions."""
    lines = text.splitlines()
    if not lines or lines[0].strip() != "Cluster Information:":
        raise ParseError("does not start with 'Cluster Information:'")
    out: dict[str, Any] = {}
    for line in lines[1:]:
        key, _, value = line.strip().partition(":")
        field = _DESCRIBE_FIELDS.get(key)
        if field is not None and field not in out:
            out[field] = value.strip()
    missing = [n for n in _DESCRIBE_FIELDS.values() if n not in out]
    if missing:
        raise ParseError(f"missing {', '.join(missing)}")
    versions = _schema_versions(lines)
    return {"cluster_name": out["cluster_name"], "snitch": out["snitch"],
            "dynamic_snitch": out["dynamic_snitch"] == "enabled",
            "partitioner": out["partitioner"], "schema_versions": versions,
            "schema_agreement": len(versions) == 1 and "UNREACHABLE" not in versions}


def _stdout(parser: Any) -> Any:
    def parse(stdout: str, stderr: str = "", rc: int = 0) -> Any:
        return parser(stdout)

    return parse


PARSERS = {
    "nodetool-status": OutputParser(_stdout(parse_status)),
    "nodetool-info": OutputParser(_stdout(parse_info)),
    "nodetool-describecluster": OutputParser(_stdout(parse_describecluster)),
}
