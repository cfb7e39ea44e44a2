"""A third-party connection kind for the tests: ``docker``, with settings of its own.

It stands in for a container runtime without needing one, honestly: every
command really runs, on this machine, as ``env RUNBOOK_IMAGE=IMAGE argv...``
in the target's ``workdir``, so a test can see from the command's own output
which image and directory it ran with. What matters is what a plugin author
writes: a settings model (``image`` required, ``workdir``, ``env``), a URI
scheme (``docker://IMAGE[?workdir=PATH]``) and a factory, contributed through
``runbook_executors`` exactly as the built-in kinds are. Nothing under
``runbook/`` knows this kind.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import unquote

from pydantic import BaseModel, ConfigDict

from runbook import hookimpl
from runbook.errors import PlaybookError
from runbook.executors import CommandResult, ConnectionKind, Process, TargetURI
from runbook.executors.base import LineCallback
from runbook.executors.local import LocalExecutor


class DockerSettings(BaseModel):
    """What a ``connection: docker`` target takes."""

    model_config = ConfigDict(extra="forbid")

    image: str
    workdir: str | None = None
    env: dict[str, str] | None = None


class DockerExecutor(LocalExecutor):
    """Runs each command as ``env RUNBOOK_IMAGE=IMAGE argv...`` in ``workdir``."""

    kind = "docker"

    def __init__(self, name: str, settings: Mapping[str, Any] | None = None) -> None:
        super().__init__(name, settings)
        if not self.settings.get("image"):
            raise PlaybookError(f"docker target {name!r} needs an image",
                                field=f"targets.{name}.image")
        self.image = str(self.settings["image"])
        self.workdir: str | None = self.settings.get("workdir")

    def wire_argv(self, argv: Sequence[str]) -> list[str]:
        return ["env", f"RUNBOOK_IMAGE={self.image}", *argv]

    def describe(self, argv: Sequence[str]) -> str:
        return shlex.join(self.wire_argv(argv))

    def start(self, argv: Sequence[str], *, env: Mapping[str, str] | None = None,
              cwd: str | None = None, stdin: str | None = None,
              on_line: LineCallback | None = None) -> Process:
        return super().start(self.wire_argv(argv), env=env, cwd=cwd or self.workdir,
                             stdin=stdin, on_line=on_line)

    def run(self, argv: Sequence[str], *, timeout: float | None = None,
            env: Mapping[str, str] | None = None, cwd: str | None = None,
            stdin: str | None = None) -> CommandResult:
        return super().run(self.wire_argv(argv), timeout=timeout, env=env,
                           cwd=cwd or self.workdir, stdin=stdin)


def docker_uri(uri: TargetURI) -> dict[str, Any]:
    """``docker://IMAGE[?workdir=PATH]``; the image may contain ``/`` and ``:``."""
    image = unquote(uri.netloc + uri.path)
    if not image.strip("/"):
        raise ValueError(f"{uri.text!r} names no image; expected docker://IMAGE")
    return {"image": image, **uri.options}


DOCKER = ConnectionKind(
    name="docker", factory=DockerExecutor, settings=DockerSettings,
    scheme="docker", from_uri=docker_uri, uri_options=("workdir",),
    uri_form="docker://IMAGE[?workdir=...]")


@hookimpl
def runbook_executors() -> Mapping[str, ConnectionKind]:
    return {"docker": DOCKER}
