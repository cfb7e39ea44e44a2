"""``runbook schema``: the JSON Schema of playbooks (or ``--inventory``: of inventories),
for editors; generated from the models and the plugins loaded now (runbook.schema)."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.command()
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="Write the schema to FILE (default: print it).")
@click.option("--inventory", "of_inventory", is_flag=True,
              help="The schema of runbook's inventory format instead of playbooks.")
def schema(output: str | None, of_inventory: bool) -> None:
    """JSON Schema of playbooks (or inventories) for editor completion and checking."""
    from runbook.schema import inventory_schema, playbook_schema

    doc = inventory_schema() if of_inventory else playbook_schema()
    text = json.dumps(doc, indent=2, sort_keys=False) + "\n"
    if output is None:
        click.echo(text, nl=False)
        return
    Path(output).write_text(text, encoding="utf-8")
    what = "inventories" if of_inventory else "playbooks"
    click.echo(f"{output}: JSON Schema of {what}; first line of a YAML file: "
               f"# yaml-language-server: $schema={output}", err=True)
