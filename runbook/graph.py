"""The flow of a playbook as a picture: checks, steps, gates and rollbacks.

Mermaid (renders in GitHub and most wikis) and Graphviz DOT; SVG goes through
the ``dot`` program when it is installed.
"""

from __future__ import annotations

import shutil
import subprocess

from runbook.errors import RunbookError
from runbook.models import Check, Playbook, Step
from runbook.plugins import Registry, default_registry


def _label(text: str) -> str:
    return text.replace('"', "'")


def mermaid(pb: Playbook, registry: Registry | None = None) -> str:
    chart = _Mermaid(pb, registry or default_registry())
    chart.preconditions()
    for step in pb.steps:
        chart.step(step)
    chart.verify()
    return "\n".join(chart.out) + "\n"


class _Mermaid:
    """The lines of a Mermaid flowchart, drawn node after node from ``prev``."""

    def __init__(self, pb: Playbook, registry: Registry) -> None:
        self.pb, self.registry = pb, registry
        self.out = ["flowchart TD", f'  start(["{_label(pb.title or pb.name)}"])']
        self.prev = "start"
        self.first = True  # the first node after the preconditions: reached on "yes"

    def preconditions(self) -> None:
        for i, check in enumerate(self.pb.preconditions):
            node = f"pre{i}"
            self.out.append(f'  {node}{{"{_label(check.id or check.probe)}?<br/>'
                            f'{_label(" and ".join(check.that))}"}}')
            self.out.append(f"  {self.prev} -- yes --> {node}" if i
                            else f"  {self.prev} --> {node}")
            self.out.append(f'  {node} -- no --> stop{i}(["exit 6: does not apply"])')
            self.prev = node

    def _after_preconditions(self) -> bool:
        return self.first and bool(self.pb.preconditions)

    def step(self, step: Step) -> None:
        if step.confirm:
            gate = f"gate_{_id(step.id)}"
            self.out.append(f'  {gate}{{{{"confirm: {_label(step.confirm)}"}}}}')
            self.out.append(f"  {self.prev} -- yes --> {gate}" if self._after_preconditions()
                            else f"  {self.prev} --> {gate}")
            self.prev, self.first = gate, False
        node = _id(step.id)
        cls = self.registry.actions.get(step.action)
        shape = ("[/", "/]") if step.background else ("[", "]")
        text = f"{step.id}<br/>{step.action}" + (" (mutates)" if cls and cls.mutating else "")
        self.out.append(f'  {node}{shape[0]}"{_label(text)}"{shape[1]}')
        arrow = f" -- when {_label(step.when)} -->" if step.when else " -->"
        self.out.append(f"  {self.prev} -- yes --> {node}" if self._after_preconditions()
                        else f"  {self.prev}{arrow} {node}")
        self.undo(step, node)
        self.prev, self.first = node, False

    def undo(self, step: Step, node: str) -> None:
        if step.rollback not in (None, "none"):
            rb = "auto" if step.rollback == "auto" else getattr(step.rollback, "action", "")
            self.out.append(f'  {node} -. rollback .-> rb_{node}(["undo: {_label(str(rb))}"])')
        if step.restores:
            self.out.append(f"  {node} -. restores .-> {_id(step.restores)}")

    def verify(self) -> None:
        for i, check in enumerate(self.pb.verify):
            node = f"verify{i}"
            self.out.append(f'  {node}{{"verify: {_label(" and ".join(check.that))}"}}')
            self.out.append(f"  {self.prev} --> {node}")
            self.prev = node
        self.out.append(f'  {self.prev} --> done(["done"])')


def dot(pb: Playbook, registry: Registry | None = None) -> str:
    reg = registry or default_registry()
    out = [f'digraph "{_label(pb.name)}" {{', "  rankdir=TB; node [fontname=Helvetica];"]
    prev: str | None = None

    def diamonds(prefix: str, checks: list[Check]) -> None:
        nonlocal prev
        for i, check in enumerate(checks):
            node = f"{prefix}{i}"
            out.append(f'  {node} [shape=diamond, label="{_label(" and ".join(check.that))}"];')
            if prev:
                out.append(f"  {prev} -> {node};")
            prev = node

    diamonds("pre", pb.preconditions)
    for step in pb.steps:
        cls = reg.actions.get(step.action)
        node = _id(step.id)
        color = "orange" if cls and cls.mutating else "black"
        style = "dashed" if step.background else "solid"
        out.append(f'  {node} [shape=box, color={color}, style={style}, '
                   f'label="{_label(step.id)}\\n{_label(step.action)}"];')
        if prev:
            label = f' [label="when {_label(step.when)}"]' if step.when else ""
            out.append(f"  {prev} -> {node}{label};")
        if step.confirm:
            out.append(f'  {node}_gate [shape=hexagon, label="confirm"]; {node}_gate -> {node};')
        if step.rollback not in (None, "none"):
            out.append(f'  {node} -> {node}_undo [style=dotted, label="rollback"]; '
                       f'{node}_undo [shape=oval, label="undo"];')
        prev = node
    diamonds("verify", pb.verify)
    out.append("}")
    return "\n".join(out) + "\n"


def svg(pb: Playbook, registry: Registry | None = None) -> str:
    exe = shutil.which("dot")
    if exe is None:
        raise RunbookError("SVG needs Graphviz's dot program (apt-get install graphviz); "
                           "use --format mermaid or dot")
    proc = subprocess.run([exe, "-Tsvg"], input=dot(pb, registry), capture_output=True,
                          text=True, check=False, timeout=60)
    if proc.returncode != 0:
        raise RunbookError(f"dot failed: {proc.stderr.strip()}")
    return proc.stdout


def _id(step_id: str) -> str:
    return "s_" + step_id.replace("-", "_")
