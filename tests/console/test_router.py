"""The console's calls under roles and tenants (issue 19, test 3, HTTP part): an agent gets
403 on supervisor pages and calls, a supervisor is not an agent, another tenant sees nothing."""

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from opendialer.accounts.service import NewTenant
from opendialer.db import SessionMaker
from opendialer.models import UserRole
from tests.console.browser import PASSWORD, form_login, make_agent


@pytest.fixture
def web(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url="https://testserver", raise_server_exceptions=False) as client:
        yield client


def bearer(web: TestClient, username: str) -> dict[str, str]:
    answer = web.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def test_agent_cannot_open_supervisor_pages_or_calls(
    web: TestClient, sessions: SessionMaker, tenant: NewTenant
) -> None:
    make_agent(sessions, tenant.tenant.id, "ann")
    other = make_agent(sessions, tenant.tenant.id, "bob")
    form_login(web, "ann")
    team = web.get("/console/team")
    assert team.status_code == 403
    assert team.json()["error"]["code"] == "forbidden"
    forced = web.post(
        f"/api/v1/agents/{other}:logout", json={"force": True}, headers=bearer(web, "ann")
    )
    assert forced.status_code == 403


@pytest.mark.parametrize("role", [UserRole.SUPERVISOR, UserRole.ADMIN])
def test_the_agent_console_is_for_agents(
    role: UserRole, web: TestClient, sessions: SessionMaker, tenant: NewTenant
) -> None:
    make_agent(sessions, tenant.tenant.id, "boss", role=role)
    headers = bearer(web, "boss")
    for method, path in (("GET", "/console/api/state"), ("POST", "/console/api/agent/ready")):
        answer = web.request(method, path, headers=headers)
        assert answer.status_code == 403, path
        assert answer.json()["error"]["code"] == "forbidden"


def test_an_api_key_is_not_an_agent(web: TestClient, tenant: NewTenant) -> None:
    answer = web.get("/console/api/state", headers={"Authorization": f"Bearer {tenant.api_key}"})
    assert answer.status_code == 403


def test_another_tenants_user_sees_nothing_of_this_one(
    web: TestClient, sessions: SessionMaker, tenant: NewTenant, other_tenant: NewTenant
) -> None:
    ours = make_agent(sessions, tenant.tenant.id, "ann")
    make_agent(sessions, other_tenant.tenant.id, "eve")
    make_agent(sessions, other_tenant.tenant.id, "eve.boss", role=UserRole.SUPERVISOR)
    eve = bearer(web, "eve")
    assert web.get(f"/api/v1/agents/{ours}/session", headers=eve).status_code == 404
    assert web.post(f"/api/v1/agents/{ours}:ready", headers=eve).status_code == 404
    state = web.get("/console/api/state", headers=eve).json()
    assert state["user"]["username"] == "eve" and state["campaigns"] == []
    form_login(web, "eve.boss")
    team = web.get("/console/team")
    assert team.status_code == 200
    assert "Eve" in team.text and "Ann" not in team.text


def test_unauthenticated_calls_are_401(web: TestClient) -> None:
    for method, path in (("GET", "/console/api/state"), ("POST", "/console/api/agent/ready")):
        answer = web.request(method, path)
        assert answer.status_code == 401
        assert answer.json()["error"]["code"] == "unauthorized"
    page = web.get("/console", follow_redirects=False)
    assert (page.status_code, page.headers["location"]) == (303, "/console/login")


def test_pause_reasons_are_the_tenants(
    web: TestClient, api: TestClient, sessions: SessionMaker, tenant: NewTenant
) -> None:
    make_agent(sessions, tenant.tenant.id, "ann")
    set_reasons = api.patch("/api/v1/tenant", json={"pause_reasons": ["coffee", "coaching"]})
    assert set_reasons.json()["pause_reasons"] == ["coffee", "coaching"]
    headers = bearer(web, "ann")
    assert web.get("/console/api/state", headers=headers).json()["pause_reasons"] == [
        "coffee",
        "coaching",
    ]
    web.post("/console/api/agent/login", headers=headers)
    refused = web.post("/console/api/agent/pause", json={"reason": "break"}, headers=headers)
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "unknown_pause_reason"
    paused = web.post("/console/api/agent/pause", json={"reason": "coffee"}, headers=headers)
    assert paused.json()["agent"]["pause_reason"] == "coffee"


def test_campaign_script_modules_and_wrap_up_time(api: TestClient) -> None:
    made = api.post("/api/v1/campaigns", json={"name": "S", "dial_mode": "preview"})
    url = f"/api/v1/campaigns/{made.json()['id']}"
    module = {"name": "CRM", "url": "https://crm.example/lead?id={external_id}", "open_in": "tab"}
    body = {"script": "Hello {first_name}", "modules": [module], "wrap_up_seconds": 30}
    changed = api.patch(url, json=body).json()
    assert {k: changed[k] for k in body} == body
    assert {k: api.get(url).json()[k] for k in body} == body
    for bad in (
        {"modules": [{"name": "x", "url": "javascript:alert(1)"}]},
        {"wrap_up_seconds": -1},
    ):
        refused = api.patch(url, json=bad)
        assert refused.status_code == 422
        assert refused.json()["error"]["code"] == "validation_error"
