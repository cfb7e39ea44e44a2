"""Package version order, checked against the package managers themselves.

Debian: ``deb_compare`` against the real ``dpkg --compare-versions`` of this
machine on generated versions (epochs, ``~``, ``+``, letters, revisions).
RPM: ``rpmvercmp`` against the test vectors of rpm's own test suite
(tests/rpmvercmp.at), and ``rpm_compare`` (epoch:version-release) on
hand-made cases; both checked for antisymmetry on generated versions.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from runbook_host.versions import deb_compare, rpm_compare, rpmvercmp

DPKG = shutil.which("dpkg")


def dpkg_compare(a: str, b: str) -> int:
    for op, value in (("lt", -1), ("eq", 0)):
        if subprocess.run(["dpkg", "--compare-versions", a, op, b],
                          capture_output=True, check=False).returncode == 0:
            return value
    return 1


_upstream = st.tuples(st.sampled_from("0123456789"),
                      st.text(alphabet="0123456789ab.+~", max_size=7)).map("".join)
_revision = st.text(alphabet="0123456789ab+.~", min_size=1, max_size=5)
debian_versions = st.builds(
    lambda epoch, up, rev: (f"{epoch}:" if epoch is not None else "") + up
    + (f"-{rev}" if rev else ""),
    st.one_of(st.none(), st.integers(0, 2)), _upstream, st.one_of(st.none(), _revision))


@pytest.mark.skipif(DPKG is None, reason="needs dpkg (Debian)")
@settings(max_examples=250, deadline=None)
@given(debian_versions, debian_versions)
def test_debian_order_is_dpkgs(a: str, b: str) -> None:
    assert deb_compare(a, b) == dpkg_compare(a, b)


@pytest.mark.skipif(DPKG is None, reason="needs dpkg (Debian)")
@pytest.mark.parametrize(("a", "b"), [
    ("1.0~rc1-1", "1.0-1"), ("1:0.9", "2.0"), ("2.4.41-4ubuntu3.14", "2.4.41-4ubuntu3.9"),
    ("3.0.11-1~deb12u1", "3.0.11-1"), ("5.0.7-1", "1:5.0.5-1"), ("1.0", "1.0-0"),
    ("1.0a", "1.0+"), ("1.0~~", "1.0~"), ("1.0~", "1.0"), ("0:1.0", "1.0"), ("1.01", "1.1"),
    ("2.36-9+deb12u3", "2.36-9+deb12u10"), ("1.2.3-1", "1.2.3-1.1"), ("7.0", "7.0.a")])
def test_debian_edge_cases_are_dpkgs(a: str, b: str) -> None:
    want = dpkg_compare(a, b)
    assert deb_compare(a, b) == want and deb_compare(b, a) == -want


RPMVERCMP_AT = """
1.0 1.0 0|1.0 2.0 -1|2.0 1.0 1|2.0.1 2.0.1 0|2.0 2.0.1 -1|2.0.1 2.0 1|2.0.1a 2.0.1a 0
2.0.1a 2.0.1 1|2.0.1 2.0.1a -1|5.5p1 5.5p1 0|5.5p1 5.5p2 -1|5.5p2 5.5p1 1|5.5p10 5.5p10 0
5.5p1 5.5p10 -1|5.5p10 5.5p1 1|10xyz 10.1xyz -1|10.1xyz 10xyz 1|xyz10 xyz10 0
xyz10 xyz10.1 -1|xyz10.1 xyz10 1|xyz.4 xyz.4 0|xyz.4 8 -1|8 xyz.4 1|xyz.4 2 -1|2 xyz.4 1
5.5p2 5.6p1 -1|5.6p1 5.5p2 1|5.6p1 6.5p1 -1|6.5p1 5.6p1 1|6.0.rc1 6.0 1|6.0 6.0.rc1 -1
10b2 10a1 1|10a2 10b2 -1|1.0aa 1.0aa 0|1.0a 1.0aa -1|1.0aa 1.0a 1|10.0001 10.0001 0
10.0001 10.1 0|10.1 10.0001 0|10.0001 10.0039 -1|10.0039 10.0001 1|4.999.9 5.0 -1
5.0 4.999.9 1|20101121 20101121 0|20101121 20101122 -1|20101122 20101121 1|2_0 2_0 0
2.0 2_0 0|2_0 2.0 0|a a 0|a+ a+ 0|a+ a_ 0|a_ a+ 0|+a +a 0|+a _a 0|_a +a 0|+_ +_ 0|_+ +_ 0
_+ _ 0|+ _ 0|_ + 0|1.0~rc1 1.0~rc1 0|1.0~rc1 1.0 -1|1.0 1.0~rc1 1|1.0~rc1 1.0~rc2 -1
1.0~rc2 1.0~rc1 1|1.0~rc1~git123 1.0~rc1~git123 0|1.0~rc1~git123 1.0~rc1 -1
1.0~rc1 1.0~rc1~git123 1|1.0^ 1.0^ 0|1.0^ 1.0 1|1.0 1.0^ -1|1.0^git1 1.0^git1 0
1.0^git1 1.0 1|1.0 1.0^git1 -1|1.0^git1 1.0^git2 -1|1.0^git2 1.0^git1 1|1.0^git1 1.01 -1
1.01 1.0^git1 1|1.0^20160101 1.0^20160101 0|1.0^20160101 1.0.1 -1|1.0.1 1.0^20160101 1
1.0^20160101^git1 1.0^20160101^git1 0|1.0^20160102 1.0^20160101^git1 1
1.0^20160101^git1 1.0^20160102 -1|1.0~rc1^git1 1.0~rc1^git1 0|1.0~rc1^git1 1.0~rc1 1
1.0~rc1 1.0~rc1^git1 -1|1.0^git1~pre 1.0^git1~pre 0|1.0^git1 1.0^git1~pre 1
1.0^git1~pre 1.0^git1 -1|1b.fc17 1b.fc17 0|1b.fc17 1.fc17 -1|1.fc17 1b.fc17 1
1g.fc17 1g.fc17 0|1g.fc17 1.fc17 1|1.fc17 1g.fc17 -1
"""
"""rpm's tests/rpmvercmp.at, one ``RPMVERCMP(a, b, result)`` per ``a b result``."""

VECTORS = [(a, b, int(r)) for row in RPMVERCMP_AT.replace("\n", "|").split("|") if row
           for a, b, r in [row.split()]]


@pytest.mark.parametrize(("a", "b", "want"), VECTORS)
def test_rpmvercmp_matches_rpms_own_test_vectors(a: str, b: str, want: int) -> None:
    assert rpmvercmp(a, b) == want


@pytest.mark.parametrize(("a", "b", "want"), [
    ("1:1.0-1", "2.0-1", 1), ("0:2.4.6-97.el7", "2.4.6-97.el7", 0),
    ("2.4.6-97.el7.centos", "2.4.6-99.el7.centos.1", -1),
    ("1:1.0.2k-19.el7", "1:1.0.2k-25.el7_9", -1), ("1.0-1", "1.0", 0),
    ("3.0.7-25.el9_3", "3.0.7-24.el9", 1), ("1.0~rc1-1", "1.0-1", -1)])
def test_rpm_epoch_version_release(a: str, b: str, want: int) -> None:
    assert rpm_compare(a, b) == want and rpm_compare(b, a) == -want


rpm_versions = st.text(alphabet="0123456789ab.~^_", max_size=8)


@settings(max_examples=300)
@given(rpm_versions, rpm_versions, rpm_versions)
def test_rpmvercmp_is_an_order(a: str, b: str, c: str) -> None:
    assert rpmvercmp(a, a) == 0 and rpmvercmp(a, b) == -rpmvercmp(b, a)
    if rpmvercmp(a, b) <= 0 and rpmvercmp(b, c) <= 0:
        assert rpmvercmp(a, c) <= 0
