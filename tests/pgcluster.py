"""A real PostgreSQL for the state-backend tests: one throwaway cluster per session.

Starting it is benchmarks/_pgcluster.py's job (initdb/pg_ctl as the ``postgres``
user or ``nobody`` when we are root, a free loopback port, trust auth, a
``runbook`` role and database). Each test gets a database of its own
(``pg_url``), so tests never see each other's runs, locks or audit rows.
conftest.py loads this module with ``pytest_plugins``.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from benchmarks._pgcluster import Cluster, PGError, fresh_database, running_cluster

_names = itertools.count(1)


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    try:
        with running_cluster() as cluster:
            yield cluster
    except PGError as exc:  # never skipped: CI installs postgresql
        pytest.fail(str(exc))


@pytest.fixture
def pg_url(pg_cluster: Cluster) -> str:
    """A fresh, empty database of the cluster (the password is part of the URL, as a
    team's would be, so the tests can check that it is never shown)."""
    url = fresh_database(pg_cluster, f"t{next(_names)}")
    return url.replace("runbook@", "runbook:pw-s3cret@")
