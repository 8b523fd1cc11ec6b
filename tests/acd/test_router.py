"""Native API for ACD events: create, read, complete."""

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from opendialer.accounts.service import NewTenant
from opendialer.models import AgentGroup


def _group(session: Session, tenant: NewTenant) -> int:
    group = AgentGroup(tenant_id=tenant.tenant.id, name="G", no_duplicate_events=True)
    session.add(group)
    session.commit()
    return group.id


def test_create_read_and_complete(
    api: TestClient, other_api: TestClient, session: Session, tenant: NewTenant
) -> None:
    group_id = _group(session, tenant)
    body = {"type_id": 3, "group_id": group_id, "sender": "+4930123456", "subject": "Call me"}
    created = api.post("/api/v1/acd/events", json=body)
    assert created.status_code == 201 and created.json()["created"] is True
    event = created.json()
    assert event["status_id"] == 20 and event["priority"] == 50
    duplicate = api.post("/api/v1/acd/events", json=body)
    assert duplicate.status_code == 200 and duplicate.json()["created"] is False
    assert duplicate.json()["id"] == event["id"]
    assert api.get("/api/v1/acd/events").json()["items"][0]["id"] == event["id"]
    assert other_api.get(f"/api/v1/acd/events/{event['id']}").status_code == 404
    assert other_api.post("/api/v1/acd/events", json=body).status_code == 404
    done = api.post(f"/api/v1/acd/events/{event['id']}:complete")
    assert done.status_code == 200 and done.json()["status_id"] == 99
    assert api.get(f"/api/v1/acd/events/{event['id']}").json()["done_at"] is not None
    assert api.post("/api/v1/acd/events", json={**body, "type_id": 42}).status_code == 422
    assert api.post("/api/v1/acd/events", json={**body, "priority": 500}).status_code == 422
