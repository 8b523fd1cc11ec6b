"""Native API: users with roles and agent fields, agent groups and membership, over HTTP."""

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from opendialer.models import AgentGroup, AgentGroupMember, User

SECRET = "s3cret-pass"


def _user(api: TestClient, username: str, **fields: object) -> dict[str, Any]:
    response = api.post("/api/v1/users", json={"username": username, **fields})
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()
    return data


def _group(api: TestClient, name: str, **fields: object) -> dict[str, Any]:
    response = api.post("/api/v1/groups", json={"name": name, **fields})
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()
    return data


def _count(session: Session, model: type[Any]) -> int:
    session.expire_all()
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_create_agent_with_all_fields(api: TestClient) -> None:
    user = _user(
        api,
        "anna",
        password=SECRET,
        display_name="Anna",
        email="anna@example.com",
        extension="201",
        sip_uri="sip:201@pbx.example.com",
        member_code="SIPSIP1",
    )
    assert {k: user[k] for k in ("username", "role", "extension", "member_code", "active")} == {
        "username": "anna",
        "role": "agent",
        "extension": "201",
        "member_code": "SIPSIP1",
        "active": True,
    }
    assert api.get(f"/api/v1/users/{user['id']}").json() == user
    supervisor = _user(api, "sue", role="supervisor", active=False)
    assert (supervisor["role"], supervisor["active"]) == ("supervisor", False)


def test_the_password_appears_in_no_response(api: TestClient) -> None:
    anna = _user(api, "anna", password=SECRET, extension="201")
    group = _group(api, "Sales")
    members = f"/api/v1/groups/{group['id']}/members"
    responses = [
        api.post("/api/v1/users", json={"username": "bob", "password": SECRET}),
        api.get(f"/api/v1/users/{anna['id']}"),
        api.get("/api/v1/users"),
        api.patch(f"/api/v1/users/{anna['id']}", json={"password": SECRET + "2"}),
        api.post(members, json={"user_id": anna["id"]}),
        api.get(members),
    ]
    assert [r.status_code for r in responses] == [201, 200, 200, 200, 201, 200]
    for response in responses:
        assert "password" not in response.text and "s3cret" not in response.text
        assert "scrypt" not in response.text


def test_list_users_with_filters_and_pages(api: TestClient) -> None:
    anna = _user(api, "anna", extension="201", member_code="m1")
    bob = _user(api, "bob", role="supervisor", active=False)

    def listed(**params: object) -> list[str]:
        response = api.get("/api/v1/users", params=params)
        assert response.status_code == 200, response.text
        return [u["username"] for u in response.json()["items"]]

    assert listed() == ["admin", "anna", "bob"]
    assert listed(role="agent") == ["anna"]
    assert listed(role="supervisor") == ["bob"]
    assert listed(active=False) == ["bob"]
    assert listed(extension="201") == ["anna"]
    assert listed(member_code="m1") == ["anna"]
    assert listed(member_code="m2") == []
    first = api.get("/api/v1/users", params={"limit": 2}).json()
    assert [u["id"] for u in first["items"]][1] == anna["id"]
    assert listed(limit=2, cursor=first["next_cursor"]) == ["bob"]
    assert bob["id"] > anna["id"]
    assert api.get("/api/v1/users", params={"role": "boss"}).status_code == 422


@pytest.mark.parametrize(
    ("taken", "body", "code"),
    [
        ({}, {"username": "anna"}, "duplicate_username"),
        ({"extension": "201"}, {"username": "bob", "extension": "201"}, "duplicate_extension"),
        ({"member_code": "m1"}, {"username": "bob", "member_code": "m1"}, "duplicate_member_code"),
    ],
)
def test_unique_fields_conflict_on_create_and_update(
    api: TestClient,
    other_api: TestClient,
    taken: dict[str, str],
    body: dict[str, str],
    code: str,
) -> None:
    _user(api, "anna", **taken)
    created = api.post("/api/v1/users", json=body)
    assert created.status_code == 409
    assert created.json()["error"]["code"] == code
    carl = _user(api, "carl")
    changed = api.patch(f"/api/v1/users/{carl['id']}", json={**body, "username": "anna"})
    assert changed.status_code == 409
    assert other_api.post("/api/v1/users", json=body).status_code == 201  # per tenant


def test_update_user(api: TestClient) -> None:
    user = _user(api, "anna", extension="201", display_name="Anna")
    url = f"/api/v1/users/{user['id']}"
    changed = api.patch(url, json={"role": "supervisor", "active": False, "extension": "201"})
    assert changed.status_code == 200
    body = changed.json()
    assert (body["role"], body["active"], body["username"], body["display_name"]) == (
        "supervisor",
        False,
        "anna",
        "Anna",
    )
    cleared = api.patch(url, json={"extension": None, "display_name": None}).json()
    assert (cleared["extension"], cleared["display_name"]) == (None, None)
    for required in ("username", "role", "active"):
        response = api.patch(url, json={required: None})
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "invalid_value"
    assert api.patch(url, json={"role": "boss"}).status_code == 422
    assert api.patch(url, json={"password": "short"}).status_code == 422
    assert api.get(url).json()["role"] == "supervisor"


def test_delete_user_removes_memberships(api: TestClient, session: Session) -> None:
    anna = _user(api, "anna")
    group = _group(api, "Sales")
    api.post(f"/api/v1/groups/{group['id']}/members", json={"user_id": anna["id"]})
    url = f"/api/v1/users/{anna['id']}"
    assert api.delete(url).status_code == 204
    assert api.get(url).status_code == 404
    assert api.delete(url).status_code == 404
    assert api.get(f"/api/v1/groups/{group['id']}/members").json()["items"] == []
    assert _count(session, AgentGroupMember) == 0


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"username": ""},
        {"username": "a b"},
        {"username": "anna@1"},
        {"username": "x" * 101},
        {"username": 5},
        {"username": "x", "role": "boss"},
        {"username": "x", "email": "not-an-email"},
        {"username": "x", "sip_uri": "http://x"},
        {"username": "x", "password": "short"},
        {"username": "x", "extension": ""},
        {"username": "x", "active": "maybe"},
        {"username": "x", "password_hash": "scrypt$1$1$1$00$00"},
        {"username": "x", "surprise": 1},
    ],
)
def test_bad_user_bodies_are_422_and_write_nothing(
    api: TestClient, session: Session, body: dict[str, Any]
) -> None:
    before = _count(session, User)
    response = api.post("/api/v1/users", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "validation_error"
    assert _count(session, User) == before


def test_groups_crud_and_partial_name_search(api: TestClient) -> None:
    sales = _group(api, "Sales Berlin", description="Outbound")
    _group(api, "Support")
    assert (sales["description"], sales["no_duplicate_events"]) == ("Outbound", False)
    duplicate = api.post("/api/v1/groups", json={"name": "Sales Berlin"})
    assert duplicate.status_code == 409
    assert duplicate.json()["error"]["code"] == "duplicate_name"
    found = api.get("/api/v1/groups", params={"name": "les ber"}).json()["items"]
    assert [g["id"] for g in found] == [sales["id"]]
    assert len(api.get("/api/v1/groups").json()["items"]) == 2
    url = f"/api/v1/groups/{sales['id']}"
    assert api.get(url).json() == sales
    changed = api.patch(url, json={"name": "Sales Hamburg", "no_duplicate_events": True}).json()
    assert (changed["name"], changed["no_duplicate_events"]) == ("Sales Hamburg", True)
    assert api.patch(url, json={"name": "Support"}).status_code == 409
    assert api.patch(url, json={"name": None}).status_code == 400
    assert api.patch(url, json={"name": ""}).status_code == 422
    assert api.post("/api/v1/groups", json={"name": "X", "extra": 1}).status_code == 422
    assert api.delete(url).status_code == 204
    assert api.get(url).status_code == 404


def test_members(api: TestClient, session: Session) -> None:
    anna, bob = _user(api, "anna"), _user(api, "bob")
    group = _group(api, "Sales")
    members = f"/api/v1/groups/{group['id']}/members"
    joined = api.post(members, json={"user_id": anna["id"]})
    assert (joined.status_code, joined.json()["id"]) == (201, anna["id"])
    assert api.post(members, json={"user_id": anna["id"]}).status_code == 200  # idempotent
    assert api.post(members, json={"user_id": bob["id"]}).status_code == 201
    assert _count(session, AgentGroupMember) == 2
    assert [u["username"] for u in api.get(members).json()["items"]] == ["anna", "bob"]
    page = api.get(members, params={"limit": 1}).json()
    assert [u["username"] for u in page["items"]] == ["anna"] and page["next_cursor"]
    groups = api.get(f"/api/v1/users/{anna['id']}/groups").json()["items"]
    assert [g["name"] for g in groups] == ["Sales"]
    assert api.delete(f"{members}/{anna['id']}").status_code == 204
    gone = api.delete(f"{members}/{anna['id']}")
    assert (gone.status_code, gone.json()["error"]["code"]) == (404, "not_found")
    assert [u["username"] for u in api.get(members).json()["items"]] == ["bob"]
    assert api.post(members, json={"user_id": 999_999}).status_code == 404
    for body in ({}, {"user_id": "x"}, {"user_id": 0}, {"user_id": 1, "role": "agent"}):
        assert api.post(members, json=body).status_code == 422
    assert api.get(f"/api/v1/users/{anna['id']}/groups").json()["items"] == []


def test_deleting_a_group_keeps_its_users(api: TestClient, session: Session) -> None:
    anna = _user(api, "anna")
    group = _group(api, "Sales")
    api.post(f"/api/v1/groups/{group['id']}/members", json={"user_id": anna["id"]})
    assert api.delete(f"/api/v1/groups/{group['id']}").status_code == 204
    assert api.get(f"/api/v1/users/{anna['id']}").status_code == 200
    assert _count(session, AgentGroupMember) == 0
    assert _count(session, AgentGroup) == 0


def test_tenant_isolation(api: TestClient, other_api: TestClient, session: Session) -> None:
    anna = _user(api, "anna", extension="201")
    mine = _group(api, "Mine")
    theirs = _group(other_api, "Theirs")
    stranger = _user(other_api, "stranger")
    user_url, group_url = f"/api/v1/users/{anna['id']}", f"/api/v1/groups/{mine['id']}"
    assert other_api.get(user_url).status_code == 404
    assert other_api.patch(user_url, json={"display_name": "X"}).status_code == 404
    assert other_api.delete(user_url).status_code == 404
    assert other_api.get(f"{user_url}/groups").status_code == 404
    assert other_api.get(group_url).status_code == 404
    assert other_api.patch(group_url, json={"name": "X"}).status_code == 404
    assert other_api.get(f"{group_url}/members").status_code == 404
    assert other_api.delete(group_url).status_code == 404
    # Another tenant's user cannot join my group, nor mine theirs.
    into_mine = api.post(f"{group_url}/members", json={"user_id": stranger["id"]})
    assert (into_mine.status_code, into_mine.json()["error"]["details"]["resource"]) == (
        404,
        "user",
    )
    into_theirs = other_api.post(
        f"/api/v1/groups/{theirs['id']}/members", json={"user_id": anna["id"]}
    )
    assert into_theirs.status_code == 404
    assert _count(session, AgentGroupMember) == 0
    assert [u["username"] for u in other_api.get("/api/v1/users").json()["items"]] == [
        "admin",
        "stranger",
    ]
    assert [g["name"] for g in other_api.get("/api/v1/groups").json()["items"]] == ["Theirs"]
    assert other_api.get("/api/v1/users", params={"extension": "201"}).json()["items"] == []
    assert api.get(user_url).json()["display_name"] is None


def test_requires_an_api_key(client: TestClient) -> None:
    assert client.get("/api/v1/users").status_code == 401
    assert client.post("/api/v1/groups", json={"name": "X"}).status_code == 401
