"""The error handler: a lost database connection is a retryable 503, not a 500."""

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import make_url

from opendialer.db import is_sqlite
from tests.conftest import _pg_admin_dsn


def _terminate_connections(admin: psycopg.Connection, database_url: str) -> int:
    """End every server process serving the test database, as a server restart would."""
    rows = admin.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
        " WHERE datname = %s AND pid <> pg_backend_pid()",
        (make_url(database_url).database,),
    ).fetchall()
    return len(rows)


def test_a_lost_database_connection_is_a_503_and_the_next_request_works(
    api: TestClient, database_url: str
) -> None:
    if is_sqlite(database_url):
        pytest.skip("SQLite has no server connections to lose")
    # The admin connection is opened first: the pooled connection must still count as just
    # used (not pinged) when the next request takes it.
    with psycopg.connect(_pg_admin_dsn(), autocommit=True) as admin:
        assert api.get("/api/v1/campaigns").status_code == 200
        assert _terminate_connections(admin, database_url) >= 1
        lost = api.get("/api/v1/campaigns")
    assert lost.status_code == 503
    assert lost.json()["error"]["code"] == "database_unavailable"
    assert lost.headers["Retry-After"] == "1"
    assert api.get("/api/v1/campaigns").status_code == 200
