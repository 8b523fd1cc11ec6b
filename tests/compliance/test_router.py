"""Native API: consent records and revocation, holds, caller-ID pools; tenant isolation."""

from typing import Any

from fastapi.testclient import TestClient

from opendialer.db import SessionMaker, unit_of_work
from opendialer.engine.selection import claim_next
from opendialer.models import Campaign
from tests.engine.helpers import NOW


def _campaign(api: TestClient, **settings: Any) -> int:
    body = {"name": "C", "dial_mode": "predictive", "status": "enabled"} | settings
    body["calling_days"] = [1, 2, 3, 4, 5, 6, 7]
    response = api.post("/api/v1/campaigns", json=body)
    assert response.status_code == 201, response.text
    campaign_id: int = response.json()["id"]
    return campaign_id


def _contact(api: TestClient, campaign_id: int, phone: str = "030 1234567") -> int:
    response = api.post(
        f"/api/v1/campaigns/{campaign_id}/contacts",
        json={"phones": [phone], "next_try_at": "2026-11-23T08:00:00Z"},
    )
    assert response.status_code == 201, response.text
    contact_id: int = response.json()["id"]
    return contact_id


CONSENT = {"source": "web form", "given_at": "2026-11-01T10:00:00Z", "reference": "form 7"}


def _claim(sessions: SessionMaker, campaign_id: int) -> int | None:
    with unit_of_work(sessions) as session:
        claim = claim_next(session, session.get_one(Campaign, campaign_id), NOW, "t")
        return None if claim is None else claim.contact_id


def test_campaign_compliance_settings_are_validated_and_read(api: TestClient) -> None:
    settings = {
        "holiday_calendars": ["de-by", "US"],
        "closed_dates": ["2026-12-31", "2026-12-24"],
        "max_attempts_per_number": 7,
        "cap_window_hours": 168,
        "require_consent": True,
        "caller_id_strategy": "local",
    }
    read = api.get(f"/api/v1/campaigns/{_campaign(api, **settings)}").json()
    assert read["holiday_calendars"] == ["DE-BY", "US"]
    assert read["closed_dates"] == ["2026-12-24", "2026-12-31"]
    assert (read["max_attempts_per_number"], read["require_consent"]) == (7, True)
    for bad in ({"holiday_calendars": ["XX"]}, {"closed_dates": ["24.12.2026"]}):
        response = api.post("/api/v1/campaigns", json={"name": "B", "dial_mode": "preview"} | bad)
        assert response.status_code == 422, response.text


def test_required_consent_holds_a_contact(
    api: TestClient, other_api: TestClient, sessions: SessionMaker
) -> None:
    campaign_id = _campaign(api, require_consent=True)
    contact_id = _contact(api, campaign_id)
    assert _claim(sessions, campaign_id) is None  # no consent: held
    holds = api.get(f"/api/v1/contacts/{contact_id}/holds").json()["items"]
    assert [h["reason"] for h in holds] == ["no_consent"]
    url = f"/api/v1/contacts/{contact_id}/consents"
    assert other_api.post(url, json=CONSENT).status_code == 404
    bad = CONSENT | {"expires_at": "2026-10-01T00:00:00Z"}
    assert api.post(url, json=bad).json()["error"]["code"] == "invalid_dates"
    assert api.post(url, json=CONSENT).status_code == 201
    assert api.get(url).json()["items"][0]["reference"] == "form 7"


def test_revocation_takes_effect_at_once(api: TestClient, sessions: SessionMaker) -> None:
    campaign_id = _campaign(api)
    revoking = _contact(api, campaign_id, "030 1234567")
    other = _contact(api, campaign_id, "030 7654321")
    api.post(f"/api/v1/contacts/{revoking}/consents", json=CONSENT)
    revoked = api.post(f"/api/v1/contacts/{revoking}/consents:revoke").json()["items"]
    assert [c["revoked_at"] is not None for c in revoked] == [True]
    assert api.get(f"/api/v1/contacts/{revoking}").json()["status"] == "done"
    assert _claim(sessions, campaign_id) == other
    assert _claim(sessions, campaign_id) is None


def test_consent_lets_a_contact_be_claimed(api: TestClient, sessions: SessionMaker) -> None:
    campaign_id = _campaign(api, require_consent=True)
    contact_id = _contact(api, campaign_id)
    api.post(f"/api/v1/contacts/{contact_id}/consents", json=CONSENT)
    assert _claim(sessions, campaign_id) == contact_id


def test_caller_id_pool(api: TestClient, other_api: TestClient) -> None:
    url = f"/api/v1/campaigns/{_campaign(api)}/caller-ids"
    added = api.post(url, json={"number": "030 12340000"})
    assert added.status_code == 201 and added.json()["e164"] == "+493012340000"
    assert api.post(url, json={"number": "+49 30 12340000"}).status_code == 409
    invalid = api.post(url, json={"number": "12"})
    assert invalid.status_code == 422 and invalid.json()["error"]["code"] == "invalid_phone_number"
    assert other_api.get(url).status_code == 404
    retire = f"/api/v1/caller-ids/{added.json()['id']}:retire"
    assert other_api.post(retire).status_code == 404
    assert api.post(retire).json()["retired_at"] is not None
    assert [row["retired_at"] is not None for row in api.get(url).json()["items"]] == [True]
