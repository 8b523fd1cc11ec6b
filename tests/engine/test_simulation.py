from datetime import datetime

from sqlalchemy import select

from opendialer.clock import VirtualClock
from opendialer.db import SessionMaker, unit_of_work
from opendialer.demo import SimulationSetup, prepare_campaign
from opendialer.engine.pacing.predictive import PredictivePolicy
from opendialer.engine.simulation import SimulationResult, simulate
from opendialer.models import DialMode, PacingDecision
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
