"""Native API: do-not-call lists, tenant-wide and per campaign, over HTTP."""

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, Insert, event, func, select
from sqlalchemy.orm import Session

from opendialer.accounts.service import NewTenant
from opendialer.db import SessionMaker, unit_of_work
from opendialer.models import DncEntry

WIDE = "+49301111111"
OWN = "+49302222222"


def _campaign(api: TestClient, name: str = "C") -> int:
    response = api.post("/api/v1/campaigns", json={"name": name, "dial_mode": "preview"})
    assert response.status_code == 201
    campaign_id: int = response.json()["id"]
    return campaign_id


def _add(api: TestClient, *numbers: str, campaign_id: int | None = None) -> dict[str, Any]:
    response = api.post("/api/v1/dnc", json={"numbers": list(numbers), "campaign_id": campaign_id})
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def _check(api: TestClient, number: str, campaign_id: int | None = None) -> dict[str, Any]:
    params: dict[str, Any] = {"number": number}
    if campaign_id is not None:
        params["campaign_id"] = campaign_id
    response = api.get("/api/v1/dnc/check", params=params)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def _count(session: Session) -> int:
    session.expire_all()
    return int(session.scalar(select(func.count()).select_from(DncEntry)) or 0)


def test_add_reports_each_number_with_counts(api: TestClient) -> None:
    body = {
        "numbers": ["030 1234567", "+49301234567", "not a number", "089 4614950703"],
        "source": "crm",
        "note": "opt-out",
    }
    response = api.post("/api/v1/dnc", json=body)
    assert response.status_code == 200
    result = response.json()
    assert [r["outcome"] for r in result["records"]] == [
        "added",
        "exists",
        "invalid_number",
        "added",
    ]
    assert result["records"][0] == {
        "number": "030 1234567",
        "e164": "+49301234567",
        "outcome": "added",
    }
    assert result["records"][2]["e164"] is None
    assert result["counts"] == {
        "added": 2,
        "exists": 1,
        "removed": 0,
        "not_found": 0,
        "invalid_number": 1,
    }
    entry = api.get("/api/v1/dnc").json()["items"][0]
    assert (entry["source"], entry["note"], entry["campaign_id"]) == ("crm", "opt-out", None)


def test_adding_again_is_idempotent(api: TestClient, session: Session) -> None:
    _add(api, WIDE)
    again = _add(api, "030 1111111", WIDE)
    assert again["counts"]["exists"] == 2 and again["counts"]["added"] == 0
    assert _count(session) == 1


def test_check_tells_tenant_wide_from_campaign_lists(api: TestClient) -> None:
    first, second = _campaign(api, "A"), _campaign(api, "B")
    _add(api, WIDE)
    _add(api, OWN, campaign_id=first)
    own = _check(api, "0302222222", first)
    assert (own["blocked"], own["on_tenant_list"], own["on_campaign_list"]) == (True, False, True)
    assert own["e164"] == OWN and own["entries"][0]["campaign_id"] == first
    assert _check(api, "0302222222", second)["blocked"] is False
    assert _check(api, "0302222222")["blocked"] is False
    wide = _check(api, WIDE, second)
    assert (wide["blocked"], wide["on_tenant_list"], wide["on_campaign_list"]) == (
        True,
        True,
        False,
    )


def test_the_same_number_on_both_lists(api: TestClient) -> None:
    campaign = _campaign(api)
    _add(api, WIDE)
    assert _add(api, WIDE, campaign_id=campaign)["counts"]["added"] == 1
    check = _check(api, WIDE, campaign)
    assert [e["campaign_id"] for e in check["entries"]] == [None, campaign]
    removed = api.post("/api/v1/dnc:remove", json={"numbers": [WIDE], "campaign_id": campaign})
    assert removed.json()["counts"]["removed"] == 1
    after = _check(api, WIDE, campaign)
    assert (after["on_tenant_list"], after["on_campaign_list"]) == (True, False)


def test_remove_reports_each_number(api: TestClient) -> None:
    _add(api, WIDE, OWN)
    removed = api.post("/api/v1/dnc:remove", json={"numbers": ["0301111111", "+49309999999", "x"]})
    assert removed.status_code == 200
    assert [r["outcome"] for r in removed.json()["records"]] == [
        "removed",
        "not_found",
        "invalid_number",
    ]
    assert removed.json()["counts"]["removed"] == 1
    assert [e["e164"] for e in api.get("/api/v1/dnc").json()["items"]] == [OWN]
    again = api.post("/api/v1/dnc:remove", json={"numbers": [WIDE]})
    assert again.json()["counts"]["not_found"] == 1


def test_list_filters_and_pages(api: TestClient) -> None:
    campaign = _campaign(api)
    _add(api, WIDE, OWN)
    _add(api, "+49303333333", campaign_id=campaign)

    def listed(**params: Any) -> list[str]:
        response = api.get("/api/v1/dnc", params=params)
        assert response.status_code == 200, response.text
        return [e["e164"] for e in response.json()["items"]]

    assert listed() == [WIDE, OWN, "+49303333333"]
    assert listed(tenant_wide=True) == [WIDE, OWN]
    assert listed(campaign_id=campaign) == ["+49303333333"]
    assert listed(number="30 222") == [OWN]
    assert listed(number="+4930", campaign_id=campaign) == ["+49303333333"]
    first_page = api.get("/api/v1/dnc", params={"limit": 2}).json()
    assert len(first_page["items"]) == 2 and first_page["next_cursor"] is not None
    rest = listed(limit=2, cursor=first_page["next_cursor"])
    assert rest == ["+49303333333"]


def test_list_rejects_bad_filters(api: TestClient, other_api: TestClient) -> None:
    theirs = _campaign(other_api)
    both = api.get("/api/v1/dnc", params={"campaign_id": 1, "tenant_wide": True})
    assert both.status_code == 400
    assert both.json()["error"]["code"] == "conflicting_filters"
    assert api.get("/api/v1/dnc", params={"campaign_id": theirs}).status_code == 404
    assert api.get("/api/v1/dnc", params={"number": "abc"}).status_code == 422
    assert api.get("/api/v1/dnc", params={"campaign_id": "x"}).status_code == 422


def test_check_rejects_bad_input(api: TestClient, other_api: TestClient) -> None:
    theirs = _campaign(other_api)
    invalid = api.get("/api/v1/dnc/check", params={"number": "12"})
    assert invalid.status_code == 422
    assert invalid.json()["error"]["code"] == "invalid_phone_number"
    assert api.get("/api/v1/dnc/check").status_code == 422
    missing = api.get("/api/v1/dnc/check", params={"number": WIDE, "campaign_id": theirs})
    assert missing.status_code == 404


def test_delete_entry(api: TestClient, other_api: TestClient) -> None:
    _add(api, WIDE)
    entry_id = api.get("/api/v1/dnc").json()["items"][0]["id"]
    assert other_api.delete(f"/api/v1/dnc/{entry_id}").status_code == 404
    assert api.delete(f"/api/v1/dnc/{entry_id}").status_code == 204
    assert api.delete(f"/api/v1/dnc/{entry_id}").status_code == 404
    assert _check(api, WIDE)["blocked"] is False
    assert api.delete("/api/v1/dnc/0").status_code == 422


def test_tenant_isolation(api: TestClient, other_api: TestClient) -> None:
    campaign = _campaign(api)
    _add(api, WIDE)
    assert other_api.get("/api/v1/dnc").json()["items"] == []
    assert _check(other_api, WIDE)["blocked"] is False
    assert other_api.post("/api/v1/dnc:remove", json={"numbers": [WIDE]}).json()["counts"] == {
        "added": 0,
        "exists": 0,
        "removed": 0,
        "not_found": 1,
        "invalid_number": 0,
    }
    assert _check(api, WIDE)["blocked"] is True
    into_mine = other_api.post("/api/v1/dnc", json={"numbers": [OWN], "campaign_id": campaign})
    assert into_mine.status_code == 404
    assert _add(other_api, WIDE)["counts"]["added"] == 1  # their own list is separate


def test_requires_an_api_key(client: TestClient) -> None:
    assert client.get("/api/v1/dnc").status_code == 401
    assert client.post("/api/v1/dnc", json={"numbers": [WIDE]}).status_code == 401


@pytest.mark.parametrize(
    "body",
    [
        {"numbers": []},
        {"numbers": WIDE},
        {"numbers": [4930111111]},
        {"numbers": [None]},
        {"numbers": ["9" * 65]},
        {"numbers": [WIDE], "campaign_id": 0},
        {"numbers": [WIDE], "campaign_id": "one"},
        {"numbers": [WIDE], "source": ""},
        {"numbers": [WIDE], "surprise": True},
        {"numbers": [WIDE] * 10_001},
        {},
    ],
)
def test_bad_bodies_are_422_and_write_nothing(
    api: TestClient, session: Session, body: dict[str, Any]
) -> None:
    for path in ("/api/v1/dnc", "/api/v1/dnc:remove"):
        response = api.post(path, json=body)
        assert response.status_code == 422, response.text
        assert response.json()["error"]["code"] == "validation_error"
    assert _count(session) == 0


def test_ten_thousand_numbers_in_one_request(api: TestClient, session: Session) -> None:
    numbers = [f"+4930{5_000_000 + i}" for i in range(10_000)]
    assert _add(api, *numbers)["counts"]["added"] == 10_000
    assert _count(session) == 10_000
    removed = api.post("/api/v1/dnc:remove", json={"numbers": numbers})
    assert removed.json()["counts"]["removed"] == 10_000
    assert _count(session) == 0


def test_unknown_campaign_writes_nothing(api: TestClient, session: Session) -> None:
    response = api.post("/api/v1/dnc", json={"numbers": [WIDE, OWN], "campaign_id": 999})
    assert response.status_code == 404
    assert response.json()["error"]["details"]["resource"] == "campaign"
    assert _count(session) == 0


@pytest.fixture
def racing_writer(
    sessions: SessionMaker, db_engine: Engine, tenant: NewTenant
) -> Iterator[list[str]]:
    """Commits the numbers put in the list from another transaction just before the next
    INSERT of DNC entries: a concurrent request that added the same number between our read
    and our write."""
    pending: list[str] = []

    def before_insert(_conn: Any, statement: Any, *_rest: Any) -> None:
        ours = isinstance(statement, Insert) and statement.table.name == "dnc_entries"
        if not pending or not ours:
            return
        numbers = list(pending)
        pending.clear()
        with unit_of_work(sessions) as other:
            other.add_all(
                DncEntry(tenant_id=tenant.tenant.id, e164=n, source="race") for n in numbers
            )

    event.listen(db_engine, "before_execute", before_insert)
    yield pending
    event.remove(db_engine, "before_execute", before_insert)


def test_a_number_added_by_a_simultaneous_request_is_exists_not_a_conflict(
    api: TestClient, session: Session, racing_writer: list[str]
) -> None:
    if session.get_bind().dialect.name == "sqlite":
        pytest.skip("a SQLite write request holds the write lock from BEGIN IMMEDIATE: no race")
    racing_writer.append(OWN)
    body = _add(api, WIDE, OWN)
    assert body["counts"] == {
        "added": 1,
        "exists": 1,
        "removed": 0,
        "not_found": 0,
        "invalid_number": 0,
    }
    outcomes = {r["e164"]: r["outcome"] for r in body["records"]}
    assert outcomes == {WIDE: "added", OWN: "exists"}
    entries = session.scalars(select(DncEntry).order_by(DncEntry.e164)).all()
    assert sorted((e.e164, e.source) for e in entries) == sorted([(OWN, "race"), (WIDE, "api")])
