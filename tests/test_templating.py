"""Templates and expressions: sandboxed Jinja2, StrictUndefined, native single expressions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import runbook
from runbook.errors import TemplateError
from runbook.templating import Templates, is_template, referenced_names


@pytest.fixture
def templates() -> Templates:
    return Templates({"shout": lambda s: str(s).upper() + "!"})


CTX: dict[str, Any] = {
    "n": 3,
    "who": "world",
    "flag": False,
    "hosts": ["db1", "db2"],
    "params": {"n": 3, "who": "world"},
    "steps": {"count": {"status": "ok", "rc": 0, "stdout": "42\n", "result": {"lines": 42}}},
    "lines": {"stdout": "7\n"},
}


# --- StrictUndefined -------------------------------------------------------------------

UNDEFINED = [
    "{{ missing }}",
    "x{{ missing }}",
    "{{ missing ~ 'x' }}",
    "{{ steps.count.nope }}",
    "{{ steps.nope.rc }}",
    "{{ params.missing }}",
    "{% if missing %}a{% endif %}",
]


@pytest.mark.parametrize("source", UNDEFINED)
def test_undefined_name_in_a_template_raises(templates: Templates, source: str) -> None:
    with pytest.raises(TemplateError) as info:
        templates.render(source, CTX, step="scale-down", field="with.replicas")
    error = info.value
    assert error.step == "scale-down"
    assert error.field == "with.replicas"
    assert error.template.strip() in source
    assert str(error).startswith("step 'scale-down' with.replicas: ")
    assert "undefined" in str(error)


@pytest.mark.parametrize("source", ["missing", "steps.count.nope", "missing == 1",
                                    "result.rc == 0"])
def test_undefined_name_in_an_expression_raises(templates: Templates, source: str) -> None:
    with pytest.raises(TemplateError) as info:
        templates.evaluate(source, CTX, step="poll", field="until")
    assert info.value.step == "poll"
    assert info.value.field == "until"
    assert "undefined" in str(info.value)


def test_undefined_name_deep_in_arguments_names_the_field(templates: Templates) -> None:
    with pytest.raises(TemplateError) as info:
        templates.render({"command": ["echo", "{{ missing }}"]}, CTX, step="greet",
                         field="with")
    assert info.value.field == "with.command[1]"


# --- the sandbox -----------------------------------------------------------------------

ESCAPES = [
    "{{ ''.__class__.__mro__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ joiner.__init__.__globals__['os'] }}",
    "{{ ''.__class__ }}",
    "{{ hosts.__class__.__base__.__subclasses__() }}",
    "{{ n.__class__.__subclasses__() }}",
    "x{{ ''.__class__ }}",
    "{{ hosts.append('db3') }}",
    "{{ params.update(n=4) }}",
    "{{ params.pop('n') }}",
]


@pytest.mark.parametrize("source", ESCAPES)
def test_sandbox_refuses_internals_and_mutation(templates: Templates, source: str) -> None:
    ctx = {**CTX, "hosts": list(CTX["hosts"]), "params": dict(CTX["params"])}
    with pytest.raises(TemplateError) as info:
        templates.render(source, ctx, step="evil", field="with.command")
    assert info.value.step == "evil"
    assert "unsafe" in str(info.value) or "not allowed" in str(info.value)
    assert ctx["hosts"] == ["db1", "db2"]
    assert ctx["params"] == {"n": 3, "who": "world"}


@pytest.mark.parametrize("source", ["''.__class__.__mro__", "cycler.__init__.__globals__",
                                    "''.__class__"])
def test_sandbox_applies_to_expressions(templates: Templates, source: str) -> None:
    with pytest.raises(TemplateError):
        templates.evaluate(source, CTX, step="evil", field="when")


# --- native types ----------------------------------------------------------------------

@pytest.mark.parametrize(("source", "expected"), [
    ("{{ n }}", 3),
    (" {{ n }} ", 3),
    ("{{ n + 1 }}", 4),
    ("{{ flag }}", False),
    ("{{ hosts }}", ["db1", "db2"]),
    ("{{ hosts | length }}", 2),
    ("{{ none }}", None),
    ("{{ params }}", {"n": 3, "who": "world"}),
    ("{{ '}}' }}", "}}"),
    ("x{{ n }}", "x3"),
    ("{{ n }}{{ n }}", "33"),
    ("{{ n }} and {{ who }}", "3 and world"),
    ("{% if n > 2 %}big{% else %}small{% endif %}", "big"),
    ("{{ who | shout }}", "WORLD!"),
    ("plain text", "plain text"),
    ("{ n }", "{ n }"),
])
def test_single_expression_keeps_its_type(templates: Templates, source: str,
                                          expected: Any) -> None:
    value = templates.render(source, CTX)
    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize("value", [5, 2.5, True, None, b"bytes"])
def test_non_strings_pass_through(templates: Templates, value: Any) -> None:
    assert templates.render(value, CTX) is value


def test_nested_dicts_and_lists_render(templates: Templates) -> None:
    raw = {
        "namespace": "{{ params.who }}",
        "replicas": "{{ n }}",
        "command": ["echo", "{{ who }}", "n={{ n }}", 7],
        "nested": {"list": [{"deep": "{{ hosts[1] }}"}], "keep": "as is"},
        "empty": {},
    }
    assert templates.render(raw, CTX) == {
        "namespace": "world",
        "replicas": 3,
        "command": ["echo", "world", "n=3", 7],
        "nested": {"list": [{"deep": "db2"}], "keep": "as is"},
        "empty": {},
    }
    assert raw["replicas"] == "{{ n }}", "rendering does not change its input"


def test_rendered_values_are_data_not_code(templates: Templates) -> None:
    ctx = {**CTX, "who": "{{ n }}; rm -rf /"}
    assert templates.render("{{ who }}", ctx) == "{{ n }}; rm -rf /"
    assert templates.render(["echo", "{{ who }}"], ctx) == ["echo", "{{ n }}; rm -rf /"]


# --- context names ---------------------------------------------------------------------

def test_context_names_params_steps_and_registered(templates: Templates) -> None:
    assert templates.render("{{ params.n }}", CTX) == 3
    assert templates.render("{{ steps.count.stdout | trim }}", CTX) == "42"
    assert templates.render("{{ steps.count.result.lines }}", CTX) == 42
    assert templates.render("{{ lines.stdout | trim | int }}", CTX) == 7
    assert templates.evaluate("steps.count.rc == 0 and n == params.n", CTX) is True


def test_the_engine_context_has_params_steps_and_registered_names(tmp_path: Path) -> None:
    out = tmp_path / "out.txt"
    playbook = runbook.loads(f"""\
runbook: 1
name: context
params:
  who: {{type: string, default: world}}
  n: {{type: int, default: 2}}
steps:
  - id: first
    action: host.query
    with: {{command: [echo, "{{{{ who }}}}"]}}
    register: greeting
  - id: second
    action: host.query
    with: {{command: [echo, "n={{{{ params.n * 10 }}}}"]}}
  - id: write
    action: host.shell
    with:
      command:
        - sh
        - -c
        - 'printf "%s|%s|%s|%s" "$1" "$2" "$3" "$4" > "$5"'
        - sh
        - "{{{{ steps.first.stdout | trim }}}}"
        - "{{{{ greeting.stdout | trim }}}}"
        - "{{{{ steps.second.result.stdout | trim }}}}"
        - "{{{{ steps.first.status }}}}/{{{{ steps.first.rc }}}}/{{{{ '2m' | duration }}}}"
        - "{out}"
    when: "greeting.rc == 0 and params.who == who"
""")
    result = runbook.run(playbook, {"who": "bob"}, yes=True)
    assert result.exit_code == 0, result.error
    assert out.read_text() == "bob|bob|n=20|ok/0/120.0"


def test_a_number_rendered_into_an_argv_is_an_argument() -> None:
    """``[sleep, "{{ seconds }}"]`` with an int param: native rendering must not break argv."""
    playbook = runbook.loads("""\
runbook: 1
name: argv-number
params:
  n: {type: int, default: 3}
steps:
  - id: echo
    action: host.query
    with: {command: [echo, "{{ n }}"]}
    register: said
""")
    result = runbook.run(playbook, yes=True)
    assert result.exit_code == 0, result.error
    assert result.steps[0].result["stdout"] == "3\n"


def test_undefined_name_fails_the_step_cleanly(tmp_path: Path) -> None:
    """A name missing at run time fails that step with a TemplateError; the run still
    rolls back. (An unknown top-level name is refused when the playbook loads.)"""
    marker = tmp_path / "marker"
    playbook = runbook.loads(f"""\
runbook: 1
name: typo
steps:
  - id: make
    action: host.shell
    with: {{command: [touch, "{marker}"]}}
    rollback: {{action: host.shell, with: {{command: [rm, -f, "{marker}"]}}}}
  - id: typo
    action: host.shell
    with: {{command: [echo, hi]}}
    when: "steps.make.result.flga"
""")
    result = runbook.run(playbook, yes=True)
    assert result.outcome == "rolled-back"
    assert result.exit_code == 1
    assert "flga" in (result.error or "")
    assert not marker.exists()


# --- filters, compile checks, names ----------------------------------------------------

@pytest.mark.parametrize(("source", "seconds"), [
    ("{{ '500ms' | duration }}", 0.5),
    ("{{ '30s' | duration }}", 30.0),
    ("{{ '5m' | duration }}", 300.0),
    ("{{ '2h' | duration }}", 7200.0),
    ("{{ 90 | duration }}", 90.0),
])
def test_duration_filter(templates: Templates, source: str, seconds: float) -> None:
    assert templates.render(source, CTX) == seconds


def test_duration_filter_rejects_nonsense(templates: Templates) -> None:
    with pytest.raises(TemplateError, match="expected a duration") as info:
        templates.render("{{ 'soon' | duration }}", CTX, step="nap", field="with.duration")
    assert info.value.step == "nap"


def test_compile_checks(templates: Templates) -> None:
    assert templates.check_expression("result.rc == 0") is None
    assert templates.check_expression("result.rc ==") is not None
    assert templates.check_expression("x | nosuchfilter") is not None
    assert templates.check_template("a {{ b }} c") is None
    assert templates.check_template("a {{ b } c") is not None
    assert templates.check_template("{% if x %}") is not None


def test_is_template() -> None:
    assert is_template("{{ x }}")
    assert is_template("{% if x %}y{% endif %}")
    assert not is_template("{ x }")
    assert not is_template(3)


def test_referenced_names(templates: Templates) -> None:
    value = {"a": "{{ who }}-{{ steps.count.rc }}", "b": ["{{ greeting.stdout }}", 3]}
    assert referenced_names(templates, value) == {"who", "steps", "greeting"}
