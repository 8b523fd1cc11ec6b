"""Every native route that takes an id, called with another tenant's credentials: 404, and
nothing of the owner's changes. Walks the OpenAPI document, so a new route is covered too."""

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from opendialer.errors import Forbidden
from opendialer.models import UserRole
from opendialer.scoping import Scope, require_role

# Links signed for anyone holding them; they take no credentials (tests/recordings, exports).
NO_CREDENTIALS = {"/api/v1/recordings/{recording_id}/audio", "/api/v1/exports/{file_id}/file"}

# Bodies that pass validation, so the request reaches the ownership check.
BODIES: dict[tuple[str, str], Any] = {
    ("patch", "/api/v1/campaigns/{campaign_id}"): {"description": "x"},
    ("post", "/api/v1/campaigns/{campaign_id}/what-if"): {"hours": 0.01},
    ("post", "/api/v1/campaigns/{campaign_id}/result-codes"): {
        "code": "Z",
        "text_en": "Z",
        "action": "done",
    },
    ("patch", "/api/v1/campaigns/{campaign_id}/result-codes/{code_id}"): {"text_en": "x"},
    ("put", "/api/v1/campaigns/{campaign_id}/retry-rules"): {
        "outcome": "busy",
        "retry_delay_seconds": 60,
    },
    ("put", "/api/v1/campaigns/{campaign_id}/form-fields"): {"name": "f2"},
    ("post", "/api/v1/campaigns/{campaign_id}/members"): {"user_id": 0},
    ("post", "/api/v1/campaigns/{campaign_id}/lists"): {"name": "L2"},
    ("patch", "/api/v1/lists/{list_id}"): {"name": "L3"},
    ("post", "/api/v1/campaigns/{campaign_id}/contacts"): {"phones": ["030 7654321"]},
    ("patch", "/api/v1/contacts/{contact_id}"): {"first_name": "x"},
    ("patch", "/api/v1/users/{user_id}"): {"display_name": "x"},
    ("patch", "/api/v1/groups/{group_id}"): {"description": "x"},
    ("post", "/api/v1/groups/{group_id}/members"): {"user_id": 0},
    ("post", "/api/v1/agents/{user_id}:pause"): {"reason": "x"},
    ("post", "/api/v1/agents/{user_id}:result"): {"call_attempt_id": 1, "result_code_id": 1},
    ("post", "/api/v1/agents/{user_id}:callback"): {
        "contact_id": 1,
        "at": "2030-01-01T10:00:00+00:00",
    },
    ("patch", "/api/v1/crm/endpoints/{endpoint_id}"): {"name": "x"},
    ("post", "/api/v1/acd/events/{event_id}:complete"): {},
    ("post", "/api/v1/contacts/{contact_id}/consents"): {
        "source": "walk",
        "given_at": "2026-01-01T10:00:00+00:00",
    },
    ("post", "/api/v1/campaigns/{campaign_id}/caller-ids"): {"number": "030 6666666"},
    # The console's calls act on the signed-in agent; ids in them are the owner's.
    ("post", "/console/api/agent/pause"): {"reason": "x"},
    ("post", "/console/api/result"): {"result_code_id": 0},
    ("post", "/console/api/form"): {"form_data": {"f1": "x"}, "notes": "x"},
    ("post", "/console/api/callback"): {"date": "2030-01-01", "time": "10:00"},
}


def _owner_objects(api: TestClient) -> dict[str, Any]:
    """One of each kind of object, owned by the tenant behind ``api``."""

    def made(response: Any) -> Any:
        assert response.status_code in (200, 201), response.text
        return response.json()

    campaign = made(api.post("/api/v1/campaigns", json={"name": "C", "dial_mode": "preview"}))
    base = f"/api/v1/campaigns/{campaign['id']}"
    agent = made(api.post("/api/v1/users", json={"username": "agent1", "role": "agent"}))
    group = made(api.post("/api/v1/groups", json={"name": "G"}))
    made(api.post(f"/api/v1/groups/{group['id']}/members", json={"user_id": agent["id"]}))
    made(api.post(f"{base}/members", json={"user_id": agent["id"]}))
    made(api.put(f"{base}/form-fields", json={"name": "f1"}))
    made(api.put(f"{base}/retry-rules", json={"outcome": "busy", "retry_delay_seconds": 60}))
    made(api.post("/api/v1/dnc", json={"numbers": ["030 1111111"]}))
    endpoint_body = {"name": "w", "kind": "webhook", "url": "https://crm.example/hook"}
    made(
        api.post(
            f"{base}/contacts:import",
            params={"progress": "walk-import"},
            content=b"phone1\n030 2222222\n",
            headers={"content-type": "text/csv"},
        )
    )
    return {
        "campaign_id": campaign["id"],
        "code_id": made(
            api.post(f"{base}/result-codes", json={"code": "A", "text_en": "A", "action": "done"})
        )["id"],
        "rule_id": made(api.get(f"{base}/retry-rules"))[0]["id"],
        "name": "f1",
        "user_id": agent["id"],
        "group_id": group["id"],
        "list_id": made(api.post(f"{base}/lists", json={"name": "L"}))["id"],
        "contact_id": made(api.post(f"{base}/contacts", json={"phones": ["030 1234567"]}))["id"],
        "entry_id": made(api.get("/api/v1/dnc"))["items"][0]["id"],
        "endpoint_id": made(api.post("/api/v1/crm/endpoints", json=endpoint_body))["id"],
        "key_id": made(api.get("/api/v1/api-keys"))[0]["id"],
        "caller_id_id": made(api.post(f"{base}/caller-ids", json={"number": "030 5555555"}))["id"],
        "progress": "walk-import",  # an import followed by its key (GET /imports/{progress})
        # No object of these kinds is made here; their own tests cover the owner's side.
        "event_id": 1,
        "recording_id": 1,
        "file_id": "0" * 32,
    }


def _snapshot(api: TestClient, ids: dict[str, Any]) -> list[Any]:
    paths = [
        f"/api/v1/campaigns/{ids['campaign_id']}",
        f"/api/v1/campaigns/{ids['campaign_id']}/result-codes",
        f"/api/v1/campaigns/{ids['campaign_id']}/retry-rules",
        f"/api/v1/campaigns/{ids['campaign_id']}/form-fields",
        f"/api/v1/campaigns/{ids['campaign_id']}/members",
        f"/api/v1/lists/{ids['list_id']}",
        f"/api/v1/contacts/{ids['contact_id']}",
        f"/api/v1/users/{ids['user_id']}",
        f"/api/v1/agents/{ids['user_id']}/session",
        f"/api/v1/groups/{ids['group_id']}/members",
        f"/api/v1/crm/endpoints/{ids['endpoint_id']}",
        "/api/v1/dnc",
        "/api/v1/api-keys",
    ]
    return [api.get(path).json() for path in paths]


def _with_owner_ids(body: Any, ids: dict[str, Any]) -> Any:
    """Ids inside bodies point at the owner's objects too."""
    if not isinstance(body, dict):
        return body
    owned = {"user_id": "user_id", "contact_id": "contact_id", "result_code_id": "code_id"}
    return {k: ids[owned[k]] if k in owned else v for k, v in body.items()}


def _routes(app: FastAPI) -> list[tuple[str, str]]:
    return [
        (method, path)
        for path, operations in app.openapi()["paths"].items()
        if path.startswith("/api/v1/") and "{" in path and path not in NO_CREDENTIALS
        for method in operations
    ]


def test_other_tenants_ids_are_404_on_every_native_route(
    app: FastAPI, api: TestClient, other_api: TestClient
) -> None:
    ids = _owner_objects(api)
    before = _snapshot(api, ids)
    answers = {}
    for method, path in _routes(app):
        body = _with_owner_ids(BODIES.get((method, path)), ids)
        url = path.format(**ids)
        response = other_api.request(method.upper(), url, json=body)
        answers[f"{method.upper()} {path}"] = response.status_code
    wrong = {route: status for route, status in answers.items() if status != 404}
    assert not wrong, wrong
    assert len(answers) >= 50
    assert _snapshot(api, ids) == before


@pytest.mark.parametrize("action", ["dial-preview", "skip-preview", "hangup"])
def test_engine_actions_check_the_agent_first(
    api: TestClient, other_api: TestClient, action: str
) -> None:
    agent = api.post("/api/v1/users", json={"username": "a", "role": "agent"}).json()
    response = other_api.post(f"/api/v1/agents/{agent['id']}:{action}")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    # The owner gets past the check (this test server runs no engine: 409, not 404).
    assert api.post(f"/api/v1/agents/{agent['id']}:{action}").status_code == 409


@pytest.mark.parametrize(
    ("acting", "needed", "allowed"),
    [
        (UserRole.AGENT, UserRole.AGENT, True),
        (UserRole.AGENT, UserRole.SUPERVISOR, False),
        (UserRole.SUPERVISOR, UserRole.AGENT, True),
        (UserRole.SUPERVISOR, UserRole.ADMIN, False),
        (UserRole.ADMIN, UserRole.SUPERVISOR, True),
    ],
)
def test_roles_nest_and_a_missing_role_is_forbidden(
    acting: UserRole, needed: UserRole, allowed: bool
) -> None:
    scope = Scope(tenant_id=1, role=acting)
    assert scope.may_act_as(needed) is allowed
    if allowed:
        require_role(scope, needed)
    else:
        with pytest.raises(Forbidden) as refused:
            require_role(scope, needed)
        assert refused.value.status_code == 403
