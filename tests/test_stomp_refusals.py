"""stomp.authorization's parser: the broker's ERROR frames in stompclt's log, each
refused destination once with who was refused and how often."""

from __future__ import annotations

from typing import Any

import pytest
from runbook_stomp.refusals import next_step, refusals

WRITE = ("Nov 12 05:02:13 psds0 stompclt[2911031]: unexpected ERROR frame received: User "
         "CN=psds0.example.org, is not authorized to write to: topic://perfsonar.a")
READ = ("Nov 12 05:03:00 psds0 stompclt[2911031]: unexpected ERROR frame received: User "
        "CN=psds0.example.org, is not authorized to read from: queue://in")


@pytest.mark.parametrize(("text", "expected"), [
    ("", []),
    ("Nov 12 04:10:41 psds0 stompclt[1]: [ERROR] failed to flush outgoing buffer (9 bytes)!\n",
     []),
    (f"{WRITE}\nother\n{WRITE.replace('05:02:13', '05:09:00')}\n",
     [{"destination": "topic://perfsonar.a", "access": "write to", "user": "CN=psds0.example.org",
       "count": 2, "last": WRITE.replace("05:02:13", "05:09:00")}]),
    (f"{READ}\n{WRITE}\n",
     [{"destination": "queue://in", "access": "read from", "user": "CN=psds0.example.org",
       "count": 1, "last": READ},
      {"destination": "topic://perfsonar.a", "access": "write to",
       "user": "CN=psds0.example.org", "count": 1, "last": WRITE}]),
])
def test_refusals(text: str, expected: list[dict[str, Any]]) -> None:
    assert refusals(text) == expected


def test_the_next_step_names_the_brokers_owner_and_the_topic() -> None:
    [refused] = refusals(READ)
    assert next_step(refused) == (
        "the broker's owner must grant CN=psds0.example.org the right to read from queue://in; "
        "a restart or a configuration change of stompclt cannot fix it")
