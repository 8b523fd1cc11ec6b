"""A contact's own caller ID, checked when the campaign says so, on every face that sets it:
the native API (create and update) and Voicenter's ``CallerID`` (AddCall, UpdateCall, bulk)."""

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from opendialer.campaigns.codes import CodeKey
from opendialer.config import Settings
from opendialer.db import SessionMaker, unit_of_work
from opendialer.models import Campaign, Contact

POOL_NUMBER = "+49301234567"


def _campaign(api: TestClient, check: str) -> int:
    body = {"name": f"C {check}", "dial_mode": "preview", "own_caller_id_check": check}
    made = api.post("/api/v1/campaigns", json=body)
    assert made.status_code == 201, made.text
    assert made.json()["own_caller_id_check"] == check
    campaign_id: int = made.json()["id"]
    pool = api.post(f"/api/v1/campaigns/{campaign_id}/caller-ids", json={"number": POOL_NUMBER})
    assert pool.status_code == 201, pool.text
    return campaign_id


def _create(api: TestClient, campaign_id: int, caller_id: str) -> Any:
    body = {"phones": ["030 7654321"], "caller_id": caller_id}
    return api.post(f"/api/v1/campaigns/{campaign_id}/contacts", json=body)


def _refused(answer: Any) -> str:
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert error["code"] == "invalid_caller_id"
    problem: str = error["details"]["fields"]["caller_id"]
    return problem


def test_valid_refuses_short_premium_and_invalid_numbers(api: TestClient) -> None:
    campaign_id = _campaign(api, "valid")
    assert "short" in _refused(_create(api, campaign_id, "110"))
    assert "premium" in _refused(_create(api, campaign_id, "+1 900 555 1234"))
    assert "shared-cost" in _refused(_create(api, campaign_id, "0137 1234567"))
    assert "valid" in _refused(_create(api, campaign_id, "not a number"))
    made = _create(api, campaign_id, "089 1234567")
    assert made.status_code == 201, made.text
    changed = api.patch(f"/api/v1/contacts/{made.json()['id']}", json={"caller_id": "110"})
    assert "short" in _refused(changed)


def test_pool_wants_an_active_pool_number(api: TestClient) -> None:
    campaign_id = _campaign(api, "pool")
    assert "pool" in _refused(_create(api, campaign_id, "089 1234567"))
    assert _create(api, campaign_id, "030 1234567").status_code == 201  # the pool's, national


def test_off_keeps_whatever_is_given(api: TestClient) -> None:
    campaign_id = _campaign(api, "off")
    assert _create(api, campaign_id, "110").status_code == 201


def test_voicenter_caller_id_is_refused_in_its_envelope(
    client: TestClient, api: TestClient, sessions: SessionMaker, settings: Settings
) -> None:
    campaign_id = _campaign(api, "pool")
    with unit_of_work(sessions) as session:
        code = CodeKey(settings.secret_key.get_secret_value()).of(
            session.get_one(Campaign, campaign_id)
        )
    base = "/ForwardDialer/Dialer/"
    bad = {"Campaign": code, "Target": "030 7654321", "CallerID": "089 1234567"}
    for method, body in (("AddCall", bad), ("UpdateCall", bad), ("AddCallsBulk", [bad])):
        answer = client.post(base + method, json=body).json()
        result = answer["AddResult"][0] if method == "AddCallsBulk" else answer
        assert result["ErrorCode"] == -1, (method, answer)
        assert result["Description"].startswith("Invalid CallerID: not one of"), answer
    good = {**bad, "CallerID": POOL_NUMBER}
    assert client.post(base + "AddCall", json=good).json()["ErrorCode"] == 0
    with unit_of_work(sessions) as session:
        stored = session.scalars(select(Contact.caller_id)).all()
    assert stored == [POOL_NUMBER]
