"""RPM and Debian version comparison, as the package managers do it (not string order).

``rpm_compare`` is rpmvercmp over ``[epoch:]version[-release]`` (alphanumeric
segments, numbers compare as numbers and beat letters, ``~`` sorts before
anything, ``^`` before anything but the end: ``1.0^git1`` is newer than
``1.0`` and older than ``1.0.1``); ``deb_compare`` is dpkg's
``[epoch:]upstream[-revision]`` order (``~`` before everything, letters before
other characters). Both return -1, 0 or 1.
"""

from __future__ import annotations

import re

_SEGMENT = re.compile(r"([0-9]+|[A-Za-z]+|~|\^)")


def _cmp(a: int | str, b: int | str) -> int:
    return int(a > b) - int(a < b)  # type: ignore[operator]


def _segment(x: str, y: str) -> int:
    """Two differing segments: ``~`` sorts before anything, then ``^`` (which only beats
    the end of the string, see ``rpmvercmp``), and numbers beat letters."""
    for mark in ("~", "^"):
        if mark in (x, y):
            return -1 if x == mark else 1
    if x.isdigit() and y.isdigit():
        return _cmp(int(x), int(y))
    if x.isdigit() != y.isdigit():
        return 1 if x.isdigit() else -1
    return _cmp(x, y)


def rpmvercmp(a: str, b: str) -> int:
    """rpm's comparison of one version or release string."""
    if a == b:
        return 0
    sa, sb = _SEGMENT.findall(a), _SEGMENT.findall(b)
    for x, y in zip(sa, sb, strict=False):
        if x != y:
            return _segment(x, y)
    rest_a, rest_b = sa[len(sb):], sb[len(sa):]
    if rest_a:
        return -1 if rest_a[0] == "~" else 1
    if rest_b:
        return 1 if rest_b[0] == "~" else -1
    return 0


def _evr(text: str) -> tuple[int, str, str]:
    epoch, _, rest = text.rpartition(":") if ":" in text else ("0", "", text)
    version, _, release = rest.partition("-") if "-" in rest else (rest, "", "")
    return int(epoch or 0), version, release


def rpm_compare(a: str, b: str) -> int:
    """Compare two ``[epoch:]version[-release]`` strings as rpm does."""
    ea, va, ra = _evr(a)
    eb, vb, rb = _evr(b)
    return _cmp(ea, eb) or rpmvercmp(va, vb) or (rpmvercmp(ra, rb) if ra and rb else 0)


def _order(c: str) -> int:
    if c == "~":
        return -1
    if c.isalpha():
        return ord(c)
    return ord(c) + 256


def _deb_part(a: str, b: str) -> int:
    while a or b:
        na = re.match(r"[^0-9]*", a)[0]  # type: ignore[index]
        nb = re.match(r"[^0-9]*", b)[0]  # type: ignore[index]
        for i in range(max(len(na), len(nb))):
            ca = _order(na[i]) if i < len(na) else 0
            cb = _order(nb[i]) if i < len(nb) else 0
            if ca != cb:
                return _cmp(ca, cb)
        a, b = a[len(na):], b[len(nb):]
        da = re.match(r"[0-9]*", a)[0]  # type: ignore[index]
        db = re.match(r"[0-9]*", b)[0]  # type: ignore[index]
        if int(da or 0) != int(db or 0):
            return _cmp(int(da or 0), int(db or 0))
        a, b = a[len(da):], b[len(db):]
    return 0


def deb_compare(a: str, b: str) -> int:
    """Compare two Debian versions as dpkg does."""
    ea, _, ua = a.partition(":") if ":" in a else ("0", "", a)
    eb, _, ub = b.partition(":") if ":" in b else ("0", "", b)
    va, _, ra = ua.rpartition("-") if "-" in ua else (ua, "", "")
    vb, _, rb = ub.rpartition("-") if "-" in ub else (ub, "", "")
    return _cmp(int(ea), int(eb)) or _deb_part(va, vb) or _deb_part(ra, rb)
