"""Recordings: WAV writing, PBX upload, search, signed expiring links, retention."""

import io
import time
import wave
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from opendialer.config import Settings
from opendialer.models import Contact, ContactPhone, Recording
from opendialer.recordings import service
from opendialer.security import sign_path
from opendialer.telephony import CallId
from tests.factories import make_attempt


def _wav(seconds: float) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\0\0" * int(seconds * 8000))
    return buffer.getvalue()


def test_write_wav_has_the_length_asked(tmp_path: Path) -> None:
    size = service.write_wav(tmp_path / "a" / "b.wav", 2.5)
    with wave.open(str(tmp_path / "a" / "b.wav")) as audio:
        assert (audio.getframerate(), audio.getnchannels(), audio.getsampwidth()) == (8000, 1, 2)
        assert audio.getnframes() == 20_000
        frames = audio.readframes(100)
    assert size == (tmp_path / "a" / "b.wav").stat().st_size == 44 + 40_000
    assert frames != b"\0" * 200  # a tone, not silence


def test_call_recorder_links_the_file_to_the_attempt(
    tmp_path: Path, session: Session, api: TestClient
) -> None:
    campaign = api.post("/api/v1/campaigns", json={"name": "C", "dial_mode": "preview"}).json()
    attempt = make_attempt(
        session, _tenant(api), campaign_id=campaign["id"], b_number="+49301234567"
    )
    recorder = service.CallRecorder(tmp_path)
    start = datetime(2026, 1, 2, 10, 0, tzinfo=UTC)
    recorder.recording_started(CallId("c1"), start)
    recorder.recording_stopped(CallId("c1"), start + timedelta(seconds=3))
    assert recorder.attach(session, CallId("other"), attempt) is None
    recording = recorder.attach(session, CallId("c1"), attempt)
    assert recording is not None
    assert recording.call_attempt_id == attempt.id and recording.duration_seconds == 3.0
    assert (tmp_path / recording.path).stat().st_size == recording.size_bytes
    assert recorder.attach(session, CallId("c1"), attempt) is None  # linked once


def _tenant(api: TestClient) -> int:
    tenant_id: int = api.get("/api/v1/tenant").json()["id"]
    return tenant_id


def _contact(session: Session, api: TestClient) -> Contact:
    campaign = api.post("/api/v1/campaigns", json={"name": "R", "dial_mode": "preview"}).json()
    body = api.post(
        f"/api/v1/campaigns/{campaign['id']}/contacts", json={"phones": ["030 1234567"]}
    )
    assert body.status_code == 201, body.text
    return session.get_one(Contact, body.json()["id"])


def _upload(api: TestClient, seconds: float = 1.5, **form: str) -> dict[str, object]:
    response = api.post(
        "/api/v1/recordings",
        files={"file": ("call.wav", _wav(seconds), "audio/wav")},
        data=form,
    )
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


def test_upload_search_and_download(api: TestClient, session: Session) -> None:
    contact = _contact(session, api)
    body = _upload(api, 1.5, contact_id=str(contact.id), recorded_at="2026-03-02T16:00:12+01:00")
    assert body["duration_seconds"] == 1.5 and body["available"] is True
    found = api.get("/api/v1/recordings", params={"contact_id": contact.id}).json()
    assert [r["id"] for r in found] == [body["id"]]
    by_phone = api.get("/api/v1/recordings", params={"phone": "+49 30 1234567"}).json()
    assert [r["id"] for r in by_phone] == [body["id"]]
    assert api.get("/api/v1/recordings", params={"day": "2026-03-02"}).json() != []
    assert api.get("/api/v1/recordings", params={"day": "2026-03-03"}).json() == []
    audio = api.get(str(body["url"]), headers={"Authorization": ""})
    assert audio.status_code == 200 and audio.headers["content-type"] == "audio/wav"
    assert audio.content == _wav(1.5)


def test_bad_uploads(api: TestClient, other_api: TestClient, session: Session) -> None:
    contact = _contact(session, api)
    not_wav = api.post("/api/v1/recordings", files={"file": ("x.wav", b"RIFFnope", "audio/wav")})
    assert not_wav.status_code == 400
    foreign = other_api.post(
        "/api/v1/recordings",
        files={"file": ("x.wav", _wav(1), "audio/wav")},
        data={"contact_id": str(contact.id)},
    )
    assert foreign.status_code == 404
    assert session.query(Recording).count() == 0


def test_links_are_signed_and_expire(api: TestClient, settings: Settings) -> None:
    body = _upload(api)
    url = str(body["url"])
    assert api.get(url.replace("signature=", "signature=ab")).status_code == 403
    path = f"/api/v1/recordings/{body['id']}/audio"
    secret = settings.secret_key.get_secret_value()
    expired = sign_path(secret, path, int(time.time()) - 1)
    assert api.get(f"{path}?{expired}").status_code == 403
    other_path = f"/api/v1/recordings/{int(str(body['id'])) + 1}/audio"
    other = sign_path(secret, other_path, int(time.time()) + 60)
    assert api.get(f"{path}?{other}").status_code == 403


def test_retention_purge(
    api: TestClient, session: Session, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = _upload(api, recorded_at="2020-01-01T00:00:00+00:00")
    new = _upload(api)
    assert api.post("/api/v1/recordings:purge").json()["deleted"] == 0  # retention off
    monkeypatch.setattr(settings, "recording_retention_days", 30)
    assert api.post("/api/v1/recordings:purge").json() == {"deleted": 1, "retention_days": 30}
    assert api.get(str(old["url"])).status_code == 410
    assert api.get(str(new["url"])).status_code == 200
    listed = {r["id"]: r for r in api.get("/api/v1/recordings").json()}
    assert listed[old["id"]]["available"] is False and listed[old["id"]]["url"] is None
    row = session.get_one(Recording, old["id"])
    assert row.deleted_at is not None
    assert not (settings.recordings_dir / row.path).exists()
    assert session.query(ContactPhone).count() == 0


def test_rotating_the_tenants_link_key_voids_its_links_only(
    api: TestClient, other_api: TestClient
) -> None:
    mine, theirs = _upload(api), _upload(other_api)
    assert api.get(str(mine["url"])).status_code == 200
    rotated = api.post("/api/v1/tenant:rotate-link-key")
    assert rotated.status_code == 200 and rotated.json()["link_key_generation"] == 1
    assert api.get(str(mine["url"])).status_code == 403
    assert other_api.get(str(theirs["url"])).status_code == 200
    fresh = api.get(f"/api/v1/recordings/{mine['id']}").json()["url"]
    assert fresh != mine["url"] and api.get(fresh).status_code == 200


def test_the_server_secret_alone_signs_no_tenants_link(api: TestClient, settings: Settings) -> None:
    body = _upload(api)
    path = f"/api/v1/recordings/{body['id']}/audio"
    forged = sign_path(settings.secret_key.get_secret_value(), path, int(time.time()) + 60)
    assert api.get(f"{path}?{forged}").status_code == 403
    assert api.get(str(body["url"])).status_code == 200


@pytest.mark.parametrize("signature", ["%C3%A9" * 32, "%ED%A0%80", "%EF%AC%81"])
def test_any_signature_text_is_403_not_500(api: TestClient, signature: str) -> None:
    body = _upload(api)
    url = str(body["url"]).rsplit("signature=", 1)[0] + f"signature={signature}"
    response = api.get(url)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "invalid_link"
