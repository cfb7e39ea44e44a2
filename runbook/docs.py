"""Human-readable descriptions generated from the declarations themselves."""

from __future__ import annotations

import re
from typing import Any

from runbook.models import Check, Playbook
from runbook.plugins import Registry


def _with(args: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in args.items())


def _check_line(check: Check) -> str:
    text = f"{check.probe}({_with(check.with_)}) -> {' and '.join(check.that)}"
    return f"{check.id}: {text}" if check.id else text


def describe_playbook(pb: Playbook) -> str:
    """The procedure in words: what a reviewer reads before approving a run."""
    out = [f"# {pb.title or pb.name}", ""]
    if pb.summary:
        out += [pb.summary.strip(), ""]
    if pb.source:
        out += [f"Source: {pb.source}", ""]
    if pb.params:
        out.append("Params:")
        for name, p in pb.params.items():
            default = "required" if p.required else f"default {p.default!r}"
            secret = ", secret" if p.secret else ""
            out.append(f"  {name} ({p.type}, {default}{secret}) {p.description}".rstrip())
        out.append("")
    if pb.preconditions:
        out.append("Applies when:")
        out += [f"  - {_check_line(c)}" for c in pb.preconditions]
        out.append("")
    out.append("Steps:")
    for n, s in enumerate(pb.steps, 1):
        flags = [f for f, on in (("background", s.background), (f"when {s.when}", s.when),
                                 (f"restores {s.restores}", s.restores)) if on]
        out.append(f"  {n}. {s.id}: {s.title or s.action}"
                   + (f" [{'; '.join(str(f) for f in flags)}]" if flags else ""))
        out.append(f"     {s.action}({_with(s.with_)}) on {s.target or pb.default_target()}")
        if s.confirm:
            out.append(f"     asks: {s.confirm}")
        if s.rollback not in (None, "none"):
            rb = s.rollback if isinstance(s.rollback, str) else \
                f"{s.rollback.action}({_with(s.rollback.with_)})"
            out.append(f"     rollback: {rb}")
        for c in s.checks:
            out.append(f"     then check: {_check_line(c)}")
    if pb.verify:
        out += ["", "Verify:"] + [f"  - {_check_line(c)}" for c in pb.verify]
    return "\n".join(out)


def describe_plugins(registry: Registry) -> str:
    """Every action with its arguments and whether it mutates."""
    out = []
    for plugin_name, plugin in sorted(registry.pm.list_name_plugin(), key=lambda x: x[0]):
        module = getattr(plugin, "__name__", type(plugin).__name__)
        out.append(f"plugin {plugin_name} ({module})")
    out.append("")
    for name in sorted(registry.actions):
        cls = registry.actions[name]
        kind = "mutating" if cls.mutating else "read-only"
        extras = [x for x, on in (("background", cls.can_background),
                                  ("auto-rollback", cls.has_inverse()),
                                  ("idempotent", cls.idempotent)) if on]
        out.append(f"{name}  [{kind}{', ' + ', '.join(extras) if extras else ''}]  "
                   f"{cls.summary}")
        for fname, f in cls.Args.model_fields.items():
            default = f.get_default(call_default_factory=True)
            req = "required" if f.is_required() else f"default {default!r}"
            ann = _type_name(f.annotation)
            desc = f" — {f.description}" if f.description else ""
            out.append(f"    {f.alias or fname}: {ann} ({req}){desc}")
    out.append("")
    out.append("connections: " + ", ".join(sorted(registry.executors)))
    return "\n".join(out)


def _type_name(annotation: Any) -> str:
    """``int | None``, ``Literal['a', 'b']``: how a person would write the type."""
    if isinstance(annotation, type) and not getattr(annotation, "__args__", None):
        return annotation.__name__
    text = str(annotation).replace("typing.", "")
    return re.sub(r"Optional\[(.*)\]$", r"\1 | None", text)
