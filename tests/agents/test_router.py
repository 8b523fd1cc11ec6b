"""Native API: users with roles and agent fields, agent groups and membership."""

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from opendialer.accounts.service import NewTenant
from opendialer.agents.service import (
    find_groups_by_name,
    get_user_by_extension,
    get_user_by_member_code,
)
from opendialer.models import User


def _user(api: TestClient, username: str, **fields: object) -> dict[str, object]:
    response = api.post("/api/v1/users", json={"username": username, **fields})
    assert response.status_code == 201, response.text
    data: dict[str, object] = response.json()
    return data


def test_create_agent_with_fields_never_returns_the_password(api: TestClient) -> None:
    user = _user(
        api,
        "anna",
        password="s3cret-pass",
        extension="201",
        sip_uri="sip:201@pbx",
        member_code="anna-sip",
        display_name="Anna",
    )
    assert user["role"] == "agent" and user["extension"] == "201"
    assert "password" not in user and "password_hash" not in user
    listed = api.get("/api/v1/users", params={"role": "agent"}).json()["items"]
    assert all("password_hash" not in u for u in listed)
    assert (
        api.get("/api/v1/users", params={"extension": "201"}).json()["items"][0]["id"] == user["id"]
    )


def test_unique_username_extension_and_member_code(api: TestClient) -> None:
    _user(api, "anna", extension="201", member_code="m1")
    for body, code in [
        ({"username": "anna"}, "duplicate_username"),
        ({"username": "bob", "extension": "201"}, "duplicate_extension"),
        ({"username": "bob", "member_code": "m1"}, "duplicate_member_code"),
    ]:
        response = api.post("/api/v1/users", json=body)
        assert response.status_code == 409
        assert response.json()["error"]["code"] == code
    bob = _user(api, "bob", extension="202")
    clash = api.patch(f"/api/v1/users/{bob['id']}", json={"extension": "201"})
    assert clash.status_code == 409


def test_update_and_delete(api: TestClient) -> None:
    user = _user(api, "anna")
    url = f"/api/v1/users/{user['id']}"
    changed = api.patch(url, json={"role": "supervisor", "active": False}).json()
    assert (changed["role"], changed["active"], changed["username"]) == (
        "supervisor",
        False,
        "anna",
    )
    assert api.patch(url, json={"username": None}).status_code == 400
    assert api.patch(url, json={"role": "boss"}).status_code == 422
    assert api.delete(url).status_code == 204
    assert api.get(url).status_code == 404


def test_bad_input(api: TestClient, session: Session, tenant: NewTenant) -> None:
    before = session.scalar(select(func.count()).select_from(User))
    for body in [
        {},
        {"username": ""},
        {"username": "a b"},
        {"username": "x", "sip_uri": "http://x"},
        {"username": "x", "password": "short"},
        {"username": "x", "surprise": 1},
    ]:
        assert api.post("/api/v1/users", json=body).status_code == 422
    assert session.scalar(select(func.count()).select_from(User)) == before


def test_groups_and_members(api: TestClient, session: Session, tenant: NewTenant) -> None:
    anna = _user(api, "anna", extension="201", member_code="m1")
    group = api.post("/api/v1/groups", json={"name": "Sales Berlin"}).json()
    assert api.post("/api/v1/groups", json={"name": "Sales Berlin"}).status_code == 409
    members = f"/api/v1/groups/{group['id']}/members"
    assert api.post(members, json={"user_id": anna["id"]}).status_code == 201
    assert api.post(members, json={"user_id": anna["id"]}).status_code == 201  # idempotent
    assert [u["username"] for u in api.get(members).json()] == ["anna"]
    assert [g["name"] for g in api.get(f"/api/v1/users/{anna['id']}/groups").json()] == [
        "Sales Berlin"
    ]
    assert (
        api.get("/api/v1/groups", params={"name": "les Ber"}).json()["items"][0]["id"]
        == group["id"]
    )
    assert api.delete(f"{members}/{anna['id']}").status_code == 204
    assert api.delete(f"{members}/{anna['id']}").status_code == 409
    tid = tenant.tenant.id
    assert [g.name for g in find_groups_by_name(session, tid, "Sales")] == ["Sales Berlin"]
    found = get_user_by_extension(session, tid, "201")
    assert found is not None and found.username == "anna"
    assert get_user_by_member_code(session, tid, "m1") is not None
    assert get_user_by_member_code(session, tid, "nobody") is None
    renamed = api.patch(f"/api/v1/groups/{group['id']}", json={"no_duplicate_events": True})
    assert renamed.json()["no_duplicate_events"] is True
    assert api.delete(f"/api/v1/groups/{group['id']}").status_code == 204


def test_tenant_isolation(api: TestClient, other_api: TestClient) -> None:
    anna = _user(api, "anna")
    theirs = other_api.post("/api/v1/groups", json={"name": "Theirs"}).json()
    mine = api.post("/api/v1/groups", json={"name": "Mine"}).json()
    assert other_api.get(f"/api/v1/users/{anna['id']}").status_code == 404
    assert (
        other_api.post(
            f"/api/v1/groups/{theirs['id']}/members", json={"user_id": anna["id"]}
        ).status_code
        == 404
    )
    assert api.get(f"/api/v1/groups/{theirs['id']}").status_code == 404
    assert other_api.delete(f"/api/v1/groups/{mine['id']}").status_code == 404
    assert [u["username"] for u in other_api.get("/api/v1/users").json()["items"]] == ["admin"]
