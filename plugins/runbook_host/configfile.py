"""``host.config_get`` / ``host.config_set``: settings in ``key = value`` files.

Files go through ``Executor.read_file`` / ``write_file``, so a simulated host's
own file is the one read and changed. ``config_set`` writes a backup next to
the file before changing it (``PATH.runbook.bak``) and ``rollback: auto``
copies that backup back with ``host.file_restore``: the original content
stays on the host, never in the journal or the audit log (it may hold
secrets). A plan shows the diff ``config_set`` would make (its ``preview``,
read at plan time); ``config_get`` with ``want`` computes the same diff as a
step's result.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from runbook.actions import Action, ActionContext, Args, Invocation, NoOp
from runbook.errors import StepError
from runbook_host import keyvalue


def _settings(value: dict[str, Any]) -> dict[str, str]:
    out = {}
    for key, item in value.items():
        if isinstance(item, bool):
            item = "true" if item else "false"
        out[str(key)] = str(item)
    return out


class ConfigGetArgs(Args):
    path: str = Field(description="the file on the target")
    section: str | None = Field(default=None, description="an INI [section] or a "
                                                          "Config::General <block>")
    want: dict[str, Any] = Field(default_factory=dict, description="settings to compare "
                                 "with: the result's diff is what config_set would change")

    _norm = field_validator("want")(classmethod(lambda cls, v: _settings(v)))


class ConfigSetArgs(Args):
    path: str = Field(description="the file on the target")
    settings: dict[str, Any] = Field(min_length=1, description="key: value, set in this "
                                     "order (true/false written as such)")
    section: str | None = Field(default=None, description="an INI [section] or a "
                                                          "Config::General <block>")
    backup: str | None = Field(default=None, description="where the backup goes "
                                                         "(default PATH.runbook.bak)")

    _norm = field_validator("settings")(classmethod(lambda cls, v: _settings(v)))

    def backup_path(self) -> str:
        return self.backup or f"{self.path}.runbook.bak"


def _shown(settings: dict[str, str], keys: list[str]) -> str:
    return ", ".join(f"{k} = {keyvalue.MASK if keyvalue.is_secret(k) else settings[k]}"
                     for k in keys)


class ConfigGet(Action[ConfigGetArgs]):
    """argv: `cat -- PATH` (through the target's `read_file`). Secret values (`pass`,
    `password`, `auth`, `secret`, `token` keys) are `***`."""

    name = "host.config_get"
    summary = "the key = value settings of a file (secrets masked); with want: the diff to it"
    Args = ConfigGetArgs
    result_fields = {
        "path": "the file",
        "settings": "{key: value} of the scope (secrets ***)",
        "differs": "[keys of want whose value is not the file's]",
        "diff": "the unified diff config_set would make for want (empty when none)",
    }

    def commands(self, args: ConfigGetArgs) -> list[list[str]]:
        return [["cat", "--", args.path]]

    def run(self, args: ConfigGetArgs, ctx: ActionContext) -> Any:
        text = ctx.read_text(args.path)
        settings = keyvalue.read(text, args.section)
        if settings is None and not args.want:
            raise StepError(f"{args.path} has no section {args.section}", step=ctx.step)
        edit = keyvalue.apply(text, args.want, args.section)
        return {"path": args.path, "settings": settings or {}, "differs": edit.changed,
                "diff": keyvalue.diff(text, edit.text, args.path)}


class ConfigSet(Action[ConfigSetArgs]):
    """argv (the target's `read_file` / `write_file`): `cat -- PATH`, then
    `tee -- PATH.runbook.bak` (the backup) and `tee -- PATH` (the new content).

    Sets each key in place (indentation, spacing, quotes, comments and order
    kept) or adds it at the end of its scope. When every key already holds its
    value it is a no-op, with the reason. `rollback: auto` restores the backup
    (`host.file_restore`). A plan shows the unified diff it would make, read
    from the file at plan time (secret values `***`).
    """

    name = "host.config_set"
    summary = "set key = value lines in a file (backup first; rollback: auto restores it)"
    Args = ConfigSetArgs
    mutating = True
    idempotent = True
    result_fields = {
        "path": "the file",
        "changed": "[keys set or added]",
        "unchanged": "[keys that already held the value]",
        "backup": "the backup's path (null for a no-op)",
        "diff": "the unified diff of the change (secrets ***)",
    }

    def commands(self, args: ConfigSetArgs) -> list[list[str]]:
        return [["cat", "--", args.path], ["tee", "--", args.backup_path()],
                ["tee", "--", args.path]]

    def run(self, args: ConfigSetArgs, ctx: ActionContext) -> Any:
        text = ctx.read_text(args.path)
        edit = keyvalue.apply(text, args.settings, args.section)
        result = {"path": args.path, "changed": edit.changed, "unchanged": edit.unchanged,
                  "backup": None, "diff": ""}
        if not edit.changed:
            return NoOp(f"already set in {args.path}: {_shown(args.settings, edit.unchanged)}",
                        result)
        ctx.executor.write_file(args.backup_path(), text.encode())
        ctx.executor.write_file(args.path, edit.text.encode())
        return {**result, "backup": args.backup_path(),
                "diff": keyvalue.diff(text, edit.text, args.path)}

    def preview(self, args: ConfigSetArgs, ctx: ActionContext) -> str | None:
        """The unified diff the step would make (secrets ***), read from the file now."""
        text = ctx.read_text(args.path)
        edit = keyvalue.apply(text, args.settings, args.section)
        if not edit.changed:
            return f"no change: already set in {args.path}: " \
                f"{_shown(args.settings, edit.unchanged)}"
        return keyvalue.diff(text, edit.text, args.path)

    def capture(self, args: ConfigSetArgs, ctx: ActionContext) -> Any:
        return {"backup": args.backup_path()}

    def inverse(self, args: ConfigSetArgs, captured: Any) -> Invocation | None:
        if not captured:
            return None
        return Invocation("host.file_restore", {"path": args.path,
                                                "backup": captured["backup"]})


class RestoreArgs(Args):
    path: str = Field(description="the file to put back")
    backup: str = Field(description="the copy to put back (host.config_set's backup)")


class FileRestore(Action[RestoreArgs]):
    """argv (the target's `read_file` / `write_file`): `cat -- BACKUP`, then
    `tee -- PATH`. What `host.config_set`'s `rollback: auto` runs."""

    name = "host.file_restore"
    summary = "put a file back from its backup (host.config_set's rollback)"
    Args = RestoreArgs
    mutating = True
    idempotent = True
    result_fields = {"path": "the file restored", "backup": "where it came from"}

    def commands(self, args: RestoreArgs) -> list[list[str]]:
        return [["cat", "--", args.backup], ["tee", "--", args.path]]

    def run(self, args: RestoreArgs, ctx: ActionContext) -> Any:
        ctx.executor.write_file(args.path, ctx.executor.read_file(args.backup))
        return {"path": args.path, "backup": args.backup}
