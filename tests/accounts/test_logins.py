"""Logins: the token endpoint, the login page's session cookie (HttpOnly, Secure, SameSite,
CSRF on every change), logout, inactivity expiry and the failed-attempt guard. Real HTTP
(TestClient over https://, so the Secure cookie is sent) on both databases."""

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from opendialer.accounts.logins import prune_logins
from opendialer.accounts.service import NewTenant
from opendialer.app import create_app
from opendialer.config import Settings
from opendialer.db import SessionMaker, unit_of_work
from opendialer.models import AuthFailure, LoginSession, UserRole
from opendialer.models.base import utcnow
from opendialer.web.state import state_of
from tests.console.browser import PASSWORD, form_login, make_agent

PER_CREDENTIAL = 3


@pytest.fixture
def login_app(settings: Settings, tmp_path: Path) -> Iterator[FastAPI]:
    app = create_app(
        settings.model_copy(
            update={
                "auth_max_failures_per_credential": PER_CREDENTIAL,
                "login_idle_minutes": 30,
                "exports_dir": tmp_path / "exports",
                "recordings_dir": tmp_path / "recordings",
            }
        )
    )
    yield app
    state_of(app).db_engine.dispose()


@pytest.fixture
def web(login_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(
        login_app, base_url="https://testserver", raise_server_exceptions=False
    ) as client:
        yield client


def token_for(web: TestClient, username: str, password: str = PASSWORD) -> str:
    answer = web.post("/api/v1/auth/token", json={"username": username, "password": password})
    assert answer.status_code == 200, answer.text
    token: str = answer.json()["access_token"]
    return token


def page_login(web: TestClient, username: str) -> str:
    """Sign in through the login page; the console's CSRF token."""
    answer = form_login(web, username)
    assert answer.status_code == 303, answer.text
    console = web.get("/console")
    meta = re.search(r'name="csrf-token" content="([^"]+)"', console.text)
    assert meta is not None
    return meta.group(1)


def test_token_acts_as_the_user_with_their_role(
    web: TestClient, sessions: SessionMaker, tenant: NewTenant
) -> None:
    agent = make_agent(sessions, tenant.tenant.id, "tina")
    answer = web.post("/api/v1/auth/token", json={"username": "tina", "password": PASSWORD})
    body = answer.json()
    assert body["user"] == {"id": agent, "tenant_id": tenant.tenant.id, "role": "agent"}
    assert body["expires_after_idle_seconds"] == 30 * 60
    headers = {"Authorization": f"Bearer {body['access_token']}"}
    state = web.get("/console/api/state", headers=headers)
    assert state.status_code == 200
    assert state.json()["user"]["id"] == agent
    with unit_of_work(sessions) as session:  # only the token's hash is stored
        stored = session.scalars(select(LoginSession.token_hash)).all()
        assert body["access_token"] not in stored and len(stored) == 1


def test_logout_ends_the_token(web: TestClient, sessions: SessionMaker, tenant: NewTenant) -> None:
    make_agent(sessions, tenant.tenant.id, "tina")
    headers = {"Authorization": f"Bearer {token_for(web, 'tina')}"}
    assert web.post("/api/v1/auth/logout", headers=headers).status_code == 204
    refused = web.get("/console/api/state", headers=headers)
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "unauthorized"


def test_api_key_is_not_a_login(web: TestClient, tenant: NewTenant) -> None:
    headers = {"Authorization": f"Bearer {tenant.api_key}"}
    answer = web.post("/api/v1/auth/logout", headers=headers)
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "not_a_login"


def test_session_cookie_is_httponly_secure_and_samesite(
    web: TestClient, sessions: SessionMaker, tenant: NewTenant
) -> None:
    make_agent(sessions, tenant.tenant.id, "tina")
    answer = form_login(web, "tina")
    assert answer.headers["location"] == "/console"
    cookie = next(c for c in answer.headers.get_list("set-cookie") if c.startswith("od_session="))
    flags = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "secure", "samesite=strict", "path=/"} <= flags


def test_login_form_without_its_csrf_token_is_refused(
    web: TestClient, sessions: SessionMaker, tenant: NewTenant
) -> None:
    make_agent(sessions, tenant.tenant.id, "tina")
    web.get("/console/login")
    answer = web.post(
        "/console/login",
        data={"username": "tina", "password": PASSWORD, "csrf_token": "forged"},
        follow_redirects=False,
    )
    assert answer.status_code == 403
    assert "od_session" not in web.cookies


def test_cookie_requests_that_change_things_need_the_csrf_token(
    web: TestClient, sessions: SessionMaker, tenant: NewTenant
) -> None:
    make_agent(sessions, tenant.tenant.id, "tina")
    csrf = page_login(web, "tina")
    refused = web.post("/console/api/agent/login")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "csrf_failed"
    wrong = web.post("/console/api/agent/login", headers={"X-CSRF-Token": "x" + csrf})
    assert wrong.status_code == 403
    assert web.get("/console/api/state").json()["agent"]["state"] == "logged_out"
    done = web.post("/console/api/agent/login", headers={"X-CSRF-Token": csrf})
    assert done.status_code == 200
    assert done.json()["agent"]["state"] == "paused"


def test_idle_login_expires(web: TestClient, sessions: SessionMaker, tenant: NewTenant) -> None:
    make_agent(sessions, tenant.tenant.id, "tina")
    csrf = page_login(web, "tina")
    assert web.get("/console").status_code == 200
    with unit_of_work(sessions) as session:
        session.execute(update(LoginSession).values(last_seen_at=utcnow() - timedelta(minutes=31)))
    page = web.get("/console", follow_redirects=False)
    assert (page.status_code, page.headers["location"]) == (303, "/console/login?expired=1")
    refused = web.post("/console/api/agent/login", headers={"X-CSRF-Token": csrf})
    assert refused.status_code == 401
    with unit_of_work(sessions) as session:  # housekeeping deletes expired logins only
        assert prune_logins(session, utcnow() - timedelta(minutes=30)) == 1
        assert prune_logins(session, utcnow() - timedelta(minutes=30)) == 0


def test_use_keeps_the_login_alive(
    web: TestClient, sessions: SessionMaker, tenant: NewTenant
) -> None:
    make_agent(sessions, tenant.tenant.id, "tina")
    csrf = page_login(web, "tina")
    with unit_of_work(sessions) as session:
        session.execute(update(LoginSession).values(last_seen_at=utcnow() - timedelta(minutes=29)))
    assert web.post("/console/api/agent/login", headers={"X-CSRF-Token": csrf}).status_code == 200
    with unit_of_work(sessions) as session:
        seen = session.scalars(select(LoginSession.last_seen_at)).one()
        assert utcnow() - seen < timedelta(minutes=1)


def test_page_logout_ends_the_session(
    web: TestClient, sessions: SessionMaker, tenant: NewTenant
) -> None:
    make_agent(sessions, tenant.tenant.id, "tina")
    csrf = page_login(web, "tina")
    forged = web.post("/console/logout", data={"csrf_token": "forged"}, follow_redirects=False)
    assert forged.status_code == 403
    answer = web.post("/console/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert answer.headers["location"] == "/console/login?signed_out=1"
    with unit_of_work(sessions) as session:
        assert session.scalars(select(LoginSession)).all() == []


def test_failed_logins_are_limited_and_audited(
    login_app: FastAPI, web: TestClient, sessions: SessionMaker, tenant: NewTenant
) -> None:
    make_agent(sessions, tenant.tenant.id, "tina")
    for _ in range(PER_CREDENTIAL):
        wrong = web.post("/api/v1/auth/token", json={"username": "tina", "password": "nope"})
        assert wrong.status_code == 401
    locked = web.post("/api/v1/auth/token", json={"username": "tina", "password": PASSWORD})
    assert locked.status_code == 429
    assert locked.json()["error"]["code"] == "too_many_attempts"
    page = form_login(web, "tina")
    assert page.status_code == 429 and "Too many failed attempts" in page.text
    state_of(login_app).auth_guard.written()
    with unit_of_work(sessions) as session:
        rows = session.scalars(select(AuthFailure)).all()
        assert [(r.face, r.credential) for r in rows] == [("login", "tina")] * PER_CREDENTIAL
        assert rows[-1].locked and "nope" not in {r.credential for r in rows}


def test_wrong_password_on_the_page_says_so(
    web: TestClient, sessions: SessionMaker, tenant: NewTenant
) -> None:
    make_agent(sessions, tenant.tenant.id, "tina")
    answer = form_login(web, "tina", "nope")
    assert answer.status_code == 401 and "Wrong user name or password" in answer.text
    assert "od_session" not in web.cookies


def test_supervisor_lands_on_the_team_page(
    web: TestClient, sessions: SessionMaker, tenant: NewTenant
) -> None:
    make_agent(sessions, tenant.tenant.id, "sam", role=UserRole.SUPERVISOR)
    answer = form_login(web, "sam")
    assert answer.headers["location"] == "/console/team"
    assert web.get("/console/team").status_code == 200
