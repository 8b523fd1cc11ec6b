"""/healthz and /readyz against real databases: an unmigrated one, a dropped one, a closed port."""

from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import make_url

from opendialer import migrate
from opendialer.app import create_app
from opendialer.config import Settings
from opendialer.web.state import state_of
from tests.conftest import _pg_admin_dsn, empty_database
from tests.observability.conftest import wait_for


def _app(url: str, **settings: Any) -> FastAPI:
    return create_app(Settings(database_url=url, housekeeping_enabled=False, **settings))


def test_healthz_says_alive(client: TestClient) -> None:
    answer = client.get("/healthz")
    assert answer.status_code == 200 and answer.json()["status"] == "ok"


def test_readyz_is_ready_on_a_migrated_database_without_engine(client: TestClient) -> None:
    answer = client.get("/readyz")
    assert answer.status_code == 200, answer.text
    assert answer.json()["checks"] == {
        "database": "ok",
        "schema": "ok",
        "engine": "disabled",
        "telephony": "disabled",
    }


def test_both_are_in_the_openapi(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert "/healthz" in paths and "/readyz" in paths
    assert "503" in paths["/readyz"]["get"]["responses"]


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_readyz_fails_until_the_database_is_migrated(kind: str, tmp_path: Path) -> None:
    with empty_database(kind, tmp_path) as url:
        app = _app(url, engine_enabled=False)
        with TestClient(app) as client:
            answer = client.get("/readyz")
            assert answer.status_code == 503
            body = answer.json()
            assert body["checks"]["schema"] == "failing" and body["checks"]["database"] == "ok"
            assert "opendialer db upgrade" in body["problems"][0]
            migrate.upgrade(url)
            assert client.get("/readyz").status_code == 200
        state_of(app).db_engine.dispose()


def test_readyz_fails_while_the_postgresql_database_is_gone_and_recovers(tmp_path: Path) -> None:
    with empty_database("postgresql", tmp_path) as url:
        migrate.upgrade(url)
        name = make_url(url).database
        app = _app(url, engine_enabled=False)
        with TestClient(app) as client:
            assert client.get("/readyz").status_code == 200
            with psycopg.connect(_pg_admin_dsn(), autocommit=True) as conn:
                conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            answer = client.get("/readyz")
            assert answer.status_code == 503
            assert answer.json()["checks"]["database"] == "failing"
            with psycopg.connect(_pg_admin_dsn(), autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{name}"')
            migrate.upgrade(url)
            assert client.get("/readyz").status_code == 200
        state_of(app).db_engine.dispose()


def test_readyz_fails_on_a_closed_port(unused_tcp_port: int) -> None:
    url = f"postgresql+psycopg://postgres@127.0.0.1:{unused_tcp_port}/nothing"
    app = _app(url, engine_enabled=False)
    with TestClient(app) as client:
        answer = client.get("/readyz")
    assert answer.status_code == 503
    assert answer.json()["checks"] == {
        "database": "failing",
        "schema": "failing",
        "engine": "disabled",
        "telephony": "disabled",
    }


def test_readyz_reports_the_engine_and_its_backend(database_url: str) -> None:
    app = _app(database_url, engine_enabled=True, telephony_backend="sim")
    with TestClient(app) as client:
        wait_for(lambda: client.get("/readyz").status_code == 200, "the engine to run")
        checks = client.get("/readyz").json()["checks"]
        assert checks["engine"] == "ok" and checks["telephony"] == "ok"
    assert state_of(app).engine_running is False  # stopped with the app
    state_of(app).db_engine.dispose()
