"""The reports through the native API: JSON and CSV agree, filters narrow, bad ranges are the
native 400, another tenant's campaign is a 404, agents may not read them."""

import csv
import io
from datetime import UTC, datetime

from fastapi.testclient import TestClient

from opendialer.accounts.service import NewTenant
from opendialer.db import SessionMaker
from opendialer.models import UserRole
from tests.console.browser import make_agent
from tests.console.test_router import bearer
from tests.reports.history import seed_day

DAY = datetime(2026, 11, 24, tzinfo=UTC)
RANGE = {"date_from": "2026-11-24", "date_to": "2026-11-24"}


def test_reports_as_json_and_csv_agree(
    api: TestClient, sessions: SessionMaker, tenant: NewTenant
) -> None:
    history = seed_day(sessions, tenant.tenant.id, DAY)
    for name in ("agent-performance", "results", "campaigns", "compliance"):
        report = api.get(f"/api/v1/reports/{name}", params=RANGE)
        assert report.status_code == 200, report.text
        body = report.json()
        assert body["time_zone"] == "Europe/Berlin"
        assert body["rows"], name
        download = api.get(f"/api/v1/reports/{name}", params=RANGE | {"format": "csv"})
        assert download.headers["content-type"].startswith("text/csv")
        assert "attachment" in download.headers["content-disposition"]
        rows = list(csv.DictReader(io.StringIO(download.text)))
        assert len(rows) == len(body["rows"])
        assert list(rows[0]) == list(body["rows"][0])

    agents = api.get("/api/v1/reports/agent-performance", params=RANGE).json()["rows"]
    assert [r["username"] for r in agents] == ["anna", "ben", "cleo"]
    for row in agents:
        assert row["logged_in_seconds"] > 7 * 3600
        assert row["pause_by_reason"] == {"lunch": 1800.0}
        assert sum(row["results"].values()) == row["calls"] == row["connects"]

    one = history.campaign_ids[0]
    narrowed = api.get("/api/v1/reports/campaigns", params=RANGE | {"campaign_id": one})
    assert {r["campaign_id"] for r in narrowed.json()["rows"]} == {one}
    compliance = api.get("/api/v1/reports/compliance", params=RANGE).json()["rows"]
    assert {r["dnc_refused"] for r in compliance} == {1}
    assert {r["outside_hours"] for r in compliance} == {0}  # 09:10-17:10 UTC, inside 9-20 (UTC)


def test_a_bad_range_or_another_tenants_campaign_is_refused(
    api: TestClient, other_api: TestClient, sessions: SessionMaker, tenant: NewTenant
) -> None:
    history = seed_day(sessions, tenant.tenant.id, DAY)
    backwards = api.get(
        "/api/v1/reports/results", params={"date_from": "2026-11-24", "date_to": "2026-11-01"}
    )
    assert backwards.status_code == 400
    assert backwards.json()["error"]["code"] == "invalid_dates"
    too_long = api.get(
        "/api/v1/reports/results", params={"date_from": "2020-01-01", "date_to": "2026-11-01"}
    )
    assert too_long.json()["error"]["code"] == "invalid_dates"
    not_a_date = api.get("/api/v1/reports/results", params={"date_from": "yesterday"})
    assert not_a_date.status_code == 422
    theirs = other_api.get(
        "/api/v1/reports/campaigns", params=RANGE | {"campaign_id": history.campaign_ids[0]}
    )
    assert theirs.status_code == 404
    mine = other_api.get("/api/v1/reports/campaigns", params=RANGE)
    assert mine.status_code == 200, mine.text
    assert mine.json()["rows"] == []


def test_agents_may_not_read_reports(
    client: TestClient, sessions: SessionMaker, tenant: NewTenant
) -> None:
    make_agent(sessions, tenant.tenant.id, "ann")
    make_agent(sessions, tenant.tenant.id, "sue", UserRole.SUPERVISOR)
    assert client.get("/api/v1/reports/results", headers=bearer(client, "ann")).status_code == 403
    assert client.get("/api/v1/reports/results", headers=bearer(client, "sue")).status_code == 200
