"""What-if from history: a simulated day fitted back, and the API and command on a database."""

import math
from datetime import datetime, timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from opendialer.accounts.service import NewTenant
from opendialer.db import SessionMaker, create_db_engine, create_sessionmaker, unit_of_work
from opendialer.demo import SimulationSetup
from opendialer.engine.scratch_run import ScratchRun, run_in_scratch_database
from opendialer.models import CallAttempt, Campaign, DialMode
from opendialer.scoping import Scope
from opendialer.telephony.campaign_scenario import CampaignScenario
from opendialer.telephony.sim_scenario import value_at
from opendialer.web.state import state_of
from opendialer.whatif.fit import Fit
from opendialer.whatif.service import fit_campaign
from tests.whatif.history import BERLIN, attempts_of, campaign_with_history, recent_days

KNOWN = CampaignScenario.model_validate(
    {
        "name": "known",
        "agents": 8,
        "start": "09:00",
        "hours": 0.5,
        "amd": True,
        "sim": {
            "timezone": "Europe/Berlin",
            "customers": {
                "p_live": 0.35,
                "p_machine": 0.1,
                "busy_share": 0.2,
                "live_answer_after": {"dist": "gamma", "mean": 7.0, "sd": 3.0},
                "talk_time": {"dist": "lognormal", "mean": 60.0, "sd": 30.0},
            },
            "agents": {"wrap_up": {"dist": "gamma", "mean": 8.0, "sd": 3.0}},
        },
    }
)
NINE = datetime(2025, 1, 6, 9, tzinfo=BERLIN)


@pytest.fixture(scope="module")
def fitted_day(tmp_path_factory: pytest.TempPathFactory) -> tuple[Fit, int]:
    """Half an hour of KNOWN through the real engine on a virtual clock, fitted back."""
    url = f"sqlite:///{tmp_path_factory.mktemp('history') / 'history.db'}"
    setup = SimulationSetup.of(KNOWN, 2000, DialMode.PREDICTIVE)
    run_in_scratch_database(
        ScratchRun(
            scenario=KNOWN, setup=setup, hours=KNOWN.hours, seed=7, start=NINE, database_url=url
        )
    )
    engine = create_db_engine(url)
    with unit_of_work(create_sessionmaker(engine)) as session:
        campaign = session.scalars(select(Campaign)).one()
        attempts = len(session.scalars(select(CallAttempt.id)).all())
        fitted = fit_campaign(
            session,
            Scope.system(campaign.tenant_id),
            campaign_id=campaign.id,
            now=NINE + timedelta(hours=2),
        )
    engine.dispose()
    return fitted, attempts


def _within(value: float, truth: float, standard_error: float) -> bool:
    return abs(value - truth) <= 4 * standard_error


def test_a_simulated_day_is_fitted_back_within_its_sampling_error(
    fitted_day: tuple[Fit, int],
) -> None:
    fitted, attempts = fitted_day
    customers = fitted.scenario.sim.customers
    p_live, p_machine = value_at(customers.p_live, 0), value_at(customers.p_machine, 0)
    assert attempts > 300
    assert _within(p_live, 0.35, math.sqrt(0.35 * 0.65 / attempts))
    assert _within(p_machine, 0.1, math.sqrt(0.1 * 0.9 / attempts))
    unanswered = attempts * (1 - 0.45)
    assert _within(value_at(customers.busy_share, 0), 0.2, math.sqrt(0.2 * 0.8 / unanswered))
    people = attempts * 0.35
    answer = customers.live_answer_after
    assert _within(value_at(answer.mean, 0), 7.0, 3.0 / math.sqrt(people))
    talks = fitted.observed.connects - fitted.observed.abandoned
    assert _within(value_at(customers.talk_time.mean, 0), 60.0, 30.0 / math.sqrt(talks))
    wrap = fitted.scenario.sim.agents.wrap_up
    assert _within(value_at(wrap.mean, 0), 8.0, 3.0 / math.sqrt(talks))
    assert fitted.scenario.agents_at(9.25 * 3600) == 8
    assert fitted.scenario.start == "09:00"
    assert fitted.scenario.amd


def test_the_api_answers_the_days_as_they_were_beside_the_simulated_day(
    api: TestClient, sessions: SessionMaker, tenant: NewTenant
) -> None:
    days = recent_days(2)
    campaign_id = campaign_with_history(sessions, tenant, days)
    answer = api.post(
        f"/api/v1/campaigns/{campaign_id}/what-if",
        json={"agents_delta": 1, "hours": 0.05, "dial_mode": "progressive"},
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    observed, simulated = body["observed"], body["simulated"]
    per_day = len(attempts_of(days[0]))
    assert observed["days"] == 2
    assert observed["attempts"] == per_day
    assert observed["live_answers"] == pytest.approx(0.3 * per_day)
    assert observed["agents"] == pytest.approx(days[0].agents, rel=0.01)
    assert body["dial_mode"] == "progressive"
    assert simulated["agents"] == days[0].agents + 1
    assert simulated["attempts"] > 0
    assert simulated["hours"] == pytest.approx(0.05)
    assert CampaignScenario.model_validate(body["scenario"]).agents_at(9.5 * 3600) == 5


def test_a_campaign_without_calls_has_nothing_to_fit(
    api: TestClient, sessions: SessionMaker, tenant: NewTenant
) -> None:
    with unit_of_work(sessions) as session:
        campaign = Campaign(
            tenant_id=tenant.tenant.id, name="New", dial_mode=DialMode.PREDICTIVE, timezone="UTC"
        )
        session.add(campaign)
        session.flush()
        campaign_id = campaign.id
    answer = api.post(f"/api/v1/campaigns/{campaign_id}/what-if", json={})
    assert answer.status_code == 409
    assert answer.json()["error"]["code"] == "no_history"


def test_agents_and_a_change_of_agents_do_not_mix(api: TestClient) -> None:
    answer = api.post("/api/v1/campaigns/1/what-if", json={"agents": 5, "agents_delta": 1})
    assert answer.status_code == 422
    assert "agents_delta" in answer.text


def test_a_what_if_too_large_for_a_request_is_refused_before_it_runs(
    api: TestClient, sessions: SessionMaker, tenant: NewTenant
) -> None:
    campaign_id = campaign_with_history(sessions, tenant, recent_days(1))
    answer = api.post(
        f"/api/v1/campaigns/{campaign_id}/what-if", json={"agents": 2000, "hours": 12}
    )
    assert answer.status_code == 422
    error = answer.json()["error"]
    assert error["code"] == "what_if_too_large"
    assert "24000 agent-hours" in error["message"]


def test_one_what_if_at_a_time_per_server(
    api: TestClient, sessions: SessionMaker, tenant: NewTenant
) -> None:
    campaign_id = campaign_with_history(sessions, tenant, recent_days(1))
    assert isinstance(api.app, FastAPI)
    running = state_of(api.app).what_if_running
    with running:
        answer = api.post(f"/api/v1/campaigns/{campaign_id}/what-if", json={"hours": 0.05})
    assert answer.status_code == 429
    assert answer.json()["error"]["code"] == "what_if_busy"
    assert answer.headers["Retry-After"] == "30"
    assert not running.locked()
