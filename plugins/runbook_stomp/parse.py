"""Parsers of stompclt's and simplevisor's configuration files (shared/formats
stompclt-config and simplevisor-config).

Both are Config::General files (``runbook_stomp.confgen``). The parsers take
the file's text as a sample's stdout (what ``cat FILE`` prints); the actions
read the file through the executor. Secrets never reach a result.
"""

from __future__ import annotations

from typing import Any, TypedDict

from runbook.parsing import ParseError
from runbook.samples import OutputParser
from runbook_stomp import confgen


class StompConfig(TypedDict):
    """``stomp.config``'s result."""

    tree: dict[str, Any]
    settings: dict[str, Any]
    incoming_queue_path: str | None
    outgoing_queue_path: str | None
    incoming_broker_uri: str | None
    outgoing_broker_uri: str | None
    subscriptions: list[str]
    callback_code: str | None


class SimplevisorConfig(TypedDict):
    """``simplevisor.config``'s result."""

    store: str | None
    log: str | None
    supervisor: dict[str, str | None]
    children: list[str]
    expected: dict[str, str]


def _options(value: Any) -> dict[str, str]:
    """``path=/var/spool/x type=DQS`` (a flat value with options) as a mapping."""
    if isinstance(value, dict):
        return {k: str(confgen.first(v)) for k, v in value.items()}
    if not isinstance(value, str):
        return {}
    return dict(word.partition("=")[::2] for word in value.split() if "=" in word)


def _option(tree: dict[str, Any], block: str, key: str) -> str | None:
    found = confgen.lookup(tree, *block.split("-"), key)
    if isinstance(found, str):
        return found
    return _options(confgen.lookup(tree, *block.split("-"))).get(key)


def _subscriptions(tree: dict[str, Any]) -> list[str]:
    value = tree.get("subscribe", [])
    blocks = value if isinstance(value, list) else [value]
    found = [_options(block).get("destination") for block in blocks]
    return [d for d in found if d]


def _as_written(value: Any) -> Any:
    return value if not isinstance(value, list) else [v for v in value
                                                      if not isinstance(v, dict)]


def stompclt_config(text: str) -> StompConfig:
    """What a stompclt configuration file says, in either style (flat or blocks)."""
    tree = confgen.parse(text)
    callback = confgen.lookup(tree, "callback", "code")
    return {
        "tree": tree,
        "settings": {k: _as_written(v) for k, v in tree.items() if not isinstance(v, dict)
                     and _as_written(v) != []},
        "incoming_queue_path": _option(tree, "incoming-queue", "path"),
        "outgoing_queue_path": _option(tree, "outgoing-queue", "path"),
        "incoming_broker_uri": _option(tree, "incoming-broker", "uri"),
        "outgoing_broker_uri": _option(tree, "outgoing-broker", "uri"),
        "subscriptions": _subscriptions(tree),
        "callback_code": callback if isinstance(callback, str) else None,
    }


def _entries(block: Any) -> list[dict[str, Any]]:
    value = block.get("entry", []) if isinstance(block, dict) else []
    return [e for e in (value if isinstance(value, list) else [value]) if isinstance(e, dict)]


def simplevisor_config(text: str, includes: dict[str, str] | None = None) -> SimplevisorConfig:
    """The supervision tree of a simplevisor file; ``includes`` maps the paths its
    ``<<include>>`` lines name to their text."""
    files = includes or {}

    def include(path: str) -> str:
        if path not in files:
            raise ParseError(f"included file {path} was not read")
        return files[path]

    tree = confgen.parse(text, include)
    top = tree.get("simplevisor", {})
    top = top if isinstance(top, dict) else {}
    supervisors = [e for e in _entries(tree) if e.get("type") == "supervisor"]
    if not supervisors:
        raise ParseError("no <entry> with type = supervisor")
    sup = supervisors[0]
    children = [c for c in _entries(sup.get("children")) if c.get("name")]
    names = [f"{sup.get('name')}/{c['name']}" for c in children]
    return {
        "store": top.get("store"),
        "log": top.get("log"),
        "supervisor": {k: sup.get(k) for k in ("name", "window", "adjustments", "strategy")},
        "children": names,
        "expected": {n: str(c.get("expected", "running"))
                     for n, c in zip(names, children, strict=True)},
    }


def includes_of(text: str) -> list[str]:
    """The paths a file's ``<<include>>`` lines name (to read them before parsing)."""
    return [m["path"].strip() for line in text.splitlines()
            if (m := confgen._INCLUDE.match(line.strip()))]


def _stompclt_sample(stdout: str, stderr: str, rc: int) -> StompConfig:
    return stompclt_config(stdout)


def _simplevisor_sample(stdout: str, stderr: str, rc: int,
                        includes: dict[str, str] | None = None) -> SimplevisorConfig:
    return simplevisor_config(stdout, includes)


PARSERS = {
    "stompclt-config": OutputParser(_stompclt_sample),
    "simplevisor-config": OutputParser(_simplevisor_sample),
}
