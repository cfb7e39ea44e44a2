"""``connection: lamp-console``: commands run on this machine, at the tower named by ``tower``.

The kind's own setting, ``tower``, reaches the commands as ``LAMP_TOWER`` in
their environment; ``lamp://TOWER`` is its URI scheme for ``--target``. It is
``local`` (nothing to connect), so under ``--sandbox`` its commands find the
stand-ins on PATH like a local target's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict

from runbook.executors import ConnectionKind, TargetURI
from runbook.executors.local import LocalExecutor


class ConsoleSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tower: str
    env: dict[str, str] | None = None


class LampConsole(LocalExecutor):
    """A local executor whose commands see ``LAMP_TOWER``: the kind's own setting at work."""

    kind = "lamp-console"

    def __init__(self, name: str, settings: Mapping[str, Any] | None = None) -> None:
        settings = dict(settings or {})
        settings["env"] = {**(settings.get("env") or {}), "LAMP_TOWER": str(settings["tower"])}
        super().__init__(name, settings)


def lamp_uri(uri: TargetURI) -> dict[str, Any]:
    if not uri.netloc:
        raise ValueError(f"{uri.text!r} names no tower; expected lamp://TOWER")
    return {"tower": uri.netloc}


LAMP_CONSOLE = ConnectionKind(
    name="lamp-console", factory=LampConsole, settings=ConsoleSettings, local=True,
    scheme="lamp", from_uri=lamp_uri, uri_form="lamp://TOWER")
