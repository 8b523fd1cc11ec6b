"""Native API: do-not-call lists, tenant-wide and per campaign."""

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from opendialer.accounts.service import NewTenant
from opendialer.dnc.service import blocked_numbers, fuzzy_entries
from opendialer.models import DncEntry


def _campaign(api: TestClient, name: str = "C") -> int:
    response = api.post("/api/v1/campaigns", json={"name": name, "dial_mode": "preview"})
    assert response.status_code == 201
    campaign_id: int = response.json()["id"]
    return campaign_id


def _count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(DncEntry)) or 0)


def test_add_reports_each_number(api: TestClient) -> None:
    body = {"numbers": ["030 1234567", "+49301234567", "not a number", "089 4614950703"]}
    result = api.post("/api/v1/dnc", json=body).json()
    assert [r["outcome"] for r in result["records"]] == [
        "added",
        "exists",
        "invalid_number",
        "added",
    ]
    assert result["records"][0]["e164"] == "+49301234567"
    assert result["counts"]["added"] == 2 and result["counts"]["invalid_number"] == 1
    again = api.post("/api/v1/dnc", json={"numbers": ["+49301234567"]}).json()
    assert again["counts"]["exists"] == 1


def test_campaign_and_tenant_scopes(api: TestClient, session: Session, tenant: NewTenant) -> None:
    first, second = _campaign(api, "A"), _campaign(api, "B")
    api.post("/api/v1/dnc", json={"numbers": ["+49301111111"]})
    api.post("/api/v1/dnc", json={"numbers": ["+49302222222"], "campaign_id": first})
    check = api.get("/api/v1/dnc/check", params={"number": "0302222222", "campaign_id": first})
    assert check.json()["blocked"] is True
    other = api.get("/api/v1/dnc/check", params={"number": "0302222222", "campaign_id": second})
    assert other.json()["blocked"] is False
    wide = api.get("/api/v1/dnc/check", params={"number": "+49301111111", "campaign_id": second})
    assert wide.json()["blocked"] is True and wide.json()["entries"][0]["campaign_id"] is None
    tid = tenant.tenant.id
    assert blocked_numbers(session, tid, first, ["+49301111111", "+49302222222", "+4930333"]) == {
        "+49301111111",
        "+49302222222",
    }
    assert blocked_numbers(session, tid, second, ["+49302222222"]) == set()
    assert [e.e164 for e in fuzzy_entries(session, tid, "+4930222222")] == []
    assert [e.e164 for e in fuzzy_entries(session, tid, "+4330302222222")] == ["+49302222222"]


def test_the_same_number_on_both_lists(api: TestClient) -> None:
    campaign = _campaign(api)
    api.post("/api/v1/dnc", json={"numbers": ["+49301111111"]})
    added = api.post("/api/v1/dnc", json={"numbers": ["+49301111111"], "campaign_id": campaign})
    assert added.json()["counts"]["added"] == 1
    check = api.get("/api/v1/dnc/check", params={"number": "+49301111111", "campaign_id": campaign})
    assert len(check.json()["entries"]) == 2


def test_remove_and_list(api: TestClient) -> None:
    api.post("/api/v1/dnc", json={"numbers": ["+49301111111", "+49302222222"]})
    removed = api.post(
        "/api/v1/dnc:remove", json={"numbers": ["+49301111111", "+49309999999", "x"]}
    )
    assert [r["outcome"] for r in removed.json()["records"]] == [
        "removed",
        "not_found",
        "invalid_number",
    ]
    listed = api.get("/api/v1/dnc").json()["items"]
    assert [e["e164"] for e in listed] == ["+49302222222"]
    assert (
        api.get("/api/v1/dnc", params={"number": "30222"}).json()["items"][0]["e164"]
        == "+49302222222"
    )
    entry_id = listed[0]["id"]
    assert api.delete(f"/api/v1/dnc/{entry_id}").status_code == 204
    assert api.delete(f"/api/v1/dnc/{entry_id}").status_code == 404


def test_tenant_isolation(api: TestClient, other_api: TestClient) -> None:
    campaign = _campaign(api)
    api.post("/api/v1/dnc", json={"numbers": ["+49301111111"]})
    entry_id = api.get("/api/v1/dnc").json()["items"][0]["id"]
    assert other_api.get("/api/v1/dnc").json()["items"] == []
    assert (
        other_api.get("/api/v1/dnc/check", params={"number": "+49301111111"}).json()["blocked"]
        is False
    )
    assert other_api.delete(f"/api/v1/dnc/{entry_id}").status_code == 404
    assert (
        other_api.post(
            "/api/v1/dnc", json={"numbers": ["+4930"], "campaign_id": campaign}
        ).status_code
        == 404
    )


def test_bad_input_writes_nothing(api: TestClient, session: Session) -> None:
    assert api.post("/api/v1/dnc", json={"numbers": []}).status_code == 422
    assert api.post("/api/v1/dnc", json={"numbers": "+4930"}).status_code == 422
    too_many = {"numbers": ["+49301111111"] * 10_001}
    assert api.post("/api/v1/dnc", json=too_many).status_code == 422
    missing = api.post("/api/v1/dnc", json={"numbers": ["+49301111111"], "campaign_id": 999})
    assert missing.status_code == 404
    assert _count(session) == 0
