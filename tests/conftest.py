"""Fixtures: every database test runs on SQLite and again on a throw-away PostgreSQL database.

Set OPENDIALER_TEST_PG_URL to point at another PostgreSQL server (default: the local one,
user postgres, trust auth). The schema is built with the real Alembic migrations.
"""

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, make_url, text
from sqlalchemy.orm import Session

from opendialer import migrate
from opendialer.accounts.service import NewTenant, create_tenant
from opendialer.app import create_app
from opendialer.config import Settings
from opendialer.db import (
    SessionMaker,
    create_db_engine,
    create_sessionmaker,
    is_sqlite,
    unit_of_work,
)
from opendialer.models import Base
from opendialer.web.state import state_of

PG_ADMIN_URL = os.environ.get(
    "OPENDIALER_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def _pg_admin_dsn() -> str:
    return make_url(PG_ADMIN_URL).set(drivername="postgresql").render_as_string(False)


@contextmanager
def empty_database(kind: str, folder: Path) -> Iterator[str]:
    """The URL of a new empty database of ``kind`` (a file in ``folder``, or a throw-away
    PostgreSQL database dropped afterwards)."""
    if kind == "sqlite":
        yield f"sqlite:///{folder / 'test.db'}"
        return
    name = f"opendialer_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_pg_admin_dsn(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(PG_ADMIN_URL).set(database=name).render_as_string(False)
    finally:
        with psycopg.connect(_pg_admin_dsn(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    with empty_database(request.param, tmp_path_factory.mktemp("db")) as url:
        migrate.upgrade(url)
        yield url


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        default_region="DE",
        default_timezone="Europe/Berlin",
        engine_enabled=False,
        housekeeping_enabled=False,  # tests/test_housekeeping.py runs it on purpose
    )


@pytest.fixture(scope="session")
def app(settings: Settings) -> Iterator[FastAPI]:
    application = create_app(settings)
    yield application
    state_of(application).db_engine.dispose()


@pytest.fixture(scope="session")
def db_engine(app: FastAPI) -> Engine:
    engine: Engine = state_of(app).db_engine
    return engine


@pytest.fixture(scope="session")
def sessions(database_url: str) -> Iterator[SessionMaker]:
    """For arranging and checking data, from async test code too: the app's own engine refuses
    connections on an event loop (``forbid_on_loop``). Same database, same SQLite writer gate."""
    engine = create_db_engine(database_url, ping_after_idle=0.0)  # some tests kill backends
    yield create_sessionmaker(engine)
    engine.dispose()


def _empty_all_tables(engine: Engine) -> None:
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                conn.execute(text(f"DELETE FROM {table}"))


@pytest.fixture(autouse=True)
def _clean_database(request: pytest.FixtureRequest) -> Iterator[None]:
    uses_db = "database_url" in request.fixturenames
    engine = request.getfixturevalue("db_engine") if uses_db else None
    yield
    if engine is not None:
        _empty_all_tables(engine)


@pytest.fixture(autouse=True)
def _forget_failed_logins(request: pytest.FixtureRequest) -> Iterator[None]:
    """The app lives for the whole session; each test starts with no failed attempts counted
    and no live-view counts of an earlier test's campaign (ids restart with the tables)."""
    yield
    if "app" in request.fixturenames:
        state = state_of(request.getfixturevalue("app"))
        state.auth_guard.reset()
        state.recent_counts.forget()


@pytest.fixture
def session(sessions: SessionMaker) -> Iterator[Session]:
    """A session for arranging and checking data directly; commits at the end of the test."""
    with unit_of_work(sessions) as s:
        yield s


def on_sqlite(sessions: SessionMaker) -> bool:
    """Whether the test's database (SQLite or PostgreSQL, by the fixture's parameter) is SQLite."""
    return is_sqlite(sessions.kw["bind"].url.drivername)


def make_tenant(sessions: SessionMaker, name: str, region: str = "DE") -> NewTenant:
    with unit_of_work(sessions) as s:
        return create_tenant(s, name, default_region=region, timezone="Europe/Berlin")


@pytest.fixture
def tenant(sessions: SessionMaker) -> NewTenant:
    return make_tenant(sessions, "Acme")


@pytest.fixture
def other_tenant(sessions: SessionMaker) -> NewTenant:
    return make_tenant(sessions, "Other Corp")


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def api(app: FastAPI, tenant: NewTenant) -> Iterator[TestClient]:
    """A client authenticated as ``tenant``."""
    headers = {"Authorization": f"Bearer {tenant.api_key}"}
    with TestClient(app, headers=headers, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def other_api(app: FastAPI, other_tenant: NewTenant) -> Iterator[TestClient]:
    headers = {"Authorization": f"Bearer {other_tenant.api_key}"}
    with TestClient(app, headers=headers, raise_server_exceptions=False) as test_client:
        yield test_client
