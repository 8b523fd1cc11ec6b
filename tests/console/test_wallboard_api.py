"""The wallboard's document and its stream under roles and tenants (HTTP, no browser)."""

from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from opendialer.accounts.service import NewTenant
from opendialer.db import SessionMaker
from opendialer.models import UserRole
from tests.console.browser import form_login, make_agent
from tests.console.test_router import bearer
from tests.reports.history import seed_day


@pytest.fixture
def web(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url="https://testserver", raise_server_exceptions=False) as client:
        yield client


def test_an_agent_may_not_open_the_wallboard_and_its_stream_needs_a_login(
    web: TestClient, sessions: SessionMaker, tenant: NewTenant
) -> None:
    make_agent(sessions, tenant.tenant.id, "ann")
    assert web.get("/console/api/wallboard/events").status_code == 401
    assert web.get("/console/wallboard", follow_redirects=False).headers["location"] == (
        "/console/login"
    )
    form_login(web, "ann")
    assert web.get("/console/wallboard").status_code == 403
    assert web.get("/console/api/wallboard/events").status_code == 403
    assert web.get("/console/api/wallboard").status_code == 403


def test_the_document_shows_the_tenants_campaigns_and_agents_only(
    web: TestClient, sessions: SessionMaker, tenant: NewTenant, other_tenant: NewTenant
) -> None:
    seed_day(sessions, tenant.tenant.id, datetime.now(ZoneInfo("Europe/Berlin")))  # its today
    make_agent(sessions, tenant.tenant.id, "sue", UserRole.SUPERVISOR)
    make_agent(sessions, other_tenant.tenant.id, "olga", UserRole.SUPERVISOR)
    board = web.get("/console/api/wallboard", headers=bearer(web, "sue")).json()
    assert [c["name"] for c in board["campaigns"]] == ["Autumn", "Spring"]
    assert [a["username"] for a in board["agents"]] == ["anna", "ben", "cleo"]
    assert {a["state"] for a in board["agents"]} == {"logged_out"}
    assert all(a["calls_today"] > 0 for a in board["agents"])
    assert sum(q["attempts"] for q in board["quarters"]) == sum(
        c["attempts_today"] for c in board["campaigns"]
    )
    theirs = web.get("/console/api/wallboard", headers=bearer(web, "olga")).json()
    assert theirs["campaigns"] == [] and theirs["agents"] == []


def test_pages_link_to_each_other(
    web: TestClient, sessions: SessionMaker, tenant: NewTenant
) -> None:
    make_agent(sessions, tenant.tenant.id, "sue", UserRole.SUPERVISOR)
    form_login(web, "sue")
    page = web.get("/console/wallboard")
    assert page.status_code == 200
    for target in ("/console/team", "/console/reports/agents", "/console/reports/compliance"):
        assert f'href="{target}"' in page.text
