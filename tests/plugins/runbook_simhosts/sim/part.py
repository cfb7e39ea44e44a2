"""The ``hostinfo`` part and its ``two-hosts`` scenario."""

from __future__ import annotations

from runbook.sim.parts import Fault, Host, Part, Scenario

PART = Part(
    name="hostinfo",
    world="runbook_simhosts.sim.world",
    tools={"hostinfo": "runbook_simhosts.sim.hostinfo"},
    knobs={"tick_seconds": 0.2},
    faults=(Fault("hostinfo_broken", "hostinfo fails with exit status 3 on every host"),),
    scenarios=(Scenario(
        "two-hosts",
        "Two database hosts answering and a third one down.",
        ("hostinfo",),
        knobs={"warmup_seconds": 1.0},
        hosts=(Host("db1", "127.0.1.11", files={"/etc/role": "primary\n"}),
               Host("db2", "127.0.1.12", files={"/etc/role": "replica\n"}),
               Host("db3", "127.0.1.13", up=False, files={"/etc/role": "spare\n"})),
    ), Scenario(
        "needs-unicorn",
        "Combines a part no installed plugin contributes.",
        ("hostinfo", "unicorn"),
    )),
)
