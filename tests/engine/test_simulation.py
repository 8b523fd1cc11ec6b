from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from opendialer.clock import VirtualClock
from opendialer.db import SessionMaker, unit_of_work
from opendialer.demo import SimulationSetup, number_for, prepare_campaign
from opendialer.engine.pacing.base import PacingPolicy, ProgressivePolicy
from opendialer.engine.pacing.baselines import FixedRatioPolicy
from opendialer.engine.pacing.predictive import PredictivePolicy
from opendialer.engine.simulation import Plan, SimulationResult, simulate, simulate_days
from opendialer.models import (
    AgentSession,
    AgentState,
    CallAttempt,
    Campaign,
    CampaignMember,
    Contact,
    DialMode,
    PacingDecision,
)
from opendialer.telephony.campaign_scenario import CampaignScenario
from opendialer.telephony.sim_scenario import Scenario
from tests.engine.helpers import predictive_campaign

START = datetime.fromisoformat("2026-11-23T09:00:00+00:00")
HALF_HOUR = 1800.0


def _run(sessions: SessionMaker, scenario: Scenario, name: str) -> SimulationResult:
    clock = VirtualClock(START)
    setup = SimulationSetup(agents=2, contacts=400, dial_mode=DialMode.PROGRESSIVE)
    campaign_id = prepare_campaign(sessions, setup, clock.now(), name=name)
    return clock.run(simulate(sessions, clock, campaign_id, scenario, seconds=HALF_HOUR, seed=5))


def test_simulated_agents_take_their_breaks(sessions: SessionMaker) -> None:
    breaks = Scenario.model_validate({"agents": {"break_every": 600, "break_length": 300}})
    with_breaks = _run(sessions, breaks, "Breaks")
    without = _run(sessions, Scenario(), "NoBreaks")

    # Two agents, each due a 300 s break after every 600 s of work: one or two breaks each.
    assert 2 * 300 <= with_breaks.break_seconds <= 2 * 2 * 300
    assert without.break_seconds == 0
    assert with_breaks.tally.connects < without.tally.connects
    # Occupancy is measured over time on duty, so breaks do not count as idle time.
    assert with_breaks.available_seconds == 2 * HALF_HOUR - with_breaks.break_seconds
    assert 0 < with_breaks.occupancy <= 1


def test_pacing_sees_agents_in_wrap_up_and_learns_their_wrap_up_time(
    sessions: SessionMaker,
) -> None:
    clock, campaign_id = predictive_campaign(sessions, START, 600, "WrapUp")
    scenario = Scenario.model_validate({"agents": {"wrap_up": 30.0}})
    policy = PredictivePolicy()
    clock.run(
        simulate(sessions, clock, campaign_id, scenario, seconds=HALF_HOUR, seed=3, policy=policy)
    )

    # Every wrap-up lasted 30 s; the engine reports it when it sees the agent ready (ticks).
    assert policy.wrap.count > 10
    assert 30.0 <= policy.wrap.table().quantile(0.5) <= 31.0
    with unit_of_work(sessions) as session:
        rows = session.scalars(
            select(PacingDecision).where(PacingDecision.campaign_id == campaign_id)
        ).all()
    in_wrap_up = [row.inputs["agents_in_wrap_up"] for row in rows]
    assert max(in_wrap_up) >= 1 and max(in_wrap_up) <= 4  # four agents


def test_simulated_agents_report_machines_and_people_are_counted_as_the_law_counts(
    sessions: SessionMaker,
) -> None:
    """AMD off: every machine reaches an agent, who says so; abandonment is of people."""
    clock = VirtualClock(datetime.fromisoformat("2026-11-23T09:00:00+00:00"))
    scenario = Scenario.model_validate({"customers": {"p_live": 0.2, "p_machine": 0.4}})
    campaign_id = prepare_campaign(
        sessions, SimulationSetup(agents=4, contacts=2000), clock.now(), name="AM"
    )
    result = clock.run(simulate(sessions, clock, campaign_id, scenario, seconds=1800, seed=5))
    truth = result.truth
    assert truth.machines_reported > 0
    assert truth.people_answered > 0
    # Without AMD the dialer takes every answer for a person until an agent says otherwise.
    assert truth.people_answered + truth.machines_reported <= result.tally.live_answers
    assert truth.people_abandoned <= result.tally.abandoned
    assert result.people_abandonment == truth.people_abandoned / truth.people_answered


def _scenario(**fields: object) -> CampaignScenario:
    data: dict[str, object] = {"name": "week", "agents": 3, "hours": 0.5, "amd": True}
    return CampaignScenario.model_validate(data | fields)


def _run_days(
    sessions: SessionMaker,
    scenario: CampaignScenario,
    plan: Plan,
    factory: Callable[[Campaign], PacingPolicy],
) -> SimulationResult:
    clock = VirtualClock(scenario.start_on(START.date()))
    setup = SimulationSetup.of(scenario, 1500, DialMode.PREDICTIVE)
    campaign_id = prepare_campaign(sessions, setup, clock.now(), name=scenario.name)
    return clock.run(
        simulate_days(sessions, clock, campaign_id, scenario, plan, policy_factory=factory)
    )


def _counting(
    make: Callable[[], PacingPolicy],
) -> tuple[list[PacingPolicy], Callable[[Campaign], PacingPolicy]]:
    made: list[PacingPolicy] = []

    def factory(_campaign: Campaign) -> PacingPolicy:
        made.append(make())
        return made[-1]

    return made, factory


def test_agents_follow_the_scenarios_schedule_hour_by_hour(sessions: SessionMaker) -> None:
    schedule = {"09:00": 4, "09:59": 4, "10:00": 1, "11:00": 1}
    scenario = _scenario(name="Schedule", agents=schedule, hours=2.0)
    _, factory = _counting(ProgressivePolicy)
    result = _run_days(sessions, scenario, Plan(hours=2.0, seed=2), factory)

    first, second = result.agents_by_hour()
    assert first == pytest.approx(4.0, abs=0.05)  # four on duty all the first hour
    # One from 10:00; the three sent home leave when their call is over (minutes at most).
    assert 1.0 <= second < 1.5
    assert result.agents == 4
    assert result.available_seconds < 4 * 2 * 3600 * 0.7  # not four agents all day
    with unit_of_work(sessions) as session:
        states = session.scalars(
            select(AgentSession.state)
            .join(CampaignMember, CampaignMember.user_id == AgentSession.user_id)
            .join(Campaign, Campaign.id == CampaignMember.campaign_id)
            .where(Campaign.name == "Schedule")
        ).all()
    assert set(states) == {AgentState.LOGGED_OUT}  # the shift is over: everyone went home


def test_several_days_carry_the_policy_and_the_30_day_ledger(sessions: SessionMaker) -> None:
    made, factory = _counting(PredictivePolicy)
    result = _run_days(sessions, _scenario(name="Days"), Plan(days=2, hours=0.5, seed=4), factory)

    first, second = result.days
    assert len(made) == 1  # one policy learning over both days
    assert first.live_answers > 0 and second.live_answers > 0
    # Day 2's ledger is its own calendar day; its 30 days start from day 1's tally (history).
    assert second.engine_day.live_answers <= second.live_answers
    assert second.engine_period.live_answers - second.engine_day.live_answers == first.live_answers
    assert second.engine_period.abandoned - second.engine_day.abandoned == first.abandoned
    assert sum(d.attempts for d in result.days) == result.tally.attempts


def test_an_engine_restart_mid_day_keeps_the_days_abandon_count(sessions: SessionMaker) -> None:
    made, factory = _counting(lambda: FixedRatioPolicy(3.0))  # dials hard: abandons early
    scenario = _scenario(name="Restart", hours=1.0, restart_at="09:30")
    result = _run_days(sessions, scenario, Plan(hours=1.0, restart_after=1800, seed=6), factory)

    day = result.days[0]
    at_restart = max((s for s in result.timeline if s.second <= 1800), key=lambda s: s.second)
    assert len(made) == 2 and day.restarts == 1  # the new engine paces with a fresh policy
    assert at_restart.abandoned > 0  # the morning's abandons, counted by the first engine
    assert day.abandoned > at_restart.abandoned  # and the second engine's own
    # The second engine recounted the morning from the history: the day's count is unchanged.
    assert day.engine_day.abandoned == day.abandoned


def test_the_contact_lists_retries_and_refills_come_from_the_scenario(
    sessions: SessionMaker,
) -> None:
    contacts = {"size": 4, "max_tries": 1, "retry_after": 600, "refills": {"09:10": 20}}
    scenario = _scenario(name="Refill", agents=2, hours=0.25, amd=False, contacts=contacts)
    _, factory = _counting(ProgressivePolicy)
    result = _run_days(sessions, scenario, Plan(hours=0.25, seed=3), factory)

    refilled = [number_for(i) for i in range(4, 24)]
    with unit_of_work(sessions) as session:
        campaign = session.scalars(select(Campaign).where(Campaign.name == "Refill")).one()
        listed = session.scalar(
            select(func.count()).select_from(Contact).where(Contact.campaign_id == campaign.id)
        )
        started = select(func.min(CallAttempt.started_at)).where(
            CallAttempt.campaign_id == campaign.id
        )
        first_call = session.scalar(started)
        first_refilled_call = session.scalar(started.where(CallAttempt.b_number.in_(refilled)))
        rules = (campaign.max_tries_per_number, campaign.retry_delay_seconds)
    assert rules == (1, 600)
    assert listed == 24
    assert result.tally.attempts > 4  # one try each: the refill was dialled
    assert first_call is not None and first_refilled_call is not None
    assert first_refilled_call - first_call >= timedelta(minutes=9, seconds=59)
