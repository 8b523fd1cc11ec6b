"""The fit of a scenario to a campaign's history (pure: made-up rows with known figures)."""

import statistics
from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from opendialer.models import AgentState, CallOutcome, DialMode
from opendialer.telephony.sim_scenario import Schedule, value_at
from opendialer.whatif.fit import AttemptRow, CampaignRules, StateSpan, fit
from tests.whatif.history import ANSWER_AFTER, BERLIN, TALK, Day, attempts_of, spans_of

RULES = CampaignRules(
    name="Spring",
    timezone="Europe/Berlin",
    abandon_target=0.02,
    amd=True,
    ring_timeout=30.0,
    dial_mode=DialMode.PREDICTIVE,
)
MONDAY = Day(date=datetime(2026, 11, 2, tzinfo=BERLIN))
TUESDAY = replace(MONDAY, date=MONDAY.date + timedelta(days=1))
HALF_PAST_NINE = 9.5 * 3600


def test_shares_durations_and_shift_come_back_from_the_history() -> None:
    fitted = fit(RULES, attempts_of(MONDAY), spans_of(MONDAY)).scenario
    customers = fitted.sim.customers
    assert value_at(customers.p_live, HALF_PAST_NINE) == pytest.approx(0.3)
    assert value_at(customers.p_machine, HALF_PAST_NINE) == pytest.approx(0.1)
    assert value_at(customers.busy_share, HALF_PAST_NINE) == pytest.approx(2 / 6)
    assert value_at(customers.live_answer_after.mean, 0) == pytest.approx(
        statistics.fmean(ANSWER_AFTER)
    )
    assert value_at(customers.talk_time.mean, 0) == pytest.approx(statistics.fmean(TALK), rel=0.01)
    assert customers.talk_time.dist == "lognormal"
    assert (fitted.start, fitted.hours) == ("09:00", 2.0)
    assert fitted.sim.timezone == "Europe/Berlin"
    assert (fitted.amd, fitted.abandon_target, fitted.ring_timeout) == (True, 0.02, 30.0)


def test_wrap_up_and_agents_on_duty_come_from_the_state_history() -> None:
    spans = spans_of(MONDAY)
    fitted = fit(RULES, attempts_of(MONDAY), spans).scenario
    wraps = [s.seconds for s in spans if s.state is AgentState.WRAP_UP]
    assert value_at(fitted.sim.agents.wrap_up.mean, 0) == pytest.approx(statistics.fmean(wraps))
    assert fitted.agents_at(HALF_PAST_NINE) == MONDAY.agents
    assert fitted.agents_at(10.5 * 3600) == MONDAY.agents


def test_an_agents_latest_unfinished_state_is_no_duration() -> None:
    spans = spans_of(MONDAY)
    still_wrapping = StateSpan(
        user_id=1,
        state=AgentState.WRAP_UP,
        start=spans[-1].end,
        end=spans[-1].end + timedelta(hours=3),
        closed=False,
    )
    with_open = fit(RULES, attempts_of(MONDAY), [*spans, still_wrapping]).scenario
    without = fit(RULES, attempts_of(MONDAY), spans).scenario
    assert with_open.sim.agents.wrap_up == without.sim.agents.wrap_up


def test_shares_follow_the_hour_of_day_where_each_hour_has_enough_calls() -> None:
    nine_to_ten = [a for a in attempts_of(MONDAY) if a.started_at.astimezone(BERLIN).hour == 9]
    nobody_after_ten = [
        replace(
            a, outcome=CallOutcome.NO_ANSWER, answered_at=None, connected_at=None, machine=False
        )
        for a in attempts_of(MONDAY)
        if a.started_at.astimezone(BERLIN).hour == 10
    ]
    nobody_after_ten = [replace(a, machine=False) for a in nobody_after_ten]
    p_live = fit(RULES, nine_to_ten + nobody_after_ten, []).scenario.sim.customers.p_live
    assert isinstance(p_live, Schedule)
    assert value_at(p_live, HALF_PAST_NINE) == pytest.approx(0.3)
    assert value_at(p_live, 10.5 * 3600) == pytest.approx(0.0)


def test_hours_with_few_calls_share_one_constant() -> None:
    sparse = replace(MONDAY, dial_every=60.0)  # 60 calls an hour: fewer than 100
    p_live = fit(RULES, attempts_of(sparse), []).scenario.sim.customers.p_live
    assert p_live == pytest.approx(0.3)


def test_observed_figures_are_per_day_means() -> None:
    attempts = attempts_of(MONDAY) + attempts_of(TUESDAY)
    spans = spans_of(MONDAY) + spans_of(TUESDAY)
    observed = fit(RULES, attempts, spans).observed
    per_day = len(attempts_of(MONDAY))
    assert observed.days == 2
    assert observed.attempts == per_day
    assert observed.live_answers == pytest.approx(0.3 * per_day)
    assert observed.machines == pytest.approx(0.1 * per_day)
    assert observed.connects == pytest.approx(0.3 * per_day)
    assert observed.agents == pytest.approx(MONDAY.agents, rel=0.01)
    assert observed.hours == pytest.approx(MONDAY.hours, rel=0.01)
    busy = sum(s.seconds for s in spans if s.state in (AgentState.ON_CALL, AgentState.WRAP_UP))
    on_duty = sum(s.seconds for s in spans if s.state is not AgentState.LOGGED_OUT)
    assert observed.occupancy == pytest.approx(busy / on_duty, rel=0.01)


def test_without_state_history_occupancy_is_unknown_and_defaults_stay() -> None:
    result = fit(RULES, attempts_of(MONDAY), [])
    assert result.observed.occupancy is None
    assert result.scenario.sim.agents.wrap_up.mean == 10.0  # the simulator's default


def test_a_handful_of_durations_is_no_distribution() -> None:
    few: list[AttemptRow] = attempts_of(MONDAY)[:30]  # 3 people answer in ten dials
    talks = fit(RULES, few[:11], []).scenario.sim.customers.talk_time
    assert talks.mean == 180.0  # fewer than 5 talks: the simulator's default
    assert fit(RULES, few, []).scenario.sim.customers.talk_time.mean != 180.0
