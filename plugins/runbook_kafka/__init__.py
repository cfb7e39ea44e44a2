"""The ``kafka`` plugin: consumer groups and console consumers through Kafka's own scripts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from runbook import hookimpl

if TYPE_CHECKING:
    from runbook.samples import OutputParser


@hookimpl
def runbook_actions() -> dict[str, str]:
    """Imported when a playbook first uses one (runbook.lazyactions)."""
    return {
        "kafka.group_describe": "runbook_kafka.actions:GroupDescribe",
        "kafka.reset_offsets_preview": "runbook_kafka.reset:ResetOffsetsPreview",
        "kafka.reset_offsets": "runbook_kafka.reset:ResetOffsets",
        "kafka.console_consume": "runbook_kafka.actions:ConsoleConsume",
        "kafka.commit_progress": "runbook_kafka.actions:CommitProgress",
        "kafka.lag_evaluation": "runbook_kafka.watch:LagEvaluation",
        "kafka.membership_churn": "runbook_kafka.watch:MembershipChurn",
    }


@hookimpl
def runbook_parsers() -> dict[str, OutputParser]:
    from runbook_kafka.parse import PARSERS

    return PARSERS


@hookimpl
def runbook_sim_parts() -> list[Any]:
    from runbook_kafka.sim.part import PART
    from runbook_kafka.sim.puptoo_part import PART as PUPTOO

    return [PART, PUPTOO]
