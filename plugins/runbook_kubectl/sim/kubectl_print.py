"""How ``kubectl get`` prints: Go-style JSON, JSONPath, names and tabwriter tables."""

from __future__ import annotations

import calendar
import json
import re
import sys
import time
from typing import Any

Obj = dict[str, Any]


def go_json(document: Any) -> str:
    """JSON the way kubectl prints it (Go's encoder escapes <, > and &)."""
    text = json.dumps(document, indent=4, sort_keys=True, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026") + "\n"


def show(found: list[tuple[str, str, Obj]], output: str, single: bool,
         namespaces: list[str] | None, no_headers: bool, t: float) -> None:
    """Print what ``get`` found: one object, a List, names or a table."""
    objects = [o for _, _, o in found]
    document: Obj = objects[0] if single else {
        "apiVersion": "v1", "items": objects, "kind": "List", "metadata": {"resourceVersion": ""}}
    if output == "json":
        sys.stdout.write(go_json(document))
    elif output.startswith("jsonpath="):
        sys.stdout.write(jsonpath(document, output[len("jsonpath="):]))
    elif output == "name":
        for kind, _, obj in found:
            prefix = "deployment.apps" if kind == "deployments" else "pod"
            print(f"{prefix}/{obj['metadata']['name']}")
    elif not found:
        where = f"in {namespaces[0]} namespace" if namespaces else ""
        print(f"No resources found {where}".rstrip() + ".", file=sys.stderr)
    else:
        _table(found, output == "wide", namespaces is None, no_headers, t)


def _table(found: list[tuple[str, str, Obj]], wide: bool, with_ns: bool, no_headers: bool,
           t: float) -> None:
    kind = found[0][0]
    if kind == "deployments":
        header = ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
        rows = [[o["metadata"]["name"],
                 f"{o['status'].get('readyReplicas', 0)}/{o['spec']['replicas']}",
                 str(o["status"].get("updatedReplicas", 0)),
                 str(o["status"].get("availableReplicas", 0)), _age(o, t)]
                for _, _, o in found]
        if wide:
            header += ["CONTAINERS", "IMAGES"]
            for row, (_, _, o) in zip(rows, found, strict=True):
                container = o["spec"]["template"]["spec"]["containers"][0]
                row += [container["name"], container["image"]]
    else:
        header = ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
        rows = []
        for _, _, o in found:
            statuses = o["status"]["containerStatuses"]
            ready = sum(1 for s in statuses if s["ready"])
            phase = o["status"]["phase"]
            shown = {"Pending": "ContainerCreating", "Succeeded": "Completed"}.get(phase, phase)
            rows.append([o["metadata"]["name"], f"{ready}/{len(statuses)}", shown, "0",
                         _age(o, t)])
        if wide:
            header += ["IP", "NODE"]
            for row, (_, _, o) in zip(rows, found, strict=True):
                row += [o["status"]["podIP"], o["spec"]["nodeName"]]
    if with_ns:
        header.insert(0, "NAMESPACE")
        for row, (_, ns, _) in zip(rows, found, strict=True):
            row.insert(0, ns)
    sys.stdout.write(tabulate(rows if no_headers else [header, *rows]))


def tabulate(rows: list[list[str]]) -> str:
    """Go's tabwriter as kubectl uses it: widest cell + 3, last column unpadded."""
    widths = [max(len(r[i]) for r in rows) + 3 for i in range(len(rows[0]))]
    return "".join(
        "".join(c.ljust(w) for c, w in zip(r[:-1], widths, strict=False)) + r[-1] + "\n"
        for r in rows)


def _age(obj: Obj, t: float) -> str:
    created = calendar.timegm(time.strptime(obj["metadata"]["creationTimestamp"],
                                            "%Y-%m-%dT%H:%M:%SZ"))
    return human_duration(t - created)


def human_duration(seconds: float) -> str:
    """Kubernetes' ``duration.HumanDuration`` (the AGE column)."""
    s = int(seconds)
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes, hours, days = s // 60, s // 3600, s // 86400
    if minutes < 10:
        return f"{minutes}m" + (f"{s % 60}s" if s % 60 else "")
    if minutes < 180:
        return f"{minutes}m"
    if hours < 8:
        return f"{hours}h" + (f"{minutes % 60}m" if minutes % 60 else "")
    if hours < 48:
        return f"{hours}h"
    if hours < 192:
        return f"{days}d" + (f"{hours % 24}h" if hours % 24 else "")
    if days < 730:
        return f"{days}d"
    years = days // 365
    return f"{years}y" + (f"{days % 365}d" if days % 365 and years < 8 else "")


def jsonpath(document: Any, template: str) -> str:
    """The common subset of kubectl's JSONPath: ``{.a.b[0].c}``, ``[*]``, text between."""
    template = template.strip("'")

    def evaluate(match: re.Match[str]) -> str:
        values = [document]
        for step in re.findall(r"\.([^.\[\]]+)|\[(\*|-?\d+)\]", match.group(1)):
            key, index = step
            nxt: list[Any] = []
            for value in values:
                if key and isinstance(value, dict) and key in value:
                    nxt.append(value[key])
                elif index == "*" and isinstance(value, list):
                    nxt.extend(value)
                elif (index and index != "*" and isinstance(value, list)
                      and -len(value) <= int(index) < len(value)):
                    nxt.append(value[int(index)])
            values = nxt
        return " ".join(v if isinstance(v, str) else json.dumps(v) for v in values)

    return re.sub(r"\{([^{}]*)\}", evaluate, template)
