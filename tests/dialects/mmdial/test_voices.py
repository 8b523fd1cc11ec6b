"""mmDial: searchvoicebyleadid, searchvoicebyphonenumber, searchvoicebyagent."""

import io
import wave
from typing import Any

from fastapi.testclient import TestClient

from tests.dialects.mmdial.helpers import add_lead, add_list, campaign


def _wav(seconds: float) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\1\0" * int(seconds * 8000))
    return buffer.getvalue()


def _upload(api: TestClient, seconds: float, **form: str) -> dict[str, Any]:
    files = {"file": ("call.wav", _wav(seconds), "audio/wav")}
    response = api.post("/api/v1/recordings", files=files, data=form)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def test_search_voices(mm: TestClient, api: TestClient) -> None:
    campaign_id = campaign(api)
    lead_id = add_lead(mm, campaign_id, add_list(mm, campaign_id), phone="030 1234567")["leadid"]
    agent = api.post("/api/v1/users", json={"username": "anna", "role": "agent"}).json()
    first = _upload(
        api,
        2.0,
        contact_id=str(lead_id),
        user_id=str(agent["id"]),
        recorded_at="2016-03-02T16:00:12+01:00",
    )
    second = _upload(api, 1.0, contact_id=str(lead_id), recorded_at="2016-03-03T09:00:00+01:00")

    by_lead = mm.get("searchvoicebyleadid", params={"leadid": lead_id}).json()
    assert by_lead["status"] == "ok"
    assert [v["recid"] for v in by_lead["voices"]] == [first["id"], second["id"]]
    voice = by_lead["voices"][0]
    assert voice["timestamp"] == "20160302160012"  # Berlin time, like the tenant
    assert (voice["agentid"], voice["available"], voice["length"]) == (agent["id"], "yes", 2.0)
    assert voice["size"] == len(_wav(2.0)) and voice["voiceid"] == first["voice_id"]
    assert mm.get(voice["url"], auth=None).content == _wav(2.0)

    def by_phone(**extra: str) -> list[int]:
        body = mm.get("searchvoicebyphonenumber", params={"phone": "+49301234567", **extra})
        assert body.json()["status"] == "ok", body.text
        return [v["recid"] for v in body.json()["voices"]]

    assert by_phone() == [first["id"], second["id"]]
    assert by_phone(date="2016-03-03") == [second["id"]]
    assert by_phone(timestamp="20160302160012") == [first["id"]]
    assert by_phone(timestamp="20160302160013") == []
    assert by_phone(date="2016-03-03", timestamp="20160302160012") == []
    by_agent = mm.get("searchvoicebyagent", params={"agentid": agent["id"], "date": "2016-03-02"})
    assert [v["recid"] for v in by_agent.json()["voices"]] == [first["id"]]
    other = mm.get("searchvoicebyphonenumber", params={"phone": "0891234567"}).json()
    assert other == {"status": "ok", "voices": []}


def test_search_voice_errors(mm: TestClient, api: TestClient) -> None:
    agent = api.post("/api/v1/users", json={"username": "anna", "role": "agent"}).json()
    assert mm.get("searchvoicebyagent", params={"agentid": agent["id"]}).json()["status"] == "ok"
    cases = [
        ("searchvoicebyleadid", {"leadid": "999999"}),
        ("searchvoicebyleadid", {}),
        ("searchvoicebyphonenumber", {"phone": "abc"}),
        ("searchvoicebyphonenumber", {"phone": "0301234567", "date": "02.03.2016"}),
        ("searchvoicebyphonenumber", {"phone": "0301234567", "timestamp": "2016030216001"}),
        ("searchvoicebyagent", {"agentid": "999999"}),
        ("searchvoicebyagent", {"agentid": str(agent["id"]), "timestamp": "20161302160012"}),
    ]
    for function, params in cases:
        body = mm.get(function, params=params).json()
        assert body["status"] == "error", (function, params)
        assert body["msg"] and body["voices"] == []


def test_json_body_and_post_only_functions(mm: TestClient, api: TestClient) -> None:
    campaign_id = campaign(api)
    created = mm.post("addlist", json={"campaignID": campaign_id, "description": "From JSON"})
    assert created.json()["status"] == "ok"
    assert mm.get("addlist", params={"campaignID": campaign_id}).status_code == 405
    assert (
        mm.post(
            "addlist", content=b"{not json", headers={"content-type": "application/json"}
        ).json()["status"]
        == "error"
    )
