"""Where notifications go, per user and per playbook.

Read at the start of every run, from ``$RUNBOOK_HOME/notify.yaml`` (or the file
``$RUNBOOK_NOTIFY_CONFIG`` names), then the playbook's own ``notify:`` key (what
to send, the gate_wait threshold and the *names* of channels: a playbook never
holds a webhook URL, which is a secret), then the user's section for that
playbook (``playbooks: {NAME: {...}}``), then the environment
(``RUNBOOK_NOTIFY_WEBHOOK``, ``RUNBOOK_NOTIFY_SYSLOG``,
``RUNBOOK_NOTIFY_GATE_WAIT``), each over the one before. Channels are defined
per user (``channels: {NAME: {webhook: ..., syslog: ...}}``); a playbook that
names some sends to those the user defines, else to the user's default
destination. A config that cannot be read notifies nothing and says why once:
it never stops a run.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from runbook.durations import parse_duration

log = logging.getLogger("runbook.notify")

Duration = Annotated[float, BeforeValidator(parse_duration)]
Kind = Literal["start", "gate", "failure", "finish"]
KINDS: tuple[Kind, ...] = ("start", "gate", "failure", "finish")
ENV = {"RUNBOOK_NOTIFY_WEBHOOK": "webhook", "RUNBOOK_NOTIFY_SYSLOG": "syslog",
       "RUNBOOK_NOTIFY_GATE_WAIT": "gate_wait"}


class Channel(BaseModel):
    """One destination a user defines under ``channels:`` (and the default one)."""

    model_config = ConfigDict(extra="forbid")

    webhook: str | None = None
    syslog: str | None = None


class Settings(BaseModel):
    """What one run notifies, and where."""

    model_config = ConfigDict(extra="forbid")

    channels: dict[str, Channel] = Field(default_factory=dict)
    """The user's named channels (the playbook's ``notify.channels`` name them)."""
    use: list[str] | None = None
    """The channels this run posts to, by name (None: the default destination)."""
    enabled: bool = True
    webhook: str | None = None
    """A Slack-compatible incoming webhook (JSON ``{"text": ...}`` is POSTed)."""
    syslog: str | None = None
    """A syslog unix datagram socket, e.g. ``/dev/log``."""
    gate_wait: Duration = 300.0
    """Say so when a gate has waited longer than this for an answer."""
    events: list[Kind] = Field(default_factory=lambda: list(KINDS))
    dry_run: bool = False
    """Notify about plans (dry-runs) too."""
    timeout: Duration = 3.0
    """Per delivery attempt."""
    flush: Duration = 2.0
    """At the end of a run, wait at most this long for what is still being sent."""

    @property
    def destinations(self) -> list[Channel]:
        """The named channels the user defines, else the default webhook/syslog."""
        named = [self.channels[n] for n in self.use or [] if n in self.channels]
        if named:
            return named
        return [Channel(webhook=self.webhook, syslog=self.syslog)] \
            if self.webhook or self.syslog else []

    @property
    def active(self) -> bool:
        return self.enabled and bool(self.destinations)


def config_path() -> Path:
    from runbook.paths import runbook_home

    named = os.environ.get("RUNBOOK_NOTIFY_CONFIG")
    return Path(named) if named else runbook_home() / "notify.yaml"


def settings_for(playbook: str, declared: dict[str, Any] | None = None) -> Settings | None:
    """The settings of a run of playbook (``declared``: its ``notify:`` key); None when
    nothing is configured or readable."""
    path = config_path()
    try:
        raw = _read(path)
        sections = raw.pop("playbooks", None) or {}
        defined = raw.pop("channels", None) or {}
        merged = {**raw, **(declared or {}), **(sections.get(playbook) or {})}
        merged.update({key: os.environ[var] for var, key in ENV.items() if os.environ.get(var)})
        names = merged.pop("channels", None)  # the playbook's (or section's) names
        settings = Settings.model_validate({**merged, "channels": defined, "use": names})
    except (OSError, ValueError, AttributeError, ValidationError) as exc:
        log.warning("runbook notifications are off: %s: %s", path, exc)
        return None
    _undefined(settings, playbook, path)
    return settings if settings.active else None


def _read(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    import yaml

    loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(loaded, dict):
        raise ValueError("expected a mapping")
    return dict(loaded)


def _undefined(settings: Settings, playbook: str, path: Path) -> None:
    """Say once which channels the playbook names that this user does not define."""
    named = settings.use or []
    missing = [n for n in named if n not in settings.channels]
    if missing:
        log.warning("runbook notifications: playbook %s names channel(s) %s, which %s does "
                    "not define (channels: {NAME: {webhook: ...}})%s", playbook,
                    ", ".join(missing), path, "" if len(missing) < len(named)
                    else "; sending to the default destination")
