"""Where notifications go, per user and per playbook.

Read at the start of every run, from ``$RUNBOOK_HOME/notify.yaml`` (or the file
``$RUNBOOK_NOTIFY_CONFIG`` names), then the playbook's own section of it
(``playbooks: {NAME: {...}}``), then the environment (``RUNBOOK_NOTIFY_WEBHOOK``,
``RUNBOOK_NOTIFY_SYSLOG``, ``RUNBOOK_NOTIFY_GATE_WAIT``), each over the one before.
A config that cannot be read notifies nothing and says why once: it never
stops a run.
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


class Settings(BaseModel):
    """What one run notifies, and where."""

    model_config = ConfigDict(extra="forbid")

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
    def active(self) -> bool:
        return self.enabled and bool(self.webhook or self.syslog)


def config_path() -> Path:
    from runbook.paths import runbook_home

    named = os.environ.get("RUNBOOK_NOTIFY_CONFIG")
    return Path(named) if named else runbook_home() / "notify.yaml"


def settings_for(playbook: str) -> Settings | None:
    """The settings of a run of playbook; None when nothing is configured or readable."""
    path = config_path()
    raw: dict[str, Any] = {}
    try:
        if path.is_file():
            import yaml

            loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            if not isinstance(loaded, dict):
                raise ValueError("expected a mapping")
            raw = dict(loaded)
        sections = raw.pop("playbooks", None) or {}
        merged = {**raw, **(sections.get(playbook) or {})}
        merged.update({key: os.environ[var] for var, key in ENV.items() if os.environ.get(var)})
        settings = Settings.model_validate(merged)
    except (OSError, ValueError, AttributeError, ValidationError) as exc:
        log.warning("runbook notifications are off: %s: %s", path, exc)
        return None
    return settings if settings.active else None
