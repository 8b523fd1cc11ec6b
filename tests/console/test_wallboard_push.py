"""The wallboard's stream against a real server (no browser): the whole document first, then
only what changed, whoever made the change; a late joiner gets the whole document as it is
now."""

import json
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any, TypeVar

import httpx
from sqlalchemy.orm import Session

from opendialer.accounts.service import NewTenant
from opendialer.config import Settings
from opendialer.console.wallboard_service import read_slow, refresh
from opendialer.db import SessionMaker, unit_of_work
from opendialer.models import AgentSession, AgentState, UserRole
from opendialer.models.base import utcnow
from opendialer.scoping import Scope
from tests.console.browser import PASSWORD, make_agent, make_console_campaign
from tests.live import REQUEST_TIMEOUT, serve

DEADLINE = 20.0  # seconds for an awaited event; the page's goal is 1 s, not asserted here

Event = tuple[str, dict[str, Any]]
T = TypeVar("T")


def bearer_headers(client: httpx.Client, username: str) -> dict[str, str]:
    answer = client.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD})
    answer.raise_for_status()
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def _events(stream: httpx.Response) -> Iterator[Event]:
    name = ""
    for line in stream.iter_lines():
        if line.startswith("event: "):
            name = line.removeprefix("event: ")
        elif line.startswith("data: "):
            yield name, json.loads(line.removeprefix("data: "))


def _first(events: Iterator[Event], wanted: Callable[[Event], bool]) -> Event:
    """The first event ``wanted``, within the deadline (keep-alives end each wait)."""
    deadline = time.monotonic() + DEADLINE
    for event in events:
        if wanted(event):
            return event
        assert time.monotonic() < deadline, "the awaited event did not come"
    raise AssertionError("the stream ended")


def _states(agents: list[dict[str, Any]]) -> dict[str, str]:
    return {a["username"]: a["state"] for a in agents}


def _carries(username: str, state: str) -> Callable[[Event], bool]:
    def wanted(event: Event) -> bool:
        name, data = event
        return name == "wallboard_delta" and _states(data["agents"]).get(username) == state

    return wanted


def test_a_change_reaches_an_open_wallboard_as_a_delta_and_a_late_joiner_gets_it_whole(
    settings: Settings, sessions: SessionMaker, tenant: NewTenant
) -> None:
    tenant_id = tenant.tenant.id
    ann = make_agent(sessions, tenant_id, "ann")
    make_agent(sessions, tenant_id, "bob")
    make_agent(sessions, tenant_id, "sue", UserRole.SUPERVISOR)
    make_console_campaign(sessions, tenant_id, ann, "predictive")
    with (
        serve(settings) as base_url,
        httpx.Client(base_url=base_url, timeout=REQUEST_TIMEOUT) as client,
    ):
        sue, ann_login = bearer_headers(client, "sue"), bearer_headers(client, "ann")
        with client.stream("GET", "/console/api/wallboard/events", headers=sue) as stream:
            events = _events(stream)
            name, whole = next(events)
            assert name == "wallboard"
            assert _states(whole["agents"]) == {"ann": "logged_out", "bob": "logged_out"}

            client.post("/console/api/agent/login", headers=ann_login).raise_for_status()
            _name, delta = _first(events, _carries("ann", "paused"))
            assert "bob" not in _states(delta["agents"])  # unchanged: not sent again
            assert delta["removed_agents"] == []

            with client.stream("GET", "/console/api/wallboard/events", headers=sue) as late:
                name, joined = next(_events(late))
            assert name == "wallboard"
            assert _states(joined["agents"]) == {"ann": "paused", "bob": "logged_out"}
            assert [c["name"] for c in joined["campaigns"]] == [
                c["name"] for c in whole["campaigns"]
            ]

            client.post("/console/api/agent/ready", headers=ann_login).raise_for_status()
            _first(events, _carries("ann", "ready"))

            # A writer the server does not hear (another process: here the test's own
            # database engine, which publishes nothing to the server's producer).
            with unit_of_work(sessions) as session:
                row = session.get_one(AgentSession, ann)
                row.state, row.pause_reason, row.since = AgentState.PAUSED, "coffee", utcnow()
            _name, delta = _first(events, _carries("ann", "paused"))
            assert {a["username"]: a["pause_reason"] for a in delta["agents"]}["ann"] == "coffee"


def test_a_tick_sees_an_agent_changed_by_a_writer_it_was_not_told_of(
    sessions: SessionMaker, tenant: NewTenant
) -> None:
    tenant_id = tenant.tenant.id
    ann = make_agent(sessions, tenant_id, "ann")
    campaign_id = make_console_campaign(sessions, tenant_id, ann, "predictive")
    scope, now = Scope.system(tenant_id), utcnow()
    with unit_of_work(sessions) as session:
        session.add(
            AgentSession(
                user_id=ann,
                tenant_id=tenant_id,
                state=AgentState.READY,
                since=now,
                campaign_id=campaign_id,
                logged_in_at=now,
            )
        )

    def read(what: Callable[[Session], T]) -> T:
        with unit_of_work(sessions, writes=False) as session:
            return what(session)

    live = read(lambda session: read_slow(session, scope, now))
    assert [(a.username, a.state) for a in live.agents.values()] == [("ann", AgentState.READY)]
    with unit_of_work(sessions) as session:
        row = session.get_one(AgentSession, ann)
        row.state, row.pause_reason = AgentState.PAUSED, "coffee"
    later = now + timedelta(seconds=1)
    board = read(lambda session: refresh(session, scope, later, None, live, changed_agents=()))
    assert [(a.username, a.state, a.pause_reason) for a in board.agents] == [
        ("ann", AgentState.PAUSED, "coffee")
    ]
