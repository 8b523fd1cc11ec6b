"""Scheduled DNC import: housekeeping reads a tenant's file when due and makes it the
tenant-wide list atomically; a bad file leaves the old list and says why."""

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from opendialer.accounts.service import NewTenant
from opendialer.config import Settings
from opendialer.db import SessionMaker, unit_of_work
from opendialer.housekeeping import sweep
from opendialer.models import AuditEntry, DncEntry

START = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def _listed(sessions: SessionMaker) -> set[str]:
    with unit_of_work(sessions) as session:
        return set(session.scalars(select(DncEntry.e164).where(DncEntry.campaign_id.is_(None))))


def _sweep(sessions: SessionMaker, settings: Settings, folder: Path | None, at: datetime) -> int:
    scheduled = settings.model_copy(update={"dnc_import_dir": folder})
    return asyncio.run(sweep(sessions, scheduled, at)).dnc_imports


def _last_result(api: TestClient) -> Any:
    return api.get("/api/v1/tenant").json()["dnc_import_last_result"]


def test_the_file_replaces_the_list_when_due(
    api: TestClient, sessions: SessionMaker, settings: Settings, tmp_path: Path
) -> None:
    (tmp_path / "dnc.txt").write_text("+49 30 1234567\n030 7654321\nnot a number\n")
    assert api.post("/api/v1/dnc", json={"numbers": ["+49 30 9999999"]}).is_success
    schedule = {"dnc_import_path": "dnc.txt", "dnc_import_every_minutes": 60}
    assert api.patch("/api/v1/tenant", json=schedule).is_success
    assert _sweep(sessions, settings, tmp_path, START) == 1
    assert _listed(sessions) == {"+49301234567", "+49307654321"}
    assert _last_result(api) == {
        "file": "dnc.txt",
        "counts": {"added": 2, "exists": 0, "removed": 1, "not_found": 0, "invalid_number": 1},
        "invalid_lines": [3],
    }
    with unit_of_work(sessions) as session:
        row = session.scalars(select(AuditEntry).where(AuditEntry.action == "replace")).one()
        assert (row.face, row.credential) == ("schedule", "dnc_import")
    (tmp_path / "dnc.txt").write_text("+49 30 1111111\n")
    assert _sweep(sessions, settings, tmp_path, START + timedelta(minutes=59)) == 0
    assert _listed(sessions) == {"+49301234567", "+49307654321"}
    assert _sweep(sessions, settings, tmp_path, START + timedelta(minutes=60)) == 1
    assert _listed(sessions) == {"+49301111111"}


def test_a_bad_file_keeps_the_old_list_and_says_why(
    api: TestClient, sessions: SessionMaker, settings: Settings, tenant: NewTenant, tmp_path: Path
) -> None:
    assert api.post("/api/v1/dnc", json={"numbers": ["+49 30 9999999"]}).is_success
    schedule = {"dnc_import_path": "missing.csv", "dnc_import_every_minutes": 5}
    assert api.patch("/api/v1/tenant", json=schedule).is_success
    assert _sweep(sessions, settings, tmp_path, START) == 0
    assert "cannot read missing.csv" in _last_result(api)["error"]
    (tmp_path / "missing.csv").write_text("number\nnone\n")
    assert _sweep(sessions, settings, tmp_path, START + timedelta(minutes=5)) == 0
    assert _last_result(api)["error"] == "No valid number in the new list; the list is unchanged"
    assert _sweep(sessions, settings, None, START + timedelta(minutes=10)) == 0
    assert _last_result(api)["error"] == "the server has no dnc_import_dir"
    assert _listed(sessions) == {"+49309999999"}
    with unit_of_work(sessions) as session:
        replaced = select(AuditEntry).where(AuditEntry.action == "replace")
        assert session.scalars(replaced).all() == []


def test_no_schedule_reads_nothing(
    api: TestClient, sessions: SessionMaker, settings: Settings, tmp_path: Path
) -> None:
    (tmp_path / "dnc.txt").write_text("+49 30 1234567\n")
    assert api.patch("/api/v1/tenant", json={"dnc_import_path": "dnc.txt"}).is_success
    assert _sweep(sessions, settings, tmp_path, START) == 0  # no interval: never due
    assert _listed(sessions) == set()
