"""Which steps a run leaves out: ``--tags``, ``--skip-tags`` and ``--start-at``.

Tags work as Ansible's: with ``--tags`` only steps carrying one of them run
(plus steps tagged ``always``; ``tagged``/``untagged`` select by having tags
at all); ``--skip-tags`` leaves steps out (``always`` too, when named); a step
tagged ``never`` runs only when one of its tags is asked for. ``--start-at
STEP`` leaves out the steps before STEP.

Leaving out half of a pair through tags is refused, naming both: a step whose change a
later step ``restores`` (the change would stay, or the restore would undo a
change never made), and a background step with the ``flow.stop`` /
``flow.wait_quiet`` steps that name it. A step's own ``rollback`` goes with it.
``--start-at`` may leave out the first of a pair and run the second (the
change was made earlier, by a run that stopped or by hand); the plan shows it.
"""

from __future__ import annotations

from collections.abc import Sequence

from runbook.errors import PlaybookError
from runbook.models import Playbook, Step

__all__ = ["skipped_steps"]

STEP_REFERENCES = ("flow.stop", "flow.wait_quiet")


def _selected(step: Step, tags: Sequence[str], skip: Sequence[str]) -> bool:
    mine = set(step.tags)
    if mine & set(skip) or ("tagged" in skip and mine) or ("untagged" in skip and not mine):
        return False
    if "never" in mine and not (mine - {"never"}) & set(tags):
        return False
    if not tags or "all" in tags or "always" in mine:
        return True
    return bool(mine & set(tags)) or ("tagged" in tags and bool(mine)) or \
        ("untagged" in tags and not mine)


def _pairs(playbook: Playbook) -> list[tuple[str, str, str]]:
    """(first, second, how they belong together) for every pair of steps."""
    pairs: list[tuple[str, str, str]] = []
    for step in playbook.steps:
        if step.restores:
            pairs.append((step.restores, step.id, "restores"))
        named = step.with_.get("step")
        if step.action in STEP_REFERENCES and isinstance(named, str):
            pairs.append((named, step.id, step.action))
    return pairs


def skipped_steps(playbook: Playbook, *, tags: Sequence[str] = (),
                  skip_tags: Sequence[str] = (), start_at: str | None = None,
                  ) -> dict[str, str]:
    """Each step left out, with why (how the plan and the console show it);
    PlaybookError when a step named does not exist or a pair would be split."""
    ids = [s.id for s in playbook.steps]
    flag = "--skip-tags" if skip_tags and not tags else "--tags"
    if start_at is not None and start_at not in ids:
        raise PlaybookError(f"--start-at {start_at!r} is not a step of {playbook.name} "
                            f"(steps: {', '.join(ids)})", file="<command line>",
                            field="--start-at")
    before = ids[:ids.index(start_at)] if start_at is not None else []
    skips = {s.id: _why(s, tags, skip_tags) for s in playbook.steps
             if not _selected(s, tags, skip_tags)}
    split = _splits(playbook, {*skips, *before}, before)
    if split:
        raise PlaybookError("leaving steps out would split what belongs together: "
                            + "; ".join(split) + "; select both steps of each pair or neither",
                            file="<command line>", field=flag)
    return {**{i: f"before --start-at {start_at}" for i in before}, **skips}


def _splits(playbook: Playbook, out: set[str], before: list[str]) -> list[str]:
    """The pairs leaving ``out`` out would split. --start-at may leave out the first of a
    pair (done before, or by hand) and run the second, which the plan shows; tags may
    not split a pair either way."""
    return [f"{first!r} and {second!r} ({how}): {second if second in out else first!r} "
            "would be left out but not the other"
            for first, second, how in _pairs(playbook)
            if (first in out) != (second in out)
            and not (first in before and second not in before)]


def _why(step: Step, tags: Sequence[str], skip_tags: Sequence[str]) -> str:
    if set(step.tags) & set(skip_tags) or not tags:
        return "--skip-tags " + ",".join(skip_tags)
    return "--tags " + ",".join(tags)
