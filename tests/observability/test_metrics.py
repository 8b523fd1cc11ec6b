"""/metrics: protected on the main port, or on a port of its own; the figures equal the call
history that the database holds."""

import json
import re
from collections import Counter
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample
from pydantic import ValidationError
from sqlalchemy import func, select

from opendialer.accounts.service import NewTenant
from opendialer.app import create_app
from opendialer.config import Settings
from opendialer.db import SessionMaker, unit_of_work
from opendialer.models import CallAttempt, CallOutcome
from opendialer.web.state import state_of
from tests.contacts.imports.test_router import CSV, campaign, post
from tests.observability.campaign import METRICS_TOKEN, dialling_app, stop_and_settle
from tests.observability.conftest import wait_for

AUTH = {"Authorization": f"Bearer {METRICS_TOKEN}"}


def _samples(text: str) -> list[Sample]:
    return [s for family in text_string_to_metric_families(text) for s in family.samples]


def _value(samples: list[Sample], name: str, **labels: str) -> float:
    found = [s.value for s in samples if s.name == name and labels.items() <= s.labels.items()]
    assert found, f"{name} {labels} not exposed"
    return sum(found)


def _history(sessions: SessionMaker, campaign_id: int) -> tuple[int, Counter[str]]:
    with unit_of_work(sessions, writes=False) as session:
        where = CallAttempt.campaign_id == campaign_id
        total = session.scalar(select(func.count()).where(where)) or 0
        rows = session.execute(
            select(CallAttempt.outcome, func.count()).where(where).group_by(CallAttempt.outcome)
        )
        return total, Counter({str(outcome): count for outcome, count in rows})


def test_main_port_metrics_need_the_token(database_url: str, sessions: SessionMaker) -> None:
    with dialling_app(database_url, sessions, metrics="main", metrics_token=METRICS_TOKEN) as (
        _app,
        client,
        _tenant,
        _campaign,
    ):
        assert client.get("/metrics").status_code == 401  # the tenant's API key is not it
        wrong = client.get("/metrics", headers={"Authorization": "Bearer " + "x" * 40})
        assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "unauthorized"
        answer = client.get("/metrics", headers=AUTH)
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/plain")
        assert _value(_samples(answer.text), "opendialer_db_up") == 1


def test_metrics_on_the_main_port_need_a_long_token() -> None:
    with pytest.raises(ValidationError, match="OPENDIALER_METRICS_TOKEN"):
        Settings(metrics="main")


def test_campaign_counters_equal_the_call_history(
    database_url: str, sessions: SessionMaker
) -> None:
    with dialling_app(database_url, sessions, metrics="main", metrics_token=METRICS_TOKEN) as (
        _app,
        client,
        tenant,
        campaign_id,
    ):
        wait_for(lambda: _history(sessions, campaign_id)[0] >= 15, "15 calls")
        stop_and_settle(client, campaign_id)
        samples = _samples(client.get("/metrics", headers=AUTH).text)
    total, outcomes = _history(sessions, campaign_id)
    campaign = {"campaign": str(campaign_id)}
    assert _value(samples, "opendialer_campaign_dials_total", **campaign) == total
    for outcome, count in outcomes.items():
        exposed = _value(samples, "opendialer_campaign_calls_ended_total", outcome=outcome)
        assert exposed == count, outcome
    assert sum(outcomes.values()) == total  # every call ended: none left open
    live = outcomes[CallOutcome.CONNECTED.value] + outcomes[CallOutcome.ABANDONED.value]
    assert _value(samples, "opendialer_campaign_live_answers_total", **campaign) == live
    abandoned = outcomes[CallOutcome.ABANDONED.value]
    assert _value(samples, "opendialer_campaign_abandoned_total", **campaign) == abandoned
    today = _value(samples, "opendialer_campaign_period_live_answers", period="today", **campaign)
    assert today == live
    assert _value(samples, "opendialer_campaign_calls", **campaign) == 0  # all ended
    assert _value(samples, "opendialer_engine_tick_lateness_seconds_count") > 0
    assert _value(samples, "opendialer_engine_tick_duration_seconds_count") > 0
    assert _value(samples, "opendialer_agents", tenant=str(tenant.tenant.id)) == 3  # by state


def test_http_requests_are_counted_by_route_template(
    database_url: str, sessions: SessionMaker
) -> None:
    with dialling_app(database_url, sessions, metrics="main", metrics_token=METRICS_TOKEN) as (
        _app,
        client,
        _tenant,
        campaign_id,
    ):
        for _ in range(3):
            assert client.get(f"/api/v1/campaigns/{campaign_id}/live").status_code == 200
        assert client.get("/api/v1/campaigns/999999/live").status_code == 404
        assert client.get("/no/such/path/123").status_code == 404
        samples = _samples(client.get("/metrics", headers=AUTH).text)
    route = "/api/v1/campaigns/{campaign_id}/live"
    name = "opendialer_http_requests_total"
    assert _value(samples, name, route=route, status="200") == 3
    assert _value(samples, name, route=route, status="404") == 1
    assert _value(samples, name, route="<unmatched>", status="404") == 1
    assert _value(samples, "opendialer_http_request_duration_seconds_count", route=route) == 4
    assert not [s for s in samples if "123" in s.labels.get("route", "")]


def test_metrics_on_their_own_port(database_url: str, sessions: SessionMaker) -> None:
    with dialling_app(database_url, sessions, metrics="port", metrics_port=0) as (
        app,
        client,
        _tenant,
        _campaign,
    ):
        assert client.get("/metrics").status_code == 404  # not on the main port
        answer = httpx.get(f"http://127.0.0.1:{state_of(app).metrics_port}/metrics", timeout=30)
        assert answer.status_code == 200
        samples = _samples(answer.text)
        assert _value(samples, "opendialer_engine_running") == 1
        assert _value(samples, "process_cpu_seconds_total") >= 0


def test_import_rows_are_counted_by_result(database_url: str, tenant: NewTenant) -> None:
    settings = Settings(
        database_url=database_url,
        engine_enabled=False,
        housekeeping_enabled=False,
        metrics="main",
        metrics_token=METRICS_TOKEN,
    )
    app = create_app(settings)
    headers = {"Authorization": f"Bearer {tenant.api_key}"}
    with TestClient(app, headers=headers) as api:
        report = post(api, campaign(api), CSV).json()
        samples = _samples(api.get("/metrics", headers=AUTH).text)
    state_of(app).db_engine.dispose()
    for result, rows in report["counts"].items():
        assert _value(samples, "opendialer_import_rows_total", result=result) == rows
    assert report["total"] == 3


def test_the_grafana_dashboard_shows_only_exposed_metrics(
    database_url: str, sessions: SessionMaker
) -> None:
    dashboard = Path(__file__).parents[2] / "deploy" / "grafana" / "opendialer.json"
    panels = json.loads(dashboard.read_text())["panels"]
    used = {
        name
        for panel in panels
        for target in panel["targets"]
        for name in re.findall(r"opendialer_[a-z_]+", target["expr"])
    }
    with dialling_app(database_url, sessions, metrics="main", metrics_token=METRICS_TOKEN) as (
        _app,
        client,
        _tenant,
        campaign_id,
    ):
        wait_for(lambda: _history(sessions, campaign_id)[0] >= 1, "a call")
        assert client.get("/healthz").status_code == 200  # labelled series exist once used
        text = client.get("/metrics", headers=AUTH).text
    exposed = {s.name for s in _samples(text)} | {
        line.split()[2] for line in text.splitlines() if line.startswith("# TYPE")
    }
    assert used and used <= exposed, used - exposed
