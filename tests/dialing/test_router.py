"""Native API: running campaigns, live state and pacing log."""

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlalchemy.orm import Session

from opendialer.accounts.service import NewTenant
from opendialer.dialing.recent_counts import RecentCounts
from opendialer.models import (
    CallAttempt,
    CallOutcome,
    Campaign,
    Contact,
    ContactPhone,
    PacingDecision,
    User,
)
from opendialer.web.params import wall_clock
from opendialer.web.state import state_of
from tests.factories import make_agent
from tests.statements import statements_sent

NOW = datetime(2026, 6, 3, 10, 0, tzinfo=UTC)
"""A Wednesday morning: far from any midnight, so "today" and calling hours never flicker."""


@pytest.fixture(autouse=True)
def pinned_clock(app: FastAPI) -> Iterator[None]:
    app.dependency_overrides[wall_clock] = lambda: lambda: NOW
    yield
    app.dependency_overrides.pop(wall_clock)


def new_campaign(api: TestClient, **fields: object) -> dict[str, object]:
    body = {
        "name": "Run",
        "dial_mode": "predictive",
        "calling_days": [1, 2, 3, 4, 5, 6, 7],
        "calling_hours_start": "00:00:00",
        "calling_hours_end": "23:59:59",
        **fields,
    }
    response = api.post("/api/v1/campaigns", json=body)
    assert response.status_code == 201, response.text
    data: dict[str, object] = response.json()
    return data


def new_agent(session: Session, tenant: NewTenant, campaign_id: int | None = None) -> User:
    campaigns = [] if campaign_id is None else [session.get_one(Campaign, campaign_id)]
    user = make_agent(session, tenant.tenant.id, campaigns=campaigns)
    session.commit()
    return user


def new_contact(session: Session, campaign_id: int, tenant: NewTenant, **fields: object) -> Contact:
    contact = Contact(
        tenant_id=tenant.tenant.id,
        campaign_id=campaign_id,
        next_try_at=NOW - timedelta(minutes=1),
        custom_data={},
        form_data={},
        **fields,
    )
    contact.phones = [
        ContactPhone(
            tenant_id=tenant.tenant.id,
            campaign_id=campaign_id,
            position=1,
            raw="+4930123456",
            e164="+4930123456",
        )
    ]
    session.add(contact)
    session.commit()
    return contact


def test_start_reports_why_it_cannot_dial(
    api: TestClient, session: Session, tenant: NewTenant
) -> None:
    campaign = new_campaign(api)
    url = f"/api/v1/campaigns/{campaign['id']}"
    assert api.post(f"{url}:start").json()["state"] == "no_members"
    user = new_agent(session, tenant, int(str(campaign["id"])))
    assert api.post(f"{url}:start").json()["state"] == "no_agents_logged_in"
    api.post(f"/api/v1/agents/{user.id}:login")
    assert api.post(f"{url}:start").json()["state"] == "no_eligible_contacts"
    new_contact(session, int(str(campaign["id"])), tenant)
    started = api.post(f"{url}:start").json()
    assert (started["state"], started["status"]) == ("running", "enabled")
    stopped = api.post(f"{url}:stop").json()
    assert (stopped["state"], stopped["status"]) == ("disabled", "disabled")


def test_outside_hours_is_a_state(api: TestClient, session: Session, tenant: NewTenant) -> None:
    campaign = new_campaign(api, calling_days=[])
    new_agent(session, tenant, int(str(campaign["id"])))
    assert api.post(f"/api/v1/campaigns/{campaign['id']}:start").json()["state"] == "outside_hours"


def _attempt(
    tenant: NewTenant, campaign_id: int, outcome: CallOutcome, started_at: datetime = NOW
) -> CallAttempt:
    return CallAttempt(
        tenant_id=tenant.tenant.id,
        campaign_id=campaign_id,
        b_number="+4930123456",
        started_at=started_at,
        ended_at=started_at,
        outcome=outcome,
    )


def test_live_state_and_stream(api: TestClient, session: Session, tenant: NewTenant) -> None:
    campaign = new_campaign(api)
    cid = int(str(campaign["id"]))
    new_contact(session, cid, tenant)
    new_contact(session, cid, tenant, locked=True)
    for outcome in (
        CallOutcome.CONNECTED,
        CallOutcome.CONNECTED,
        CallOutcome.ABANDONED,
        CallOutcome.NO_ANSWER,
    ):
        session.add(_attempt(tenant, cid, outcome))
    session.commit()
    state = api.get(f"/api/v1/campaigns/{cid}/live").json()
    assert state["contacts"]["pending"] == 1 and state["contacts"]["locked"] == 1
    assert state["today"]["live_answers"] == 3 and state["today"]["abandoned"] == 1
    assert abs(state["last_30_days"]["abandonment"] - 1 / 3) < 1e-9
    assert state["calls"] is None
    with api.stream(
        "GET", f"/api/v1/campaigns/{cid}/live/stream", params={"limit": 2, "interval": 0.2}
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        events = [line for line in response.iter_lines() if line.startswith("data: ")]
    assert len(events) == 2
    assert json.loads(events[0][6:])["campaign_id"] == cid


def test_live_state_counts_each_figure_once(
    api: TestClient, app: FastAPI, session: Session, tenant: NewTenant
) -> None:
    """Every client polls the live view: one query per figure (both windows of rates in one),
    and the windows still differ."""
    cid = int(str(new_campaign(api, status="enabled")["id"]))
    for started_at in (NOW, NOW - timedelta(days=10), NOW - timedelta(days=40)):
        session.add(_attempt(tenant, cid, CallOutcome.CONNECTED, started_at))
    session.commit()
    statements: list[str] = []
    engine = state_of(app).db_engine
    record = lambda *args: statements.append(args[2])  # noqa: E731
    # (SQLite's BEGIN is a statement of its own; PostgreSQL's is not counted here)
    event.listen(engine, "before_cursor_execute", record)
    try:
        state = api.get(f"/api/v1/campaigns/{cid}/live").json()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert state["today"]["attempts"] == 1 and state["last_30_days"]["attempts"] == 2
    # the campaign, its members, agents by state (once: counts and list), contacts, rates
    # (and the API key's, unless this process verified it within the last second)
    queries = [s for s in statements if not s.startswith("BEGIN") and "FROM api_keys" not in s]
    assert len(queries) == 5, "\n".join(queries)


def test_live_view_reuses_a_campaigns_counts_for_a_moment(
    api: TestClient,
    app: FastAPI,
    session: Session,
    tenant: NewTenant,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every screen polls the live view: the counts over all of a campaign's contacts and
    attempts are made once per lifetime (here a virtual second), the agents every time."""
    clock = [0.0]
    monkeypatch.setattr(state_of(app), "recent_counts", RecentCounts(1.0, lambda: clock[0]))
    cid = int(str(new_campaign(api, status="enabled")["id"]))
    new_contact(session, cid, tenant)
    url = f"/api/v1/campaigns/{cid}/live"
    assert api.get(url).json()["contacts"]["pending"] == 1
    new_contact(session, cid, tenant)
    with statements_sent(state_of(app).db_engine) as sent:
        again = api.get(url).json()
    assert again["contacts"]["pending"] == 1  # the count of a moment ago
    assert not [s for s in sent if "FROM contacts" in s or "FROM call_attempts" in s], sent
    assert [s for s in sent if "FROM agent_sessions" in s]
    clock[0] = 1.0
    assert api.get(url).json()["contacts"]["pending"] == 2


def test_pacing_log_pages(
    api: TestClient, other_api: TestClient, session: Session, tenant: NewTenant
) -> None:
    campaign = new_campaign(api)
    cid = int(str(campaign["id"]))
    for i in range(3):
        session.add(
            PacingDecision(
                tenant_id=tenant.tenant.id,
                campaign_id=cid,
                decided_at=NOW,
                algorithm="predictive",
                dials=i,
                target_in_flight=2.5,
                inputs={"p_live": 0.2},
                reason=f"decision {i}",
            )
        )
    session.commit()
    page = api.get(f"/api/v1/campaigns/{cid}/pacing-log", params={"limit": 2}).json()
    assert [d["dials"] for d in page["items"]] == [0, 1]
    assert page["items"][0]["inputs"] == {"p_live": 0.2}
    assert other_api.get(f"/api/v1/campaigns/{cid}/pacing-log").status_code == 404
