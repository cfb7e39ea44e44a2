"""The kubectl-exec executor: argv lists inside a pod, through ``kubectl exec``.

It is a thin wrapper: the argv becomes ``kubectl [--context C] [-n NS] exec POD
[-c CONTAINER] [-i] -- argv...`` and runs on another executor (``via``: this
machine by default, or a bastion over SSH), so there is no shell between us and
the pod. Environment and working directory must apply inside the pod, not to
kubectl, so they are expressed in the argv (``env K=V``, and ``sh -c 'cd ...'``
only when a cwd is asked for).

A ``selector`` is resolved once to the first Running pod by name and then kept,
like an SSH connection; if that pod disappears, the failing command raises
ConnectionError_ and forgets it, so a step retry resolves a fresh pod.
"""

from __future__ import annotations

import json
import re
import shlex
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from runbook.errors import CommandError, ConnectionError_, PlaybookError
from runbook.executors.base import CommandResult, Executor, LineCallback, Process
from runbook.executors.local import LocalExecutor

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_CD = 'cd "$1" && shift && exec "$@"'


class KubectlExecExecutor(Executor):
    """Runs commands in a pod's container.

    Settings: ``namespace``, ``pod`` or ``selector``, ``container``, ``context``,
    ``via`` (the Executor where kubectl runs; a LocalExecutor by default),
    ``kubectl`` (binary, default ``kubectl``), ``env`` (added inside the pod),
    ``resolve_timeout`` (seconds for the pod lookup, default 30).
    """

    kind = "kubectl-exec"

    def __init__(self, name: str, settings: Mapping[str, Any] | None = None) -> None:
        super().__init__(name, settings)
        s = self.settings
        if not s.get("pod") and not s.get("selector"):
            raise PlaybookError(f"kubectl-exec target {name!r} needs a pod or a selector",
                                field=f"targets.{name}")
        via = s.get("via")
        if via is not None and not isinstance(via, Executor):
            raise PlaybookError(f"kubectl-exec target {name!r}: via must name a target",
                                field=f"targets.{name}.via")
        self.via: Executor = via if via is not None else LocalExecutor(name)
        self.kubectl: str = str(s.get("kubectl") or "kubectl")
        self.namespace: str | None = s.get("namespace")
        self.container: str | None = s.get("container")
        self.context: str | None = s.get("context")
        self.selector: str | None = s.get("selector")
        self._pod: str | None = s.get("pod")
        self._lock = threading.Lock()

    # -- argv ---------------------------------------------------------------

    def kubectl_argv(self, *args: str) -> list[str]:
        """``kubectl [--context C] [-n NS] args...``"""
        argv = [self.kubectl]
        if self.context:
            argv += ["--context", self.context]
        if self.namespace:
            argv += ["-n", self.namespace]
        return [*argv, *args]

    def _inner(self, argv: Sequence[str], env: Mapping[str, str] | None,
               cwd: str | None) -> list[str]:
        if not argv:
            raise ValueError("empty argv")
        extra = {**(self.settings.get("env") or {}), **(env or {})}
        bad = [k for k in extra if not _ENV_NAME.fullmatch(k)]
        if bad:
            raise ValueError(f"invalid environment variable name(s): {', '.join(bad)}")
        inner = [*(["env", *(f"{k}={v}" for k, v in extra.items())] if extra else []), *argv]
        if cwd:
            # The one place a shell is needed: kubectl exec has no --workdir. The cwd and
            # argv are positional parameters, never parsed as shell text.
            inner = ["sh", "-c", _CD, "sh", cwd, *inner]
        return inner

    def _wrap(self, pod: str, argv: Sequence[str], stdin: bool,
              env: Mapping[str, str] | None, cwd: str | None) -> list[str]:
        head = self.kubectl_argv("exec", pod)
        if self.container:
            head += ["-c", self.container]
        if stdin:
            head.append("-i")
        return [*head, "--", *self._inner(argv, env, cwd)]

    def wrap(self, argv: Sequence[str], *, stdin: bool = False,
             env: Mapping[str, str] | None = None, cwd: str | None = None) -> list[str]:
        """The full kubectl argv for ``argv`` (resolves the selector on first use)."""
        return self._wrap(self.pod(), argv, stdin, env, cwd)

    def wire_argv(self, argv: Sequence[str]) -> list[str]:
        return self.wrap(argv)

    def describe(self, argv: Sequence[str]) -> str:
        """The wrapped command; never runs kubectl, so an unresolved selector shows as
        ``<pod matching SEL>`` (plans may be made offline)."""
        if self._pod is not None:
            return shlex.join(self._wrap(self._pod, argv, False, None, None))
        marker = "\x00pod\x00"
        text = shlex.join(self._wrap(marker, argv, False, None, None))
        return text.replace(shlex.quote(marker), f"<pod matching {self.selector}>")

    # -- pod ----------------------------------------------------------------

    def pod(self) -> str:
        """The pod's name; a selector is resolved once, on first use."""
        with self._lock:
            if self._pod is None:
                self._pod = self._resolve()
            return self._pod

    def _resolve(self) -> str:
        assert self.selector is not None
        argv = self.kubectl_argv("get", "pods", "-l", self.selector, "-o", "json")
        where = f"selector {self.selector!r} in namespace {self.namespace or '(default)'}"
        try:
            res = self.via.run(argv, timeout=float(self.settings.get("resolve_timeout", 30)))
        except (CommandError, ConnectionError_) as exc:
            raise ConnectionError_(f"cannot list pods for {where}: {exc}",
                                   target=self.name) from exc
        if not res.ok:
            tail = (res.stderr or res.stdout).strip().splitlines()[-3:]
            raise ConnectionError_(f"cannot list pods for {where}: {shlex.join(argv)} exited "
                                   f"{res.rc}: {' / '.join(tail)}", target=self.name)
        try:
            items = json.loads(res.stdout).get("items", [])
        except (ValueError, AttributeError) as exc:
            raise ConnectionError_(f"kubectl get pods for {where} did not print a JSON List",
                                   target=self.name) from exc
        running = sorted(
            str(item["metadata"]["name"]) for item in items
            if isinstance(item, dict)
            and item.get("status", {}).get("phase") == "Running"
            and not item.get("metadata", {}).get("deletionTimestamp")  # terminating
        )
        if not running:
            phases = sorted({str(i.get("status", {}).get("phase", "?")) for i in items
                             if isinstance(i, dict)})
            seen = f" (found {len(items)}: {', '.join(phases)})" if items else ""
            raise ConnectionError_(f"no Running pod matches {where}{seen}", target=self.name)
        return running[0]

    def _forget_if_gone(self, pod: str, stderr: str) -> None:
        """A vanished pod is a connection problem: forget it so a retry resolves again."""
        if self.selector and f'pods "{pod}" not found' in stderr:
            with self._lock:
                if self._pod == pod:
                    self._pod = None
            raise ConnectionError_(f"pod {pod} is gone (it matched {self.selector!r})",
                                   target=self.name)

    # -- commands -----------------------------------------------------------

    def start(self, argv: Sequence[str], *, env: Mapping[str, str] | None = None,
              cwd: str | None = None, stdin: str | None = None,
              on_line: LineCallback | None = None) -> Process:
        wrapped = self.wrap(argv, stdin=stdin is not None, env=env, cwd=cwd)
        proc = self.via.start(wrapped, stdin=stdin, on_line=on_line)
        proc.target = self.name
        return proc

    def run(self, argv: Sequence[str], *, timeout: float | None = None,
            env: Mapping[str, str] | None = None, cwd: str | None = None,
            stdin: str | None = None) -> CommandResult:
        pod = self.pod()
        wrapped = self._wrap(pod, argv, stdin is not None, env, cwd)
        try:
            res = self.via.run(wrapped, timeout=timeout, stdin=stdin)
        except CommandError as exc:
            exc.target = self.name
            raise
        if res.rc != 0:
            self._forget_if_gone(pod, res.stderr)
        res.target = self.name
        return res

    def connect(self) -> None:
        self.via.connect()
        self.pod()

    def close(self) -> None:
        """Forget a resolved pod (the next run resolves again); ``via`` belongs to its owner."""
        if self.selector:
            with self._lock:
                self._pod = None
