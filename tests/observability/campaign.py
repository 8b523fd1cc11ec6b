"""A real app dialling a fast simulated campaign (calls of about a second) with simulated agents,
for the metrics and log tests."""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from datetime import time as clock_time
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from opendialer.accounts.service import NewTenant
from opendialer.app import create_app
from opendialer.config import Settings
from opendialer.db import SessionMaker
from opendialer.demo import SimulationSetup, prepare_campaign
from opendialer.models import DialMode
from opendialer.web.state import state_of
from tests.conftest import make_tenant
from tests.observability.conftest import wait_for

METRICS_TOKEN = "m" * 40
# Every call ends within about a second: no unanswered dials ringing to the time-out.
FAST_NETWORK = {
    "customers": {
        "p_live": 0.4,
        "p_machine": 0.2,
        "busy_share": 0.5,
        "invalid_share": 0.25,
        "failed_share": 0.25,
        "post_dial_delay": 0.05,
        "live_answer_after": 0.2,
        "machine_answer_after": 0.3,
        "busy_after": 0.2,
        "invalid_after": 0.1,
        "failed_after": 0.1,
        "talk_time": 0.3,
        "machine_handling": 0.2,
    },
    "announcement_length": 0.1,
}


@contextmanager
def dialling_app(
    database_url: str, sessions: SessionMaker, **settings: Any
) -> Iterator[tuple[FastAPI, TestClient, NewTenant, int]]:
    tenant = make_tenant(sessions, "Watched")
    all_day = (clock_time(0), clock_time(23, 59, 59))
    setup = SimulationSetup(
        agents=3, contacts=300, dial_mode=DialMode.PREDICTIVE, calling_hours=all_day
    )
    campaign_id = prepare_campaign(sessions, setup, datetime.now(UTC), tenant_id=tenant.tenant.id)
    app = create_app(
        Settings(
            database_url=database_url,
            engine_enabled=True,
            simulate_agents=True,
            telephony_backend="sim",
            telephony_options={"scenario": FAST_NETWORK, "seed": 3},
            housekeeping_enabled=False,
            **settings,
        )
    )
    headers = {"Authorization": f"Bearer {tenant.api_key}"}
    try:
        with TestClient(app, headers=headers, raise_server_exceptions=False) as client:
            yield app, client, tenant, campaign_id
    finally:
        state_of(app).db_engine.dispose()


def stop_and_settle(client: TestClient, campaign_id: int) -> None:
    """Stop the campaign and wait until its last call has ended and been written."""
    assert client.post(f"/api/v1/campaigns/{campaign_id}:stop").status_code == 200

    def settled() -> bool:
        live = client.get(f"/api/v1/campaigns/{campaign_id}/live").json()
        calls, engine = live["calls"], live["engine"]
        return bool(sum(calls.values()) == 0 and engine["unwritten_endings"] == 0)

    wait_for(settled, "the campaign's last calls to end")
