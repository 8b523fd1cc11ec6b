from datetime import datetime

from opendialer.clock import VirtualClock
from opendialer.db import SessionMaker
from opendialer.engine.simulation import (
    SimulationResult,
    SimulationSetup,
    prepare_campaign,
    simulate,
)
from opendialer.models import DialMode
from opendialer.telephony.sim_scenario import Scenario

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
