"""Replacing a DNC list with a new version: atomic (readers see the old or the new list, a
failure keeps the old), per-record outcomes, one audit row."""

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from opendialer.accounts.service import NewTenant
from opendialer.db import SessionMaker, unit_of_work
from opendialer.dnc.service import replace_list
from opendialer.models import DncEntry
from opendialer.scoping import Scope


def _list(sessions: SessionMaker, campaign_id: int | None = None) -> dict[str, int]:
    with unit_of_work(sessions) as session:
        stmt = select(DncEntry.e164, DncEntry.id).where(
            DncEntry.campaign_id.is_(None)
            if campaign_id is None
            else DncEntry.campaign_id == campaign_id
        )
        return {e164: entry_id for e164, entry_id in session.execute(stmt)}


def _replace(api: TestClient, *numbers: str, **extra: Any) -> Any:
    return api.post("/api/v1/dnc:replace", json={"numbers": list(numbers), **extra})


def test_a_new_version_replaces_the_list_with_outcomes(
    api: TestClient, sessions: SessionMaker
) -> None:
    api.post("/api/v1/dnc", json={"numbers": ["+49301111111", "+49302222222"]})
    kept_id = _list(sessions)["+49302222222"]
    answer = _replace(api, "030 2222222", "+49303333333", "12")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert [r["outcome"] for r in body["records"]] == ["exists", "added", "invalid_number"]
    assert body["counts"] == {
        "added": 1,
        "exists": 1,
        "removed": 1,
        "not_found": 0,
        "invalid_number": 1,
    }
    assert _list(sessions) == {
        "+49302222222": kept_id,
        "+49303333333": _list(sessions)["+49303333333"],
    }
    (row,) = api.get("/api/v1/audit", params={"entity": "dnc_entries"}).json()["items"][-1:]
    assert row["action"] == "replace" and row["changes"]["removed"] == 1


def test_a_campaign_list_is_replaced_alone(api: TestClient, sessions: SessionMaker) -> None:
    campaign = api.post("/api/v1/campaigns", json={"name": "C", "dial_mode": "preview"}).json()
    api.post("/api/v1/dnc", json={"numbers": ["+49301111111"]})
    api.post("/api/v1/dnc", json={"numbers": ["+49301111111"], "campaign_id": campaign["id"]})
    assert _replace(api, "+49304444444", campaign_id=campaign["id"]).status_code == 200
    assert set(_list(sessions, campaign["id"])) == {"+49304444444"}
    assert set(_list(sessions)) == {"+49301111111"}  # the tenant-wide list is untouched


def test_a_version_without_a_valid_number_leaves_the_old_list(
    api: TestClient, other_api: TestClient, sessions: SessionMaker
) -> None:
    api.post("/api/v1/dnc", json={"numbers": ["+49301111111"]})
    before = _list(sessions)
    refused = _replace(api, "12", "abc")
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "empty_dnc_list"
    campaign = api.post("/api/v1/campaigns", json={"name": "C", "dial_mode": "preview"}).json()
    other = _replace(other_api, "+49305555555", campaign_id=campaign["id"])
    assert other.status_code == 404  # another tenant's campaign
    assert _list(sessions) == before


def test_readers_see_the_old_list_until_the_new_one_is_committed(
    sessions: SessionMaker, tenant: NewTenant
) -> None:
    scope = Scope.system(tenant.tenant.id)
    old = [f"+4930{n:07d}" for n in range(1, 201)]
    new = [f"+4940{n:07d}" for n in range(1, 301)]
    with unit_of_work(sessions) as session:
        replace_list(session, scope, None, old)
    with unit_of_work(sessions) as writer:
        replace_list(writer, scope, None, new)
        writer.flush()
        assert set(_list(sessions)) == set(old)  # another connection: the old version whole
    assert set(_list(sessions)) == set(new)
