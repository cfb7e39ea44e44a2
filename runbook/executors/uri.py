"""``--target NAME=URI``: a URI becomes a target through its kind's scheme.

What every URI shares is checked here (a query parsed strictly, each option
once and known to the kind, no ``#fragment``); what the rest of the URI
means is the kind's ``from_uri``. ``local`` alone (no ``://``) is a local
target.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from pydantic import ValidationError

from runbook.executors.kinds import ConnectionKind, TargetURI, kinds

if TYPE_CHECKING:
    from runbook.models import Target
    from runbook.plugins import Registry

_HOST_RE = re.compile(r"^[A-Za-z0-9_.:%\[\]-]+$")


def uri_forms(registry: Registry) -> str:
    """How target URIs read, for messages: ``local, ssh://... or kubectl-exec://...``."""
    forms = [k.uri_form for k in kinds(registry).values() if k.uri_form]
    if len(forms) < 2:
        return "".join(forms)
    return ", ".join(forms[:-1]) + " or " + forms[-1]


def target_from_uri(uri: str, registry: Registry) -> Target:
    """A Target from a URI of one of the registry's kinds; ValueError saying what was
    expected otherwise."""
    from runbook.models import Target

    if uri in ("local", "local://"):
        return Target(connection="local")
    scheme, sep, _ = uri.partition("://")
    if not sep:
        raise ValueError(f"expected {uri_forms(registry)}; got {uri!r}")
    kind = next((k for k in kinds(registry).values() if k.scheme == scheme and k.from_uri),
                None)
    if kind is None or kind.from_uri is None:
        raise ValueError(f"unknown scheme {scheme + '://'!r}; expected {uri_forms(registry)}")
    parts = split_uri(uri, kind.uri_options)
    settings = kind.from_uri(parts)
    return _validated(uri, kind, settings)


def split_uri(uri: str, allowed: Iterable[str]) -> TargetURI:
    """The parts of ``uri``; ValueError for a malformed query, an option given twice or
    not in ``allowed`` (with a did-you-mean), or a ``#fragment``."""
    try:
        parts = urlsplit(uri)
        query = parse_qsl(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    except ValueError as exc:
        raise ValueError(f"{uri!r} does not parse: {exc}") from exc
    if parts.fragment:
        raise ValueError(f"unexpected #{parts.fragment} in {uri!r}")
    keys = [k for k, _ in query]
    twice = sorted({k for k in keys if keys.count(k) > 1})
    if twice:
        raise ValueError(f"?{twice[0]}= given twice in {uri!r}")
    options = dict(query)
    _known_options(uri, options, allowed)
    return TargetURI(uri, parts.scheme, parts.netloc, parts.path, options)


def _known_options(uri: str, options: Mapping[str, str], allowed: Iterable[str]) -> None:
    allowed = sorted(allowed)
    for key in options:
        if key not in allowed:
            hint = difflib.get_close_matches(key, allowed, n=1)
            raise ValueError(f"unknown option ?{key}= in {uri!r}"
                             + (f" (did you mean {hint[0]!r}?)" if hint else "")
                             + f"; expected: {', '.join(allowed)}")


def host_port(uri: str, hostport: str, form: str) -> tuple[str, int | None]:
    """``HOST``, ``HOST:PORT`` or ``[IPv6]:PORT`` of a URI's netloc; ``form`` is the URI
    as it should read, for the message when the host is missing."""
    host, port_text = _split_host(uri, hostport)
    if not host:
        raise ValueError(f"no host in {uri!r}; expected {form}")
    if not _HOST_RE.match(host):
        raise ValueError(f"{host!r} is not a host name or address")
    if not port_text:
        return host, None
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise ValueError(f"port {port_text!r} is not a number from 1 to 65535")
    return host, int(port_text)


def _split_host(uri: str, hostport: str) -> tuple[str, str]:
    if not hostport.startswith("["):
        host, _, port_text = hostport.partition(":")
        return host, port_text
    host, close, rest = hostport[1:].partition("]")  # [IPv6]:port
    if not close or (rest and not rest.startswith(":")):
        raise ValueError(f"unclosed [ in {uri!r}")
    return host, rest[1:] if rest else ""


def is_host_name(text: str) -> bool:
    """Whether ``text`` can be a host name or address (a group member, a URI's host)."""
    return bool(_HOST_RE.match(text))


def _validated(uri: str, kind: ConnectionKind, settings: dict[str, Any]) -> Target:
    from runbook.models import Target

    try:
        if kind.settings is not None:
            typed = kind.settings.model_validate(settings)
            settings = typed.model_dump(exclude_unset=True, exclude_none=True, by_alias=True)
        return Target.model_validate({"connection": kind.name, **settings})
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in err["loc"])
        message = str(err["msg"]).removeprefix("Value error, ")
        raise ValueError(f"{where} in {uri!r}: {message}") from exc
