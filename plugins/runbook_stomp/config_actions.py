"""Read stompclt's and simplevisor's configuration files and lint stompclt's.

The files are read with ``Executor.read_file`` (``cat -- PATH``), so a
simulated host's own file is the one read; simplevisor's ``<<include>>``
files are read the same way, relative to the including file. Secrets
(``pass`` keys, ``auth`` values) are masked by the reader, before anything
can log or return them.
"""

from __future__ import annotations

import posixpath
from typing import Any

from pydantic import Field

from runbook.actions import Action, ActionContext, Args
from runbook.errors import CheckFailed
from runbook.parsing import ParseError
from runbook_stomp.parse import includes_of, simplevisor_config, stompclt_config


class PathArgs(Args):
    path: str = Field(description="the configuration file on the target")


def _fail(ctx: ActionContext, path: str, exc: ParseError) -> CheckFailed:
    return CheckFailed(f"cannot read {path}: {exc.reason}", step=ctx.step)


_STOMP_RESULT = {
    "tree": "the nested blocks (a repeated block is a list; secrets are ***)",
    "settings": "top-level key: value as written",
    "incoming_queue_path": "where messages come from (a Directory::Queue), or null",
    "outgoing_queue_path": "where received messages go, or null",
    "incoming_broker_uri": "the broker read from, or null",
    "outgoing_broker_uri": "the broker sent to, or null",
    "subscriptions": "[destinations in order]",
    "callback_code": "the callback code verbatim, or null",
}


class StompConfigAction(Action[PathArgs]):
    """argv: `cat -- PATH` (through the target's `read_file`).

    Both styles of the file are understood: flat (`outgoing-broker-uri = X`)
    and blocks (`<outgoing-broker>` / `uri = X`). Passwords and `auth` strings
    are `***` in the result and never printed.
    """

    name = "stomp.config"
    summary = "stompclt's configuration file: queues, brokers, subscriptions, settings"
    Args = PathArgs
    result_fields = _STOMP_RESULT

    def commands(self, args: PathArgs) -> list[list[str]]:
        return [["cat", "--", args.path]]

    def run(self, args: PathArgs, ctx: ActionContext) -> Any:
        try:
            return stompclt_config(ctx.read_text(args.path))
        except ParseError as exc:
            raise _fail(ctx, args.path, exc) from exc


class SimplevisorConfigAction(Action[PathArgs]):
    """argv: `cat -- PATH`, then `cat -- FILE` for each `<<include FILE>>` (relative
    to the including file's folder).

    `window` and `adjustments` are the supervisor's restart-intensity limits,
    not stompclt's `window`. A child without `expected` is expected `running`.
    """

    name = "simplevisor.config"
    summary = "simplevisor's supervision tree: the children and their expected state"
    Args = PathArgs
    result_fields = {
        "store": "the status file",
        "log": "stdout, syslog or file",
        "supervisor": "{name, window, adjustments, strategy}",
        "children": '["supervisor/child"]',
        "expected": "{child: state}",
    }

    def commands(self, args: PathArgs) -> list[list[str]]:
        return [["cat", "--", args.path]]

    def run(self, args: PathArgs, ctx: ActionContext) -> Any:
        return read_simplevisor(ctx, args.path)


def read_simplevisor(ctx: ActionContext, path: str) -> dict[str, Any]:
    """A simplevisor file and the files it includes, parsed."""
    text = ctx.read_text(path)
    files: dict[str, str] = {}
    pending = [(posixpath.dirname(path), text)]
    while pending:
        folder, body = pending.pop()
        for name in includes_of(body):
            if name not in files and len(files) < 32:
                full = name if name.startswith("/") else posixpath.join(folder, name)
                files[name] = ctx.read_text(full)
                pending.append((posixpath.dirname(full), files[name]))
    try:
        return dict(simplevisor_config(text, files))
    except ParseError as exc:
        raise _fail(ctx, path, exc) from exc


_RULES = (
    ("reliable", "true", "without reliable a message leaves the on-disk queue as soon as it "
                         "is read, into an unbounded in-memory buffer lost at shutdown"),
    ("window", None, "window (at most N messages waiting for acknowledgement) bounds memory; "
                     "it is enforced only with reliable = true"),
    ("heart-beat", "true", "without heart-beat a silent broker never ends the connection, "
                           "so a stalled socket goes unnoticed"),
)


def lint(settings: dict[str, Any]) -> list[dict[str, Any]]:
    """The problems of a stompclt configuration's top-level settings, each with why."""
    problems = []
    for key, wanted, why in _RULES:
        value = settings.get(key)
        if wanted is None:
            ok = isinstance(value, str) and value.isdigit() and int(value) > 0
        else:
            ok = value == wanted
        if not ok:
            want = "a positive integer" if wanted is None else wanted
            problems.append({"key": key, "value": value, "wanted": want, "why": why})
    return problems


class StompLint(Action[PathArgs]):
    """argv: `cat -- PATH`. Fails unless `reliable = true`, `window` is set (a positive
    integer) and `heart-beat = true`, naming each missing setting and why it matters;
    each problem is also a finding.
    """

    name = "stomp.lint"
    summary = "fail unless stompclt's file sets reliable = true, window and heart-beat = true"
    Args = PathArgs
    result_fields = {"ok": "true when nothing is missing",
                     "problems": "[{key, value, wanted, why}]"}

    def commands(self, args: PathArgs) -> list[list[str]]:
        return [["cat", "--", args.path]]

    def run(self, args: PathArgs, ctx: ActionContext) -> Any:
        try:
            settings = stompclt_config(ctx.read_text(args.path))["settings"]
        except ParseError as exc:
            raise _fail(ctx, args.path, exc) from exc
        problems = lint(settings)
        for p in problems:
            ctx.finding("warning", f"{args.path}: {p['key']} should be {p['wanted']}",
                        evidence={"value": p["value"]}, next_step=p["why"])
        if problems:
            raise CheckFailed(
                f"{args.path}: " + "; ".join(f"{p['key']} is {p['value'] or 'not set'}, "
                                             f"wanted {p['wanted']}: {p['why']}"
                                             for p in problems),
                step=ctx.step, expected="reliable = true, window = N, heart-beat = true",
                observed={p["key"]: p["value"] for p in problems})
        return {"ok": True, "problems": []}
