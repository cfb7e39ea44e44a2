"""The typed primitives: Playbook, Param, Target, Step, Check, Rollback.

These models are the playbook format's contract (see docs/playbook-format.md).
They check shape and types; rules that need the whole playbook (unique ids,
declared targets, known actions, ``restores`` order) live in ``validate.py``
so the loader can report every problem with its line. Playbooks can be built
in Python from the same models.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    WithJsonSchema,
    field_validator,
)
from pydantic._internal._model_construction import ModelMetaclass

from runbook.durations import parse_duration

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")

DURATION_SCHEMA = {"anyOf": [{"type": "number", "minimum": 0},
                             {"type": "string", "pattern": r"^\s*\d+(\.\d+)?\s*(ms|s|m|h|d)?\s*$"}],
                   "description": "a duration: 500ms, 30s, 5m, 2h, 1d or a number of seconds"}
Duration = Annotated[float, BeforeValidator(parse_duration), WithJsonSchema(DURATION_SCHEMA)]
"""Seconds; accepts ``500ms``, ``30s``, ``5m``, ``2h`` or a number."""

ParamType = Literal["string", "int", "float", "bool", "duration", "list", "map"]


class _Translating(ModelMetaclass):
    """``Step(...)`` built in Python raises runbook's ValidationErrors, not pydantic's.
    Only a direct call is translated: the loader's ``model_validate`` (and the nested
    models pydantic builds) keep pydantic's error, which the loader locates by line."""

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().__call__(*args, **kwargs)
        except ValidationError as exc:
            from runbook.errors import from_pydantic

            raise from_pydantic(exc, cls) from None


class Model(BaseModel, metaclass=_Translating):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=False,
                              defer_build=True)


class Param(Model):
    """A typed input of a playbook; without a default it is required."""

    type: ParamType = "string"
    default: Any = None
    description: str = ""
    secret: bool = False
    choices: list[Any] | None = None

    @property
    def required(self) -> bool:
        return self.default is None


class Target(Model):
    """Where commands run. ``hosts`` makes it a group (fan-out).

    Every other key is a setting of the connection kind (``host``, ``port``,
    ``namespace``, a plugin's ``image``...): the kind's own settings model
    checks them when the playbook or inventory is loaded
    (``runbook.executors.validation``) and types them when the executor is
    built, so a plugin's kind needs no field here.
    """

    model_config = ConfigDict(extra="allow", populate_by_name=True, defer_build=True)

    connection: str = "local"
    hosts: list[str] | None = None
    vars: dict[str, Any] = Field(default_factory=dict)
    shared: bool | None = None
    """``true``: its commands act on a shared system (a cluster through ``kubectl``, a
    cloud API), not on the machine they run on, so a run may be resumed from another
    machine of the team (docs/scale-out.md)."""

    def settings(self) -> dict[str, Any]:
        """The connection settings an executor is built from."""
        return {k: v for k, v in (self.__pydantic_extra__ or {}).items() if v is not None}

    def setting(self, key: str, default: Any = None) -> Any:
        """One connection setting (``default`` when the target does not set it)."""
        value = (self.__pydantic_extra__ or {}).get(key)
        return default if value is None else value


class Retry(Model):
    """How often and how patiently to try again (tenacity under the hood)."""

    attempts: int = Field(default=3, ge=1, le=100000)
    delay: Duration = 1.0
    backoff: float = Field(default=1.0, ge=1.0)
    max_delay: Duration | None = None


class Rollback(Model):
    """An explicit undo: an action with arguments, optionally on another target."""

    action: str
    with_: dict[str, Any] = Field(default_factory=dict, alias="with")
    target: str | None = None


class Check(Model):
    """A read-only probe plus an assertion; ``that`` may be a list (all must hold)."""

    id: str | None = None
    title: str | None = None
    probe: str
    target: str | None = None
    with_: dict[str, Any] = Field(default_factory=dict, alias="with")
    that: list[str] = Field(default_factory=list)
    message: str | None = None
    retry: Retry | None = None
    on_fail: Literal["abort", "warn"] = "abort"
    severity: Literal["info", "warning", "critical"] = "warning"

    @field_validator("that", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


def split_tags(value: Any) -> Any:
    """``tags: a, b`` is ``[a, b]``, as Ansible reads it; a list stays as it is."""
    return [t.strip() for t in value.split(",")] if isinstance(value, str) else value


class Step(Model):
    """One thing to do: an action with templated arguments on a target."""

    id: str
    title: str | None = None
    action: str
    target: str | None = None
    with_: dict[str, Any] = Field(default_factory=dict, alias="with")
    when: str | None = None
    confirm: str | None = None
    timeout: Duration | None = None
    retry: Retry | None = None
    until: str | None = None
    register_as: str | None = Field(default=None, alias="register")
    background: bool = False
    rollback: Literal["auto", "none"] | Rollback | None = None
    restores: str | None = None
    checks: list[Check] = Field(default_factory=list)
    on_fail: Literal["rollback", "continue", "abort"] = "rollback"
    on_resume: Literal["restart", "stop"] = "stop"
    """For a background step that died with the runner: start it again on resume?"""
    serial: int | str | None = None
    max_fail: int | str | None = None
    hosts: str | list[str] | None = None
    """Fan out over these host names (a template rendering to a list, known at run time);
    each inherits the step's target settings."""
    pause: Duration | None = None
    """Sleep between batches of a fan-out (not after the last)."""
    tags: list[str] = Field(default_factory=list)
    """Names for ``--tags``/``--skip-tags`` (runbook.tags); a string is split on commas."""

    @field_validator("tags", mode="before")
    @classmethod
    def _one_tag_or_many(cls, value: Any) -> Any:
        return split_tags(value)


def approval_shorthand(value: Any) -> Any:
    """``approval: required`` / ``optional`` stand for the mapping they mean."""
    if isinstance(value, str):
        if value not in ("required", "optional"):
            raise ValueError("approval is 'required', 'optional' or a mapping "
                             f"{{required: BOOL, self_approval: BOOL}}, got {value!r}")
        return {"required": value == "required"}
    if not isinstance(value, dict):
        raise ValueError("approval is 'required', 'optional' or a mapping "
                         f"{{required: BOOL, self_approval: BOOL}}, got {value!r}")
    return value


class Approval(Model):
    """Four-eyes review of a saved plan (docs/review.md): ``required`` refuses a run
    without an approved plan; ``self_approval`` lets a plan's author approve it."""

    required: bool = False
    self_approval: bool = False


NOTIFY_EVENTS = ("start", "gate", "failure", "finish")
CHANNEL_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
ChannelName = Annotated[str, WithJsonSchema({"type": "string", "pattern": CHANNEL_NAME})]


def notify_without_destinations(value: Any) -> Any:
    """A playbook names channels; where they lead (a webhook URL, which is a secret, or
    a syslog socket) is each user's ``notify.yaml``."""
    if isinstance(value, dict):
        for key in ("webhook", "syslog", "url"):
            if key in value:
                kind = "syslog" if key == "syslog" else "webhook"
                raise ValueError(
                    f"{key!r} is a destination, which a playbook never holds (a webhook URL "
                    "is a secret): define it in each user's notify.yaml under channels: "
                    f"{{NAME: {{{kind}: ...}}}} and write notify: {{channels: [NAME]}} here")
    return value


class Notify(Model):
    """``notify:``: what runs of this playbook tell the team (docs/review.md), through
    which of the channels the users' notify.yaml defines, by name."""

    enabled: bool = True
    events: list[Literal["start", "gate", "failure", "finish"]] | None = None
    gate_wait: Duration | None = None
    channels: list[ChannelName] | None = None


class Defaults(Model):
    target: str | None = None
    timeout: Duration | None = None


class Playbook(Model):
    """One documented procedure, as code."""

    runbook: Literal[1]
    name: str
    title: str = ""
    summary: str = ""
    source: str = ""
    params: dict[str, Param] = Field(default_factory=dict)
    targets: dict[str, Target] = Field(default_factory=dict)
    defaults: Defaults = Field(default_factory=Defaults)
    preconditions: list[Check] = Field(default_factory=list)
    steps: list[Step] = Field(default_factory=list)
    verify: list[Check] = Field(default_factory=list)
    approval: Annotated[Approval, BeforeValidator(approval_shorthand)] = Field(
        default_factory=Approval)
    concurrency: int = 1
    """How many runs of this playbook on one target set may hold its lock at once."""
    notify: Annotated[Notify, BeforeValidator(notify_without_destinations)] | None = None
    """What its runs notify, through channels named here and defined per user."""

    _origin: str = PrivateAttr(default="<python>")
    _sha256: str = PrivateAttr(default="")

    @property
    def origin(self) -> str:
        """The file this playbook was loaded from (``<python>`` when built in code)."""
        return self._origin

    @property
    def sha256(self) -> str:
        """Of the file's bytes, or of the canonical JSON for a playbook built in code."""
        if not self._sha256:
            import hashlib

            self._sha256 = hashlib.sha256(
                self.model_dump_json(by_alias=True).encode()).hexdigest()
        return self._sha256

    def step(self, step_id: str) -> Step:
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(step_id)

    def effective_targets(self) -> dict[str, Target]:
        """Declared targets, with the implicit ``local`` when none is declared."""
        targets = dict(self.targets)
        targets.setdefault("local", Target(connection="local"))
        return targets

    def default_target(self) -> str:
        if self.defaults.target:
            return self.defaults.target
        if len(self.targets) == 1:
            return next(iter(self.targets))
        return "local"
