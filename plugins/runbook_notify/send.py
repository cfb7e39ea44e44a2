"""Delivery off the run's path: a queue, one daemon thread, bounded waits.

``Outbox.post`` only enqueues; the run's worker sends to the webhook (HTTP POST of
Slack-compatible JSON) and/or syslog (RFC 3164 over a unix datagram socket).
A failed or slow delivery is logged (the webhook's URL reduced to its host:
it often carries a token) and dropped, never retried into the run's time.
``Outbox.drain`` waits, at most ``flush`` seconds, for what is queued at the end of a run.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import socket
import threading
import time
import urllib.request
from dataclasses import dataclass
from urllib.parse import urlsplit

log = logging.getLogger("runbook.notify")

SEVERITY = {"info": 6, "warning": 4, "error": 3}
FACILITY_USER = 1


@dataclass(frozen=True)
class Message:
    text: str
    severity: str
    webhook: str | None
    syslog: str | None
    timeout: float


class Outbox:
    """One run's messages, delivered in order by a daemon thread of its own (a hung
    webhook holds up no other run)."""

    def __init__(self) -> None:
        self._queue: queue.Queue[Message] = queue.Queue()
        self._worker: threading.Thread | None = None
        self._lock = threading.Lock()

    def post(self, message: Message) -> None:
        """Queue message for delivery; returns at once."""
        with self._lock:
            if self._worker is None:
                self._worker = threading.Thread(target=self._work, name="runbook-notify",
                                                daemon=True)
                self._worker.start()
        self._queue.put(message)

    def drain(self, limit: float) -> bool:
        """Wait up to limit seconds for the queue to be delivered; True if it was."""
        deadline = time.monotonic() + limit
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)
        return not self._queue.unfinished_tasks

    def _work(self) -> None:
        while True:
            message = self._queue.get()
            try:
                deliver(message)
            finally:
                self._queue.task_done()


def deliver(message: Message) -> None:
    """Send now, to every channel; each failure logged, none raised."""
    if message.webhook:
        try:
            webhook(message.webhook, message.text, message.timeout)
        except Exception as exc:  # a notification never fails anything
            log.warning("notification to %s failed: %s", _where(message.webhook), exc)
    if message.syslog:
        try:
            syslog(message.syslog, message.text, message.severity)
        except Exception as exc:
            log.warning("notification to syslog %s failed: %s", message.syslog, exc)


def webhook(url: str, text: str, timeout: float) -> None:
    if urlsplit(url).scheme not in ("http", "https"):
        raise ValueError("the webhook must be an http(s) URL")
    body = json.dumps({"text": text, "username": "runbook"}).encode()
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        response.read(1024)


def syslog(path: str, text: str, severity: str) -> None:
    pri = FACILITY_USER * 8 + SEVERITY.get(severity, 6)
    stamp = time.strftime("%b %d %H:%M:%S", time.localtime())
    line = f"<{pri}>{stamp} {socket.gethostname()} runbook[{os.getpid()}]: {text}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.settimeout(1.0)
        sock.sendto(line.encode("utf-8", "replace")[:8000], path)


def _where(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or '?'}" + (f":{parts.port}" if parts.port else "")
