"""Native API: contacts with six numbers, filters, lock/unlock/reset, history, isolation."""

from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from opendialer.accounts.service import NewTenant
from opendialer.models import CallAttempt, CallOutcome, Contact, ContactPhone, ContactStatus


def _campaign(api: TestClient, name: str = "C") -> int:
    response = api.post("/api/v1/campaigns", json={"name": name, "dial_mode": "predictive"})
    assert response.status_code == 201
    campaign_id: int = response.json()["id"]
    return campaign_id


def _create(api: TestClient, campaign_id: int, **body: object) -> dict[str, Any]:
    body.setdefault("phones", ["030 1234567"])
    response = api.post(f"/api/v1/campaigns/{campaign_id}/contacts", json=body)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()
    return data


def _counts(session: Session) -> tuple[int, int]:
    contacts = session.scalar(select(func.count()).select_from(Contact)) or 0
    phones = session.scalar(select(func.count()).select_from(ContactPhone)) or 0
    return int(contacts), int(phones)


def test_create_normalises_and_flags_numbers(api: TestClient) -> None:
    contact = _create(
        api,
        _campaign(api),
        name="Mustermann",
        user_data="K-1",
        phones={"1": "030 1234567", "3": "nonsense", "6": "+49 89 4614950703"},
        custom_data={"lead": 7},
        amount="12.50",
    )
    phones = {p["position"]: p for p in contact["phones"]}
    assert set(phones) == {1, 3, 6}
    assert phones[1]["e164"] == "+49301234567" and phones[1]["invalid"] is False
    assert phones[3]["e164"] is None and phones[3]["invalid"] is True
    assert phones[6]["raw"] == "+49 89 4614950703"
    assert contact["custom_data"] == {"lead": 7} and contact["amount"] == "12.50"
    assert contact["status"] == "pending" and contact["locked"] is False


def test_a_list_fills_positions_in_order(api: TestClient) -> None:
    contact = _create(api, _campaign(api), phones=["0301111111", "0302222222"])
    assert [p["position"] for p in contact["phones"]] == [1, 2]


def test_no_valid_number_is_422_and_nothing_written(api: TestClient, session: Session) -> None:
    campaign = _campaign(api)
    before = _counts(session)
    response = api.post(f"/api/v1/campaigns/{campaign}/contacts", json={"phones": ["12", "abc"]})
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_phone_number"
    for body in [
        {"phones": []},
        {"phones": ["1"] * 7},
        {"phones": ["0301"], "surprise": 1},
        {"phones": ["0301234567"], "priority": "high"},
        {"phones": ["0301234567"], "name": "x" * 300},
        {"phones": {"7": "0301234567"}},
    ]:
        assert api.post(f"/api/v1/campaigns/{campaign}/contacts", json=body).status_code == 422
    assert _counts(session) == before


def test_list_and_form_fields_are_checked(api: TestClient) -> None:
    campaign, other = _campaign(api, "A"), _campaign(api, "B")
    foreign_list = api.post(f"/api/v1/campaigns/{other}/lists", json={"name": "L"}).json()["id"]
    response = api.post(
        f"/api/v1/campaigns/{campaign}/contacts",
        json={"phones": ["0301234567"], "list_id": foreign_list},
    )
    assert response.status_code == 404
    api.put(f"/api/v1/campaigns/{campaign}/form-fields", json={"name": "term"})
    unknown = api.post(
        f"/api/v1/campaigns/{campaign}/contacts",
        json={"phones": ["0301234567"], "form_data": {"term": 12, "colour": "red"}},
    )
    assert unknown.status_code == 400
    assert unknown.json()["error"]["details"] == {"fields": ["colour"]}
    assert _create(api, campaign, form_data={"term": 12})["form_data"] == {"term": 12}


def test_partial_update_and_phone_positions(api: TestClient) -> None:
    contact = _create(
        api, _campaign(api), name="Old", city="Berlin", phones=["0301111111", "0302222222"]
    )
    url = f"/api/v1/contacts/{contact['id']}"
    changed = api.patch(url, json={"name": "New", "phones": {"2": None, "4": "0304444444"}}).json()
    assert (changed["name"], changed["city"]) == ("New", "Berlin")
    assert [p["position"] for p in changed["phones"]] == [1, 4]
    same_position = api.patch(url, json={"phones": {"1": "0305555555"}}).json()
    assert same_position["phones"][0]["e164"] == "+49305555555"
    assert api.patch(url, json={"phones": {"1": None, "4": None}}).status_code == 422
    assert api.patch(url, json={"priority": None}).status_code == 400


def test_move_to_another_campaign(api: TestClient, session: Session) -> None:
    first, second = _campaign(api, "A"), _campaign(api, "B")
    contact = _create(api, first)
    moved = api.patch(f"/api/v1/contacts/{contact['id']}", json={"campaign_id": second}).json()
    assert moved["campaign_id"] == second
    phone_campaigns = set(session.scalars(select(ContactPhone.campaign_id)))
    assert phone_campaigns == {second}


def test_filters(api: TestClient) -> None:
    campaign, other = _campaign(api, "A"), _campaign(api, "B")
    a = _create(api, campaign, user_data="K-1", external_id="X1", phones=["0301111111"])
    _create(api, campaign, user_data="K-2", phones=["0302222222", "0303333333"])
    _create(api, other, user_data="K-1", phones=["0304444444"])

    def ids(**params: object) -> list[object]:
        return [c["id"] for c in api.get("/api/v1/contacts", params=params).json()["items"]]

    assert len(ids()) == 3 and len(ids(campaign_id=campaign)) == 2
    assert len(ids(user_data="K-1")) == 2 and ids(external_id="X1") == [a["id"]]
    assert len(ids(phone="+49 30 3333333")) == 1 and len(ids(phone="0303333333")) == 1
    api.post(f"/api/v1/contacts/{a['id']}:lock")
    assert ids(locked=True) == [a["id"]]
    assert api.get("/api/v1/contacts", params={"status": "nope"}).status_code == 422


def test_lock_unlock_reset(api: TestClient, session: Session) -> None:
    contact = _create(api, _campaign(api))
    url = f"/api/v1/contacts/{contact['id']}"
    assert api.post(f"{url}:lock").json()["locked"] is True
    assert api.post(f"{url}:unlock").json()["locked"] is False
    row = session.get_one(Contact, contact["id"])
    row.tries, row.status = 3, ContactStatus.DONE
    row.phones[0].tries, row.phones[0].last_cause = 3, 17
    session.commit()
    reset = api.post(f"{url}:reset").json()
    assert (reset["tries"], reset["status"], reset["result_code_id"]) == (0, "pending", None)
    assert (reset["phones"][0]["tries"], reset["phones"][0]["last_cause"]) == (0, None)


def test_history(api: TestClient, session: Session, tenant: NewTenant) -> None:
    contact = _create(api, _campaign(api))
    for outcome in (CallOutcome.BUSY, CallOutcome.CONNECTED):
        session.add(
            CallAttempt(
                tenant_id=tenant.tenant.id,
                contact_id=contact["id"],
                b_number="+49301234567",
                started_at=datetime.now(UTC),
                outcome=outcome,
                cause_code=17,
            )
        )
    session.commit()
    rows = api.get(f"/api/v1/contacts/{contact['id']}/history").json()["items"]
    assert [r["outcome"] for r in rows] == ["busy", "connected"]
    assert rows[0]["b_number"] == "+49301234567"


def test_delete(api: TestClient, session: Session) -> None:
    contact = _create(api, _campaign(api))
    assert api.delete(f"/api/v1/contacts/{contact['id']}").status_code == 204
    assert api.get(f"/api/v1/contacts/{contact['id']}").status_code == 404
    assert _counts(session) == (0, 0)


def test_tenant_isolation(api: TestClient, other_api: TestClient) -> None:
    campaign = _campaign(api)
    contact = _create(api, campaign)
    url = f"/api/v1/contacts/{contact['id']}"
    for call in (
        other_api.get(url),
        other_api.patch(url, json={"name": "x"}),
        other_api.delete(url),
        other_api.post(f"{url}:lock"),
        other_api.get(f"{url}/history"),
        other_api.post(f"/api/v1/campaigns/{campaign}/contacts", json={"phones": ["0301234567"]}),
    ):
        assert call.status_code == 404
    assert other_api.get("/api/v1/contacts").json()["items"] == []
    mine = other_api.post("/api/v1/campaigns", json={"name": "Mine", "dial_mode": "preview"}).json()
    moved = other_api.patch(url, json={"campaign_id": mine["id"]})
    assert moved.status_code == 404
    assert api.get(url).json()["campaign_id"] == campaign
