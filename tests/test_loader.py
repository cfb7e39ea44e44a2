"""The loader refuses broken playbooks and says exactly where and why.

The corpus lives in ``tests/playbooks/broken``: each ``NN-short-name.yaml`` is
paired with ``NN-short-name.expect``, one line per problem the loader must
report::

    LINE<TAB>FIELD<TAB>substring of the message

``-`` as LINE or FIELD means "none" (a problem of the whole file); an empty
substring accepts any message. The loader must report exactly these problems:
every expected one, and nothing else.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from runbook.errors import PlaybookError, Problem, ValidationErrors
from runbook.loader import load, loads, validate_paths
from runbook.models import Playbook

TESTS = Path(__file__).resolve().parent
BROKEN = TESTS / "playbooks" / "broken"
GOOD = TESTS.parent / "playbooks"
CASES = sorted(BROKEN.glob("*.yaml"))


@dataclass(frozen=True)
class Expected:
    """One line of an ``.expect`` file."""

    line: int | None
    field: str
    text: str

    def matches(self, problem: Problem) -> bool:
        return (problem.line == self.line and problem.field == self.field
                and self.text in problem.message)

    def __str__(self) -> str:
        return f"{self.line or '-'}\t{self.field or '-'}\t{self.text}"


def read_expect(path: Path) -> list[Expected]:
    out: list[Expected] = []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not raw.strip():
            continue
        parts = raw.split("\t")
        assert len(parts) == 3, f"{path}:{number}: expected LINE<TAB>FIELD<TAB>TEXT, got {raw!r}"
        line, field, text = parts
        out.append(Expected(None if line == "-" else int(line),
                            "" if field == "-" else field, text))
    return out


def problems_of(path: Path) -> list[Problem]:
    """Every problem load() reports for path; fails the test if it loads."""
    with pytest.raises(PlaybookError) as info:
        load(path)
    error = info.value
    return list(error.problems) if isinstance(error, ValidationErrors) else [error.problem]


def unmatched(expected: list[Expected], problems: list[Problem]) -> list[Expected]:
    """Expected problems with no reported problem of their own (one to one)."""
    free = list(problems)
    missing: list[Expected] = []
    for want in expected:
        hit = next((p for p in free if want.matches(p)), None)
        if hit is None:
            missing.append(want)
        else:
            free.remove(hit)
    return missing


def show(problems: list[Problem]) -> str:
    return "\n".join(f"  {p.line or '-'}\t{p.field or '-'}\t{p.message}" for p in problems)


def test_corpus_is_complete() -> None:
    assert len(CASES) >= 30
    expects = sorted(BROKEN.glob("*.expect"))
    assert [p.stem for p in expects] == [p.stem for p in CASES]
    for case in CASES:
        assert read_expect(case.with_suffix(".expect")), f"{case.name}: empty .expect"


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_broken_playbook_reports_exactly_the_expected_problems(case: Path) -> None:
    expected = read_expect(case.with_suffix(".expect"))
    started = time.perf_counter()
    problems = problems_of(case)
    elapsed = time.perf_counter() - started

    missing = unmatched(expected, problems)
    assert not missing, (f"{case.name}: not reported:\n"
                         + "\n".join(f"  {m}" for m in missing)
                         + f"\nreported:\n{show(problems)}")
    assert len(problems) == len(expected), (
        f"{case.name}: {len(problems)} problems reported, {len(expected)} expected:\n"
        f"{show(problems)}")
    assert all(p.file == str(case) for p in problems)
    lines = [p.line or 0 for p in problems]
    assert lines == sorted(lines), "problems are reported in file order"
    assert elapsed < 1.0, f"{case.name} took {elapsed:.2f}s to refuse"


def test_several_problems_are_all_reported_in_one_error() -> None:
    problems = problems_of(BROKEN / "37-several-problems.yaml")
    assert len(problems) == 10
    assert [p.line for p in problems] == [2, 4, 8, 9, 13, 14, 14, 15, 16, 18]
    with pytest.raises(ValidationErrors) as info:
        load(BROKEN / "37-several-problems.yaml")
    text = str(info.value)
    assert text.count("37-several-problems.yaml:") == 10
    assert text.splitlines()[0].endswith(
        "37-several-problems.yaml:2: name: name 'Several_Problems' must match [a-z0-9-]+ "
        "(lower case, digits, -)")


def test_alias_bomb_is_refused_fast() -> None:
    started = time.perf_counter()
    with pytest.raises(PlaybookError, match="alias"):
        load(BROKEN / "40-alias-bomb.yaml")
    assert time.perf_counter() - started < 0.5


def test_file_over_one_megabyte_is_refused_before_parsing(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    step = "  - id: step-{i}\n    action: host.shell\n    with: {{command: [echo, '{i}']}}\n"
    steps = "".join(step.format(i=i) for i in range(20_000))
    big.write_text(f"runbook: 1\nname: big\nsteps:\n{steps}", encoding="utf-8")
    assert big.stat().st_size > 1_000_000
    started = time.perf_counter()
    with pytest.raises(PlaybookError) as info:
        load(big)
    assert time.perf_counter() - started < 0.5
    assert "too large" in info.value.problem.message
    assert info.value.problem.file == str(big)


def test_non_utf8_bytes_are_refused_with_their_line(tmp_path: Path) -> None:
    bad = tmp_path / "latin1.yaml"
    bad.write_bytes(b"runbook: 1\nname: latin1\ntitle: caf\xe9 au lait\nsteps:\n"
                    b"  - {id: greet, action: host.shell, with: {command: [echo, hi]}}\n")
    with pytest.raises(PlaybookError) as info:
        load(bad)
    problem = info.value.problem
    assert "UTF-8" in problem.message
    assert problem.file == str(bad)
    assert problem.line == 3, "the error names the line of the first bad byte"


def test_utf8_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbfrunbook: 1\nname: bom\nsteps:\n"
                     b"  - {id: greet, action: host.shell, with: {command: [echo, hi]}}\n")
    assert load(path).name == "bom"


def test_missing_file_is_a_playbook_error(tmp_path: Path) -> None:
    with pytest.raises(PlaybookError, match="cannot read"):
        load(tmp_path / "nope.yaml")


def test_good_playbooks_load() -> None:
    files = sorted(GOOD.rglob("*.yaml"))
    assert files
    for path in files:
        playbook = load(path)
        assert isinstance(playbook, Playbook)
        assert playbook.origin == str(path)
        assert len(playbook.sha256) == 64


def test_validate_paths_collects_every_file_and_every_problem() -> None:
    problems = validate_paths([str(BROKEN / "37-several-problems.yaml"),
                               str(BROKEN / "17-unknown-action.yaml"), str(GOOD)])
    assert len(problems) == 11
    assert {Path(p.file).name for p in problems} == {"37-several-problems.yaml",
                                                     "17-unknown-action.yaml"}


def test_loads_names_the_given_file() -> None:
    with pytest.raises(ValidationErrors) as info:
        loads("runbook: 1\nname: Bad Name\nsteps:\n"
              "  - {id: a, action: host.shell, with: {command: [echo]}}\n", file="inline.yaml")
    assert str(info.value) == ("inline.yaml:2: name: name 'Bad Name' must match [a-z0-9-]+ "
                               "(lower case, digits, -)")


def test_argument_error_shows_the_bad_value_once() -> None:
    text = ("runbook: 1\nname: wait\nsteps:\n"
            "  - {id: consume, action: host.shell, with: {command: [cat]}, background: true}\n"
            "  - {id: drained, action: flow.wait_quiet, with: {step: consume, "
            "quiet_for: 5 minutes}}\n")
    with pytest.raises(ValidationErrors) as info:
        loads(text)
    [problem] = info.value.problems
    assert problem.field == "steps[1].with.quiet_for"
    assert problem.message.count("'5 minutes'") == 1, problem.message


def test_numbers_in_an_argv_list_are_arguments() -> None:
    """``command: [sleep, 1]`` is how people write it; the 1 is the argument "1"."""
    playbook = loads("runbook: 1\nname: nap\nsteps:\n"
                     "  - {id: nap, action: host.shell, with: {command: [sleep, 1]}}\n")
    from runbook.plugins import default_registry

    action = default_registry().action("host.shell")
    args = action.validate_args(playbook.steps[0].with_)
    assert action.commands(args) == [["sleep", "1"]]


def test_every_rule_has_a_broken_playbook_of_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each rule of runbook.rules reports a problem in at least one corpus case."""
    import contextlib
    import sys

    from runbook import rules

    lists = (rules.PLAYBOOK_RULES, rules.TARGET_RULES, rules.STEP_RULES, rules.CHECK_RULES,
             rules.ARGUMENT_RULES)
    names = {rule.__name__ for group in lists for rule in group}
    reported: set[str] = set()
    add = rules.Rules.add

    def recording_add(self: rules.Rules, path: tuple[str | int, ...], message: str) -> None:
        frame = sys._getframe(1)
        while frame is not None:
            reported.add(frame.f_code.co_name)
            frame = frame.f_back  # type: ignore[assignment]
        add(self, path, message)

    monkeypatch.setattr(rules.Rules, "add", recording_add)
    for case in CASES:
        with contextlib.suppress(PlaybookError):
            load(case)
    assert sorted(names - reported) == []
