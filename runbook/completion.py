"""Shell completion (bash, zsh, fish through click's ``_RUNBOOK_COMPLETE``): what to offer
for a playbook's params, its steps and tags, target and host names, scenarios and run ids.

Completion runs on every Tab, so it reads the playbook and inventory as plain YAML
(no validation, no plugins) and never fails: a file that does not read offers
nothing. docs/cli.md shows how to enable it.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import click
from click.shell_completion import CompletionItem

__all__ = ["params", "run_ids", "scenarios", "start_at", "tag_names", "targets"]


def _given(ctx: click.Context, name: str, flag: str | None = None) -> str | None:
    """A value given before the word being completed. click leaves ``ctx.params`` empty
    when that word is an option's value, and the words in ``ctx.args`` instead."""
    if ctx.params.get(name):
        return str(ctx.params[name])
    words = list(ctx.args)
    for i, word in enumerate(words):
        after_option = i > 0 and words[i - 1].startswith("-")
        if flag is not None and words[i - 1:i] == [flag]:
            return word
        if flag is None and not word.startswith("-") and not after_option:
            return word
    return None


def _playbook(ctx: click.Context) -> dict[str, Any]:
    path = _given(ctx, "playbook")
    if not path:
        return {}
    import yaml

    with contextlib.suppress(OSError, yaml.YAMLError, UnicodeError):
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    return {}


def _section(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    return value if isinstance(value, dict) else {}


def _steps(data: dict[str, Any]) -> list[dict[str, Any]]:
    steps = data.get("steps")
    return [s for s in steps if isinstance(s, dict)] if isinstance(steps, list) else []


def params(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """``-p NAME=``: the playbook's params (with their description); after ``=`` the
    param's choices, or true/false for a bool."""
    declared = _section(_playbook(ctx), "params")
    name, sep, value = incomplete.partition("=")
    if not sep:
        return [CompletionItem(f"{n}=", help=_param_help(spec))
                for n, spec in declared.items() if str(n).startswith(name)]
    spec = declared.get(name)
    if not isinstance(spec, dict):
        return []
    choices = spec.get("choices") or (["true", "false"] if spec.get("type") == "bool" else [])
    return [CompletionItem(f"{name}={c}") for c in choices if str(c).startswith(value)]


def _param_help(spec: Any) -> str:
    if not isinstance(spec, dict):
        return ""
    default = spec.get("default")
    return " ".join(filter(None, [str(spec.get("type", "string")),
                                  "required" if default is None else f"default {default}",
                                  str(spec.get("description") or "")]))


def _inventory_names(ctx: click.Context) -> list[str]:
    path = _given(ctx, "inventory", "--inventory")
    if not path:
        return []
    with contextlib.suppress(Exception):  # completion never fails, whatever the file holds
        from runbook.inventory import load_inventory

        return list(load_inventory(path))
    return []


def targets(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """Target, group and host names: the playbook's targets and the inventory's (for
    ``--target NAME=`` the name, for ``--limit`` every name, ``!``/``&`` kept)."""
    names = [*_section(_playbook(ctx), "targets"), *_inventory_names(ctx)]
    head, sep, last = incomplete.rpartition(",")
    prefix = head + sep
    mark = last[:1] if last[:1] in "!&" else ""
    word = last[len(mark):]
    suffix = "=" if param.name == "target_uris" else ""
    return [CompletionItem(f"{prefix}{mark}{n}{suffix}")
            for n in dict.fromkeys(map(str, names)) if n.startswith(word)]


def start_at(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """``--start-at``: the playbook's step ids, with their titles."""
    return [CompletionItem(str(s["id"]), help=str(s.get("title") or s.get("action") or ""))
            for s in _steps(_playbook(ctx)) if str(s.get("id", "")).startswith(incomplete)]


def tag_names(ctx: click.Context, param: click.Parameter,
              incomplete: str) -> list[CompletionItem]:
    """``--tags``/``--skip-tags``: the tags the playbook's steps carry."""
    from runbook.models import split_tags

    found: list[str] = []
    for step in _steps(_playbook(ctx)):
        tags = split_tags(step.get("tags"))
        found += [str(t) for t in (tags if isinstance(tags, list) else [])]
    head, sep, last = incomplete.rpartition(",")
    return [CompletionItem(head + sep + t) for t in dict.fromkeys(found) if t.startswith(last)]


def scenarios(ctx: click.Context, param: click.Parameter,
              incomplete: str) -> list[CompletionItem]:
    """``--sandbox``: the simulated estate's scenarios (a folder completes as a path)."""
    with contextlib.suppress(Exception):
        from runbook import sim

        return [CompletionItem(name, help=about) for name, about in sim.list_scenarios()
                if name.startswith(incomplete)] + [CompletionItem(incomplete, type="dir")]
    return [CompletionItem(incomplete, type="dir")]


def run_ids(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """A run id from the journal, newest first, with its playbook and status."""
    with contextlib.suppress(Exception):
        from runbook.history import list_runs

        return [CompletionItem(r["run_id"], help=f"{r['playbook']} {r['status']}")
                for r in list_runs(limit=50) if str(r["run_id"]).startswith(incomplete)]
    return []
