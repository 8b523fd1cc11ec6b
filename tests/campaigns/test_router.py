"""Native API: campaigns and their parts, over HTTP through the ASGI app."""

import shutil
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from opendialer.media import figures as amd_figures
from opendialer.models import CallOutcome, Campaign
from opendialer.telephony.announcements import DEFAULT_ANNOUNCEMENT_FILE
from tests.factories import make_attempt


def create(api: TestClient, **body: object) -> dict[str, object]:
    response = api.post(
        "/api/v1/campaigns", json={"name": "Spring", "dial_mode": "predictive", **body}
    )
    assert response.status_code == 201, response.text
    data: dict[str, object] = response.json()
    return data


def test_create_with_name_and_mode_only_gets_defaults_and_a_secret_code(api: TestClient) -> None:
    campaign = create(api)
    assert isinstance(campaign["id"], int)
    assert isinstance(campaign["code"], str) and len(campaign["code"]) >= 24
    assert campaign["status"] == "disabled"
    assert campaign["abandon_target"] == 0.03
    assert campaign["timezone"] == "Europe/Berlin"
    assert campaign["calling_days"] == [1, 2, 3, 4, 5, 6]


def test_codes_are_unique(api: TestClient) -> None:
    first = create(api, name="A")
    second = create(api, name="B")
    assert first["code"] != second["code"]


def _voicenter_start(client: TestClient, code: object) -> int:
    answer = client.post("/ForwardDialer/Dialer/StartCampaign", json={"Campaign": code})
    error_code: int = answer.json()["ErrorCode"]
    return error_code


def test_every_read_shows_the_same_code_and_new_code_replaces_it(
    api: TestClient, other_api: TestClient
) -> None:
    campaign = create(api)
    base = f"/api/v1/campaigns/{campaign['id']}"
    code = campaign["code"]
    assert api.get(base).json()["code"] == code
    assert api.patch(base, json={"description": "d"}).json()["code"] == code
    assert [c["code"] for c in api.get("/api/v1/campaigns").json()["items"]] == [code]
    assert other_api.post(f"{base}:new-code").status_code == 404
    assert _voicenter_start(api, code) == 0  # the other tenant changed nothing
    replaced = api.post(f"{base}:new-code")
    assert replaced.status_code == 200, replaced.text
    new = replaced.json()["code"]
    assert new != code and api.get(base).json()["code"] == new
    assert (_voicenter_start(api, code), _voicenter_start(api, new)) == (1, 0)


def test_duplicate_name_is_409(api: TestClient) -> None:
    create(api)
    response = api.post("/api/v1/campaigns", json={"name": "Spring", "dial_mode": "preview"})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "duplicate_name"


def test_missing_dial_mode_is_422_with_error_body(api: TestClient) -> None:
    response = api.post("/api/v1/campaigns", json={"name": "X"})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert any("dial_mode" in e["loc"] for e in error["details"])


def test_malformed_json_is_400(api: TestClient) -> None:
    response = api.post(
        "/api/v1/campaigns", content=b'{"name": ', headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_json"


def test_unknown_timezone_is_rejected(api: TestClient) -> None:
    response = api.post(
        "/api/v1/campaigns", json={"name": "X", "dial_mode": "preview", "timezone": "Mars/Base"}
    )
    assert response.status_code == 422


def test_oversized_body_is_413(api: TestClient) -> None:
    big = "x" * 2_000_000
    response = api.post(
        "/api/v1/campaigns", json={"name": "X", "dial_mode": "preview", "description": big}
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


def test_get_update_delete(api: TestClient) -> None:
    campaign = create(api)
    url = f"/api/v1/campaigns/{campaign['id']}"
    assert api.get(url).json()["name"] == "Spring"
    patched = api.patch(url, json={"status": "enabled", "max_parallel_lines": 30})
    assert patched.status_code == 200
    assert patched.json()["status"] == "enabled"
    assert patched.json()["max_parallel_lines"] == 30
    assert api.delete(url).status_code == 204
    assert api.get(url).status_code == 404


def test_update_rejects_inverted_dates(api: TestClient) -> None:
    campaign = create(api)
    response = api.patch(
        f"/api/v1/campaigns/{campaign['id']}",
        json={"begin_at": "2026-12-01T00:00:00Z", "end_at": "2026-11-01T00:00:00Z"},
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_dates"


def test_list_filters_and_paginates(api: TestClient) -> None:
    for i in range(5):
        create(api, name=f"C{i}", dial_mode="preview" if i % 2 else "predictive")
    page = api.get("/api/v1/campaigns", params={"limit": 2}).json()
    assert len(page["items"]) == 2 and page["next_cursor"] is not None
    rest = api.get("/api/v1/campaigns", params={"limit": 10, "cursor": page["next_cursor"]}).json()
    assert len(rest["items"]) == 3 and rest["next_cursor"] is None
    previews = api.get("/api/v1/campaigns", params={"dial_mode": "preview"}).json()["items"]
    assert {c["name"] for c in previews} == {"C1", "C3"}
    assert api.get("/api/v1/campaigns", params={"limit": "many"}).status_code == 422


def test_other_tenant_cannot_see_or_change(api: TestClient, other_api: TestClient) -> None:
    campaign = create(api)
    url = f"/api/v1/campaigns/{campaign['id']}"
    assert other_api.get(url).status_code == 404
    assert other_api.patch(url, json={"status": "enabled"}).status_code == 404
    assert other_api.delete(url).status_code == 404
    assert other_api.get("/api/v1/campaigns").json()["items"] == []
    assert api.get(url).json()["status"] == "disabled"


def test_requires_api_key(client: TestClient) -> None:
    response = client.get("/api/v1/campaigns")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"
    bad = client.get("/api/v1/campaigns", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401


def test_result_codes_crud(api: TestClient) -> None:
    campaign = create(api)
    base = f"/api/v1/campaigns/{campaign['id']}/result-codes"
    made = api.post(
        base, json={"code": "SALE", "text_en": "Sale", "text_de": "Verkauf", "is_success": True}
    )
    assert made.status_code == 201
    assert api.post(base, json={"code": "SALE", "text_en": "Again"}).status_code == 409
    code_id = made.json()["id"]
    assert made.json()["answering_machine"] is False
    changed = api.patch(f"{base}/{code_id}", json={"action": "add_to_dnc"})
    assert changed.json()["action"] == "add_to_dnc"
    machine = api.post(base, json={"code": "AM", "text_en": "Machine", "answering_machine": True})
    assert machine.json()["answering_machine"] is True
    unset = api.patch(f"{base}/{machine.json()['id']}", json={"answering_machine": None})
    assert unset.status_code == 400 and unset.json()["error"]["code"] == "invalid_value"
    assert api.delete(f"{base}/{machine.json()['id']}").status_code == 204
    assert [c["code"] for c in api.get(base).json()] == ["SALE"]
    assert api.delete(f"{base}/{code_id}").status_code == 204
    assert api.get(base).json() == []


def test_retry_rules_replace_per_outcome(api: TestClient) -> None:
    campaign = create(api)
    base = f"/api/v1/campaigns/{campaign['id']}/retry-rules"
    api.put(base, json={"outcome": "busy", "retry_delay_seconds": 600})
    api.put(base, json={"outcome": "busy", "retry_delay_seconds": 300, "max_tries": 5})
    rules = api.get(base).json()
    assert len(rules) == 1 and rules[0]["retry_delay_seconds"] == 300
    assert api.put(base, json={"outcome": "exploded"}).status_code == 422


def test_form_fields(api: TestClient) -> None:
    campaign = create(api)
    base = f"/api/v1/campaigns/{campaign['id']}/form-fields"
    assert api.put(base, json={"name": "contract_term", "field_type": "number"}).status_code == 200
    assert api.put(base, json={"name": "bad name!"}).status_code == 422
    assert [f["name"] for f in api.get(base).json()] == ["contract_term"]
    assert api.delete(f"{base}/contract_term").status_code == 204
    assert api.delete(f"{base}/contract_term").status_code == 404


def test_lists(api: TestClient, other_api: TestClient) -> None:
    campaign = create(api)
    made = api.post(f"/api/v1/campaigns/{campaign['id']}/lists", json={"name": "Week 1"})
    assert made.status_code == 201
    dup = api.post(f"/api/v1/campaigns/{campaign['id']}/lists", json={"name": "Week 1"})
    assert dup.status_code == 409
    list_id = made.json()["id"]
    assert (
        api.get("/api/v1/lists", params={"campaign_id": campaign["id"]}).json()["items"][0]["id"]
        == list_id
    )
    assert other_api.get(f"/api/v1/lists/{list_id}").status_code == 404
    assert api.patch(f"/api/v1/lists/{list_id}", json={"active": False}).json()["active"] is False
    assert api.delete(f"/api/v1/lists/{list_id}").status_code == 204


def test_amd_false_positive_estimate_is_a_share_below_one(api: TestClient) -> None:
    # unless set, the detector's measured rate (bench/amd.py)
    assert create(api)["amd_false_positive_rate"] == amd_figures.FALSE_POSITIVE_RATE > 0
    campaign = create(api, name="AMD", amd_enabled=True, amd_false_positive_rate=0.02)
    assert campaign["amd_false_positive_rate"] == 0.02
    for bad in (-0.1, 1.0):
        response = api.patch(
            f"/api/v1/campaigns/{campaign['id']}", json={"amd_false_positive_rate": bad}
        )
        assert response.status_code == 422


def test_delete_is_refused_while_calls_are_up(api: TestClient, session: Session) -> None:
    campaign = create(api)
    campaign_id = int(str(campaign["id"]))
    tenant_id = session.get_one(Campaign, campaign_id).tenant_id
    attempt = make_attempt(session, tenant_id, campaign_id=campaign_id)
    session.commit()
    refused = api.delete(f"/api/v1/campaigns/{campaign_id}")
    assert refused.status_code == 409
    error = refused.json()["error"]
    assert (error["code"], error["details"]) == ("campaign_has_calls", {"calls_in_progress": 1})
    attempt.outcome = CallOutcome.FAILED
    session.commit()
    assert api.delete(f"/api/v1/campaigns/{campaign_id}").status_code == 204
    assert api.get(f"/api/v1/campaigns/{campaign_id}").status_code == 404


def test_an_unreadable_announcement_file_is_refused_when_saved(
    api: TestClient, tmp_path: Path
) -> None:
    not_audio = tmp_path / "message.wav"
    not_audio.write_text("not a WAV file")
    for reference in [str(tmp_path / "missing.wav"), f"file:{not_audio}", "relative/message.wav"]:
        body = {"name": "Spring", "dial_mode": "predictive", "abandon_announcement_uri": reference}
        response = api.post("/api/v1/campaigns", json=body)
        assert response.status_code == 400, reference
        assert response.json()["error"]["code"] == "invalid_announcement"
    assert api.get("/api/v1/campaigns").json()["items"] == []
    campaign = create(api)
    change = {"abandon_announcement_uri": str(not_audio)}
    refused = api.patch(f"/api/v1/campaigns/{campaign['id']}", json=change)
    assert refused.json()["error"]["code"] == "invalid_announcement"


def test_a_readable_announcement_file_and_the_other_references_are_kept(
    api: TestClient, tmp_path: Path
) -> None:
    message = tmp_path / "message.wav"
    shutil.copy(DEFAULT_ANNOUNCEMENT_FILE, message)
    references = [
        str(message),
        f"file:{message}",
        "sip:abandon@127.0.0.1",
        "announcement:abandoned",
    ]
    for number, reference in enumerate(references):
        campaign = create(api, name=f"C{number}", abandon_announcement_uri=reference)
        assert campaign["abandon_announcement_uri"] == reference


def test_a_machine_message_is_checked_like_the_abandon_message(
    api: TestClient, tmp_path: Path
) -> None:
    refused = api.post(
        "/api/v1/campaigns",
        json={"name": "M", "dial_mode": "predictive", "machine_message_uri": "/nowhere.wav"},
    )
    assert refused.json()["error"]["code"] == "invalid_announcement"
    message = tmp_path / "machine.wav"
    shutil.copy(DEFAULT_ANNOUNCEMENT_FILE, message)
    campaign = create(api, name="N", amd_enabled=True, machine_message_uri=str(message))
    assert campaign["machine_message_uri"] == str(message)


def test_the_day_of_the_abandonment_cap_is_the_calendar_day_unless_ofcoms_24_hours(
    api: TestClient,
) -> None:
    campaign = create(api)
    assert campaign["abandon_rolling_24h"] is False
    response = api.patch(f"/api/v1/campaigns/{campaign['id']}", json={"abandon_rolling_24h": True})
    assert response.json()["abandon_rolling_24h"] is True


def test_null_for_any_setting_that_holds_no_null_is_a_400(api: TestClient) -> None:
    """Every non-nullable setting, not a hand-kept list (lists were a 500, others a 409)."""
    campaign = api.post("/api/v1/campaigns", json={"name": "N", "dial_mode": "preview"}).json()
    before = api.get(f"/api/v1/campaigns/{campaign['id']}").json()
    for setting in ("holiday_calendars", "calling_days", "record_calls", "ring_timeout_seconds"):
        answer = api.patch(f"/api/v1/campaigns/{campaign['id']}", json={setting: None})
        assert answer.status_code == 400, (setting, answer.text)
        assert answer.json()["error"] == {
            "code": "invalid_value",
            "message": f"{setting} cannot be null",
            "details": None,
        }
    after = api.get(f"/api/v1/campaigns/{campaign['id']}").json()
    assert after == before
    cleared = api.patch(f"/api/v1/campaigns/{campaign['id']}", json={"caller_id": None})
    assert cleared.status_code == 200  # a nullable one may still be cleared
