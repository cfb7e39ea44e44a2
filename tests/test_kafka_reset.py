"""``kafka.reset_offsets_preview`` renders every mode of the real tool, and the argument
rules of the rebuilt reset (the modes that need a value, from_csv without a topic)."""

from __future__ import annotations

from typing import Any

import pytest

from runbook.errors import ArgumentsInvalid
from runbook.plugins import default_registry

REGISTRY = default_registry()

KAFKA = {"bootstrap_server": "kafka:9092", "group": "g"}
RESET = ["kafka-consumer-groups.sh", "--bootstrap-server", "kafka:9092", "--group", "g",
         "--reset-offsets"]
MODES = [
    ({"to": "earliest"}, ["--to-earliest"]),
    ({"to": "latest"}, ["--to-latest"]),
    ({"to": "current"}, ["--to-current"]),
    ({"to": "offset", "value": "42"}, ["--to-offset", "42"]),
    ({"to": "shift-by", "value": "-10"}, ["--shift-by", "-10"]),
    ({"to": "datetime", "value": "2026-12-01T00:00:00.000"},
     ["--to-datetime", "2026-12-01T00:00:00.000"]),
    ({"to": "duration", "value": "PT1H"}, ["--by-duration", "PT1H"]),
]


@pytest.mark.parametrize(("mode", "flags"), MODES, ids=[m[0]["to"] for m in MODES])
def test_preview_renders_each_mode(mode: dict[str, Any], flags: list[str]) -> None:
    act = REGISTRY.action("kafka.reset_offsets_preview")
    args = act.validate_args({**KAFKA, "topic": "t:0,1", **mode})
    assert act.commands(args) == [[*RESET, *flags, "--topic", "t:0,1", "--dry-run", "--export"]]


@pytest.mark.parametrize("bad", [
    {"topic": "t", "to": "offset"},
    {"topic": "t", "to": "latest", "value": "3"},
    {"to": "latest"},
    {"topic": "t", "from_csv": "t,0,1\n"},
])
def test_reset_arguments_that_do_not_fit(bad: dict[str, Any]) -> None:
    with pytest.raises(ArgumentsInvalid):
        REGISTRY.action("kafka.reset_offsets").validate_args({**KAFKA, **bad})
