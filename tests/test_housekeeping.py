"""Housekeeping: recording and export retention, by the server and on demand."""

import asyncio
import io
import json
import logging
import os
import time
import uuid
import wave
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from opendialer.accounts.service import NewTenant
from opendialer.app import create_app
from opendialer.cli import app as cli
from opendialer.config import Settings, get_settings
from opendialer.db import SessionMaker, unit_of_work
from opendialer.housekeeping import Swept, serve, sweep
from opendialer.models import AuthFailure, Recording
from opendialer.web.state import state_of

OLD = "2020-01-01T00:00:00+00:00"


@pytest.fixture
def storage(settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setattr(settings, "recordings_dir", tmp_path / "recordings")
    monkeypatch.setattr(settings, "exports_dir", tmp_path / "exports")
    monkeypatch.setattr(settings, "recording_retention_days", 30)
    monkeypatch.setattr(settings, "export_retention_days", 7)
    return settings


def _wav() -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\0\0" * 8000)
    return buffer.getvalue()


def _upload(api: TestClient, **form: str) -> dict[str, object]:
    files = {"file": ("call.wav", _wav(), "audio/wav")}
    response = api.post("/api/v1/recordings", files=files, data=form)
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


def _export(api: TestClient) -> dict[str, str]:
    name = f"Export {uuid.uuid4().hex[:8]}"
    campaign = api.post("/api/v1/campaigns", json={"name": name, "dial_mode": "preview"}).json()
    contact = {"phones": ["030 1234567"], "first_name": "Ann"}
    assert api.post(f"/api/v1/campaigns/{campaign['id']}/contacts", json=contact).is_success
    body = {"campaign_id": campaign["id"], "fields": ["customerfield_first_name"]}
    response = api.post("/api/v1/exports", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, str] = response.json()
    return created


def _age(settings: Settings, file_id: str, days: int, state: str | None = None) -> None:
    """Make an export look ``days`` old (and, optionally, in another state)."""
    meta_path = settings.exports_dir / f"{file_id}.json"
    meta = json.loads(meta_path.read_text())
    meta["created_at"] = (datetime.now(UTC) - timedelta(days=days)).isoformat()
    meta_path.write_text(json.dumps(meta | ({"state": state} if state else {})))


def _half_built(settings: Settings, file_id: str, days: int) -> Path:
    """The ``.part`` file of a build that last wrote to it ``days`` ago; no CSV yet."""
    (settings.exports_dir / f"{file_id}.csv").unlink()
    part = settings.exports_dir / f"{file_id}.csv.part"
    part.write_text("Vorname\r\n")
    written = time.time() - days * 86400
    os.utime(part, (written, written))
    return part


def _sweep(sessions: SessionMaker, settings: Settings) -> Swept:
    return asyncio.run(sweep(sessions, settings, datetime.now(UTC)))


def _recording_file(settings: Settings, session: Session, recording_id: object) -> Path:
    recording = session.get_one(Recording, recording_id)
    session.refresh(recording)
    return settings.recordings_dir / recording.path


def test_sweep_deletes_what_is_past_retention_and_keeps_the_rest(
    api: TestClient, session: Session, sessions: SessionMaker, storage: Settings
) -> None:
    old, new = _upload(api, recorded_at=OLD), _upload(api)
    old_export, new_export, crashed = _export(api), _export(api), _export(api)
    _age(storage, old_export["file_id"], days=8)
    _age(storage, crashed["file_id"], days=8, state="building")
    crashed_part = _half_built(storage, crashed["file_id"], days=8)

    assert _sweep(sessions, storage) == Swept(recordings=1, exports=2)

    assert not _recording_file(storage, session, old["id"]).exists()
    assert _recording_file(storage, session, new["id"]).exists()
    assert api.get(str(old["url"])).status_code == 410
    listed = {r["id"]: r["available"] for r in api.get("/api/v1/recordings").json()}
    assert listed == {old["id"]: False, new["id"]: True}
    for gone in (old_export, crashed):
        assert api.get(f"/api/v1/exports/{gone['file_id']}").status_code == 404
        response = api.get(gone["url"], headers={"Authorization": ""})
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"
    assert not crashed_part.exists()
    assert api.get(new_export["url"], headers={"Authorization": ""}).status_code == 200
    assert _sweep(sessions, storage) == Swept(0, 0)  # nothing twice


def test_builds_in_progress_are_kept(
    api: TestClient, sessions: SessionMaker, storage: Settings
) -> None:
    young, old_but_writing = _export(api), _export(api)
    _age(storage, young["file_id"], days=0, state="building")
    young_part = _half_built(storage, young["file_id"], days=0)
    _age(storage, old_but_writing["file_id"], days=30, state="building")
    writing_part = _half_built(storage, old_but_writing["file_id"], days=1)

    assert _sweep(sessions, storage) == Swept(0, 0)

    assert young_part.exists() and writing_part.exists()
    for building in (young, old_but_writing):
        response = api.get(f"/api/v1/exports/{building['file_id']}")
        assert response.json()["state"] == "building"


def test_a_pass_cut_short_is_finished_by_the_next(
    api: TestClient, sessions: SessionMaker, storage: Settings
) -> None:
    export = _export(api)
    _age(storage, export["file_id"], days=8)
    (storage.exports_dir / f"{export['file_id']}.csv").unlink()  # the sidecar is left

    response = api.get(export["url"], headers={"Authorization": ""})
    assert response.status_code == 404, response.text

    assert _sweep(sessions, storage) == Swept(recordings=0, exports=1)
    assert list(storage.exports_dir.iterdir()) == []


def test_retention_zero_keeps_everything(
    api: TestClient, sessions: SessionMaker, storage: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(storage, "recording_retention_days", 0)
    monkeypatch.setattr(storage, "export_retention_days", 0)
    _upload(api, recorded_at=OLD)
    _age(storage, _export(api)["file_id"], days=400)
    assert _sweep(sessions, storage) == Swept(0, 0)


def test_the_command_line_runs_one_pass(
    api: TestClient,
    session: Session,
    storage: Settings,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    old = _upload(api, recorded_at=OLD)
    export = _export(api)
    _age(storage, export["file_id"], days=8)
    environment = {
        "DATABASE_URL": database_url,
        "RECORDINGS_DIR": str(storage.recordings_dir),
        "EXPORTS_DIR": str(storage.exports_dir),
        "RECORDING_RETENTION_DAYS": "30",
        "EXPORT_RETENTION_DAYS": "7",
    }
    for name, value in environment.items():
        monkeypatch.setenv(f"OPENDIALER_{name}", value)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli, ["housekeeping"])
    finally:
        get_settings.cache_clear()

    assert result.exit_code == 0, result.output
    assert "Deleted 1 recording files" in result.output and "1 exports" in result.output
    assert not _recording_file(storage, session, old["id"]).exists()
    assert api.get(f"/api/v1/exports/{export['file_id']}").status_code == 404


def test_the_interval_is_at_least_a_minute() -> None:
    with pytest.raises(ValidationError, match="housekeeping_interval_seconds"):
        Settings(housekeeping_interval_seconds=1)


def test_the_server_sweeps_by_itself(
    settings: Settings, storage: Settings, session: Session, tenant: NewTenant
) -> None:
    timed = storage.model_copy(
        update={"housekeeping_enabled": True, "housekeeping_interval_seconds": 0.2}
    )
    app = create_app(timed)
    headers = {"Authorization": f"Bearer {tenant.api_key}"}
    try:
        with TestClient(app, headers=headers) as api:
            old = _upload(api, recorded_at=OLD)
            deadline = time.monotonic() + 20
            while _recording_file(timed, session, old["id"]).exists():
                assert time.monotonic() < deadline, "the server never applied the retention"
                time.sleep(0.05)
            assert api.get(str(old["url"])).status_code == 410
    finally:
        state_of(app).db_engine.dispose()


def test_a_failed_pass_is_logged_and_the_next_one_runs(
    api: TestClient,
    sessions: SessionMaker,
    storage: Settings,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    old = _upload(api, recorded_at=OLD)
    recordings_dir = storage.recordings_dir
    not_a_directory = tmp_path / "not-a-directory"
    not_a_directory.write_text("")
    failing = storage.model_copy(
        update={"recordings_dir": not_a_directory, "housekeeping_interval_seconds": 0.05}
    )

    async def run() -> None:
        task = asyncio.create_task(serve(sessions, failing))
        deadline = time.monotonic() + 20
        while "housekeeping pass failed" not in caplog.text:
            assert time.monotonic() < deadline, "no failed pass was logged"
            await asyncio.sleep(0.02)
        failing.recordings_dir = recordings_dir  # the disk is back
        while "deleted 1 recording files" not in caplog.text:
            assert time.monotonic() < deadline, "no pass ran after the failure"
            await asyncio.sleep(0.02)
        task.cancel()

    with caplog.at_level(logging.INFO, logger="opendialer.housekeeping"):
        asyncio.run(run())
    listed = {r["id"]: r["available"] for r in api.get("/api/v1/recordings").json()}
    assert listed == {old["id"]: False}


def test_old_failed_login_rows_are_pruned(sessions: SessionMaker, storage: Settings) -> None:
    now = datetime.now(UTC)
    with unit_of_work(sessions) as s:
        for days in (storage.auth_failure_retention_days + 1, 1):
            s.add(
                AuthFailure(occurred_at=now - timedelta(days=days), face="jtel", credential="admin")
            )
    assert _sweep(sessions, storage).auth_failures == 1
    with unit_of_work(sessions) as s:
        kept = s.scalars(select(AuthFailure.occurred_at)).all()
    assert len(kept) == 1 and kept[0] > now - timedelta(days=2)
