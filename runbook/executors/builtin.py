"""The built-in connection kinds, declared and registered like any plugin's.

SSH and kubectl-exec are imported only when a target of that kind is built,
so ``runbook --help`` and local-only runs never import paramiko.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

from runbook._plugin_markers import hookimpl
from runbook.executors.base import Executor
from runbook.executors.kinds import ConnectionKind, TargetURI
from runbook.executors.local import LocalExecutor
from runbook.executors.settings import KubectlExecSettings, LocalSettings, SSHSettings
from runbook.executors.uri import host_port


def _ssh(name: str, settings: dict[str, Any]) -> Executor:
    from runbook.executors.ssh import SSHExecutor

    return SSHExecutor(name, settings)


def _kubectl_exec(name: str, settings: dict[str, Any]) -> Executor:
    from runbook.executors.kubectl_exec import KubectlExecExecutor

    return KubectlExecExecutor(name, settings)


def _local_uri(uri: TargetURI) -> dict[str, Any]:
    if uri.netloc or uri.path or uri.options:
        raise ValueError(f"a local target is written local (got {uri.text!r})")
    return {}


_SSH_FORM = "ssh://[USER@]HOST[:PORT]"


def _ssh_uri(uri: TargetURI) -> dict[str, Any]:
    if uri.path not in ("", "/"):
        raise ValueError(f"an ssh URI has no path (got {uri.path!r} in {uri.text!r}); "
                         f"expected {_SSH_FORM}")
    userinfo, at, hostport = uri.netloc.rpartition("@")
    if at and ":" in userinfo:
        raise ValueError("a password in a URI is visible to every user of the machine; "
                         "use a key (?key_file=PATH) or an inventory file")
    if at and not userinfo:
        raise ValueError(f"empty user name before @ in {uri.text!r}")
    host, port = host_port(uri.text, hostport, _SSH_FORM)
    settings: dict[str, Any] = {"host": host, **uri.options}
    if port is not None:
        settings["port"] = port
    if userinfo:
        settings["user"] = unquote(userinfo)
    return settings


def _kubectl_uri(uri: TargetURI) -> dict[str, Any]:
    pod = uri.path.strip("/")
    if not uri.netloc or "/" in pod:
        raise ValueError(f"expected kubectl-exec://NAMESPACE/POD[?container=...] "
                         f"(or ?selector=... instead of /POD); got {uri.text!r}")
    settings: dict[str, Any] = {"namespace": unquote(uri.netloc), **uri.options}
    if pod:
        settings["pod"] = unquote(pod)
    if not pod and not uri.options.get("selector"):
        raise ValueError(f"{uri.text!r} names no pod: add /POD or ?selector=LABEL=VALUE")
    return settings


def _ssh_early(settings: Mapping[str, Any]) -> bool:
    # accept_new_host_key writes known_hosts: left to the run itself.
    return bool(settings.get("host")) and not settings.get("accept_new_host_key")


LOCAL = ConnectionKind(
    name="local", factory=LocalExecutor, settings=LocalSettings, local=True,
    scheme="local", from_uri=_local_uri, uri_form="local")

SSH = ConnectionKind(
    name="ssh", factory=_ssh, settings=SSHSettings, references=("jump",),
    scheme="ssh", from_uri=_ssh_uri, connect_early=_ssh_early,
    uri_options=("key_file", "known_hosts", "accept_new_host_key", "connect_timeout",
                 "keepalive", "hash_known_hosts", "jump"),
    uri_form=f"{_SSH_FORM}[?key_file=...&known_hosts=...]")

KUBECTL_EXEC = ConnectionKind(
    name="kubectl-exec", factory=_kubectl_exec, settings=KubectlExecSettings,
    defaults={"via": "local"}, references=("via",),
    scheme="kubectl-exec", from_uri=_kubectl_uri,
    uri_options=("container", "context", "selector", "via"),
    uri_form="kubectl-exec://NAMESPACE/POD[?container=...&context=...]")


@hookimpl
def runbook_executors() -> Mapping[str, ConnectionKind]:
    return {kind.name: kind for kind in (LOCAL, SSH, KUBECTL_EXEC)}
