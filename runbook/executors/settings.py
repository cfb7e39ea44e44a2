"""The settings of the built-in connection kinds, as pydantic models.

Each model is the whole vocabulary of its kind: a key it does not declare is
refused when the playbook or inventory is loaded (with its file, line and
field). Field order is the order messages list them in. A required field
(``host`` of ssh) may still be left out of a playbook's target or a group:
an inventory or the group's members complete it.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator

from runbook.models import Duration


class Settings(BaseModel):
    """Base of a kind's settings: unknown keys are refused."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, defer_build=True)


class LocalSettings(Settings):
    """``connection: local``: commands run on this machine."""

    env: dict[str, str] | None = None


class SSHSettings(Settings):
    """``connection: ssh``: one reused paramiko connection per host."""

    host: str
    port: int | None = None
    user: str | None = None
    key_file: str | None = None
    password: str | None = None
    known_hosts: str | None = None
    accept_new_host_key: bool | None = None
    key_passphrase: str | None = None
    connect_timeout: Duration | None = None
    keepalive: Duration | None = None
    hash_known_hosts: bool | None = None
    jump: str | None = None
    env: dict[str, str] | None = None
    become: bool | None = None
    """Run every command as root through ``sudo`` (shown in the plan as ``sudo -n -- ...``)."""
    become_password: str | None = None
    """sudo's password, sent on stdin (``sudo -S``), never in an argv; use a secret param."""

    @field_validator("port", mode="before")
    @classmethod
    def _port_range(cls, value: Any) -> Any:
        if isinstance(value, bool) or (isinstance(value, int) and not 1 <= value <= 65535):
            raise ValueError(f"port must be a number from 1 to 65535 (got {value!r})")
        return value


class KubectlExecSettings(Settings):
    """``connection: kubectl-exec``: commands inside a pod, through ``kubectl exec``."""

    namespace: str | None = None
    pod: str | None = None
    selector: str | None = None
    container: str | None = None
    context: str | None = None
    via: str | None = None
    env: dict[str, str] | None = None
