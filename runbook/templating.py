"""Templates and expressions: sandboxed Jinja2 with StrictUndefined.

A value that is exactly one ``{{ expression }}`` keeps its native type (so
``replicas: "{{ n }}"`` stays an int); anything else renders to a string.
Rendered values are data: they become argv elements and never pass through a
shell. Compiled templates are cached, because a retry loop renders the same
expression many times.
"""

from __future__ import annotations

import contextlib
import functools
import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from runbook.durations import parse_duration
from runbook.errors import TemplateError

if TYPE_CHECKING:
    import jinja2

_SINGLE_EXPR = re.compile(r"^\s*\{\{(?P<expr>(?:(?!\}\}|\{\{).)*)\}\}\s*$", re.S)


def is_template(value: object) -> bool:
    return isinstance(value, str) and ("{{" in value or "{%" in value)


class Templates:
    """One sandboxed environment per run, with the plugins' filters.

    jinja2 is imported with the first template or expression: a playbook without
    any does not pay for it (about 20 ms of start-up)."""

    def __init__(self, filters: Mapping[str, Callable[..., Any]] | None = None) -> None:
        self._filters = dict(filters or {})
        self._env: jinja2.Environment | None = None
        self._expr = functools.lru_cache(maxsize=1024)(self._compile_expr)
        self._tmpl = functools.lru_cache(maxsize=1024)(self._compile_tmpl)
        self._quoting: jinja2.Environment | None = None

    @property
    def env(self) -> jinja2.Environment:
        if self._env is None:
            from jinja2 import StrictUndefined

            from runbook.budget import BudgetedEnvironment

            env = BudgetedEnvironment(undefined=StrictUndefined, autoescape=False,
                                      keep_trailing_newline=True)
            env.filters["duration"] = parse_duration
            env.filters.update(self._filters)
            self._env = env
        return self._env

    def render_quoted(self, source: str, context: Mapping[str, Any], *,
                      step: str | None = None, field: str = "") -> str:
        """Render shell text: every ``{{ value }}`` is shell-quoted where it is put
        (``shell: true``), the template's own text is left as written."""
        from runbook import budget

        if self._quoting is None:
            import shlex

            from runbook.commandline import word

            env = self.env.overlay(finalize=lambda v: shlex.quote(word(v)))
            self._quoting = env
        budget.reset()
        try:
            return self._quoting.from_string(source).render(**context)
        except Exception as exc:
            raise _translate(exc, source, step, field) from exc

    def _compile_expr(self, source: str) -> Any:
        return self.env.compile_expression(source, undefined_to_none=False)

    def _compile_tmpl(self, source: str) -> jinja2.Template:
        return self.env.from_string(source)

    def check_expression(self, source: str) -> str | None:
        """A syntax error message, or None if the expression compiles."""
        import jinja2

        try:
            self._expr(source)
        except jinja2.TemplateSyntaxError as exc:
            return exc.message or str(exc)
        return None

    def check_template(self, source: str) -> str | None:
        import jinja2

        try:
            self._tmpl(source)
        except jinja2.TemplateSyntaxError as exc:
            return exc.message or str(exc)
        return None

    def evaluate(self, source: str, context: Mapping[str, Any], *, step: str | None = None,
                 field: str = "") -> Any:
        """Evaluate an expression (``when``, ``that``, ``until``) to a Python value."""
        import jinja2

        from runbook import budget

        budget.reset()
        try:
            value = self._expr(source)(**context)
            if isinstance(value, jinja2.Undefined):
                value._fail_with_undefined_error()
            return value
        except Exception as exc:
            raise _translate(exc, source, step, field) from exc

    def render(self, value: Any, context: Mapping[str, Any], *, step: str | None = None,
               field: str = "") -> Any:
        """Render every template inside value (dicts and lists included)."""
        if isinstance(value, str):
            if not is_template(value):
                return value
            match = _SINGLE_EXPR.match(value)
            if match:
                return self.evaluate(match.group("expr"), context, step=step, field=field)
            from runbook import budget

            budget.reset()
            try:
                return self._tmpl(value).render(**context)
            except Exception as exc:
                raise _translate(exc, value, step, field) from exc
        if isinstance(value, Mapping):
            return {k: self.render(v, context, step=step, field=f"{field}.{k}" if field else k)
                    for k, v in value.items()}
        if isinstance(value, list):
            return [self.render(v, context, step=step, field=f"{field}[{i}]")
                    for i, v in enumerate(value)]
        return value


def _translate(exc: Exception, source: str, step: str | None, field: str) -> TemplateError:
    import jinja2
    from jinja2.exceptions import SecurityError

    if isinstance(exc, jinja2.UndefinedError):
        message = f"undefined name in {source!r}: {exc.message}"
    elif isinstance(exc, SecurityError):
        message = f"not allowed in a template ({source!r}): {exc}"
    elif isinstance(exc, jinja2.TemplateSyntaxError):
        message = f"template syntax error in {source!r}: {exc.message}"
    else:
        message = f"cannot evaluate {source!r}: {type(exc).__name__}: {exc}"
    return TemplateError(message, step=step, field=field, template=source)


def referenced_names(templates: Templates, value: Any) -> set[str]:
    """Top-level names a value's templates use (to know which results a plan waits on)."""
    import jinja2
    from jinja2 import meta

    names: set[str] = set()
    if isinstance(value, str) and is_template(value):
        with contextlib.suppress(jinja2.TemplateSyntaxError):
            names |= meta.find_undeclared_variables(templates.env.parse(value))
    elif isinstance(value, Mapping):
        for v in value.values():
            names |= referenced_names(templates, v)
    elif isinstance(value, list):
        for v in value:
            names |= referenced_names(templates, v)
    return names
