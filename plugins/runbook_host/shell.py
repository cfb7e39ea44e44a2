"""``host.shell`` runs a command; ``host.query`` runs one that only reads.

A command is an argv list. A string is split with shlex *before* its
templates are rendered (``runbook.commandline``) and never handed to a shell,
so a param holding ``; rm -rf /`` or ``x -o -exec touch y ;`` stays one literal
argument. Only ``shell: true``, written in the playbook on purpose, runs
``/bin/sh -c``, and then every template value is shell-quoted where it is put.
"""

from __future__ import annotations

import shlex
from typing import Any

from pydantic import Field, field_validator

from runbook.actions import Action, ActionContext, Args
from runbook.executors.base import CommandResult


def _word(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return value


class ShellArgs(Args):
    command: list[str] | str = Field(
        description='argv list; a string is split with shlex ("ls -l /tmp" → [ls, -l, /tmp]) '
                    'before its templates are rendered, so a value is one argument. '
                    'Numbers and booleans in a list become "3", "true", "false"')
    shell: bool = Field(default=False, description="run through /bin/sh -c (a list is joined "
                                                   "with shlex first; template values are "
                                                   "shell-quoted)")
    cwd: str | None = Field(default=None, description="working directory")
    env: dict[str, str] = Field(default_factory=dict, description="added to the environment")
    stdin: str | None = Field(default=None,
                              description="written to the command's standard input")

    @field_validator("command", mode="before")
    @classmethod
    def _argv(cls, value: Any) -> Any:
        """Numbers and booleans in an argv list are arguments, as a shell would see them."""
        if isinstance(value, list):
            return [_word(v) for v in value]
        return value

    @field_validator("command")
    @classmethod
    def _not_empty(cls, value: list[str] | str) -> list[str] | str:
        if not value or (isinstance(value, str) and not value.strip()):
            raise ValueError("command is empty")
        return value

    def argv(self) -> list[str]:
        if self.shell:
            text = self.command if isinstance(self.command, str) else shlex.join(self.command)
            return ["/bin/sh", "-c", text]
        if isinstance(self.command, list):
            return list(self.command)
        return shlex.split(self.command)


_RESULT = {
    "rc": "exit status",
    "stdout": "standard output",
    "stderr": "standard error",
    "lines": "stdout split into lines",
}


class Shell(Action[ShellArgs]):
    """argv:

    | args | argv |
    |---|---|
    | `command: [mkdir, -p, "{{ workdir }}"]` | `mkdir -p /tmp/runbook-hello` |
    | `command: "systemctl restart app"` | `systemctl restart app` |
    | `command: "echo $HOME > /tmp/x"`, `shell: true` | `/bin/sh -c 'echo $HOME > /tmp/x'` |

    A template value never passes through a shell unless `shell: true` is
    written in the playbook: a param holding `; rm -rf /` stays one argument,
    also in a command written as one string (split before rendering). With
    `shell: true`, every `{{ value }}` is shell-quoted where it is put. A value
    from a param or a result that begins with `-` may not start an argument
    (it would be read as an option) unless it comes after `--`.

    A non-zero exit fails the step. As a background step, the result after
    `flow.stop` is the same shape, for the whole output. Plans do not show
    `env`, `cwd` or `stdin`, only the argv.
    """

    name = "host.shell"
    summary = "run a command (argv; a string is split with shlex unless shell: true)"
    Args = ShellArgs
    mutating = True
    can_background = True
    result_fields = _RESULT
    command_field = "command"
    shell_field = "shell"

    def commands(self, args: ShellArgs) -> list[list[str]]:
        return [args.argv()]

    def run(self, args: ShellArgs, ctx: ActionContext) -> Any:
        res = ctx.exec(args.argv(), stdin=args.stdin, env=args.env or None, cwd=args.cwd)
        return self.parse(res)

    def start(self, args: ShellArgs, ctx: ActionContext) -> Any:
        return ctx.start(args.argv(), stdin=args.stdin, env=args.env or None, cwd=args.cwd)

    def parse(self, result: CommandResult) -> Any:
        return result.as_dict()


class Query(Shell):
    """The same arguments and argv as `host.shell`, but read-only: usable as a
    probe, runs during a dry-run. Not background-capable.

    A non-zero exit is **not** a failure, it is part of the result: assert on
    it (`that: result.rc == 0`).

    ```yaml
      - id: has-sh
        probe: host.query
        with: {command: [sh, -c, "command -v echo"]}
        that: result.rc == 0
    ```
    """

    name = "host.query"
    summary = "run a read-only command (usable as a probe); a non-zero exit is a result"
    mutating = False
    can_background = False

    def run(self, args: ShellArgs, ctx: ActionContext) -> Any:
        res = ctx.exec(args.argv(), check=False, stdin=args.stdin, env=args.env or None,
                       cwd=args.cwd)
        return self.parse(res)
