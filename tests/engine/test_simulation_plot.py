from datetime import datetime
from pathlib import Path

from opendialer.clock import VirtualClock
from opendialer.db import SessionMaker
from opendialer.demo import SimulationSetup, prepare_campaign
from opendialer.engine.simulation import simulate
from opendialer.engine.simulation_plot import plot
from opendialer.models import DialMode
from opendialer.telephony.sim_scenario import Scenario

START = datetime.fromisoformat("2026-11-23T09:00:00+00:00")


def test_a_run_keeps_its_timeline_and_draws_it(sessions: SessionMaker, tmp_path: Path) -> None:
    clock = VirtualClock(START)
    setup = SimulationSetup(agents=2, contacts=300, dial_mode=DialMode.PROGRESSIVE)
    campaign_id = prepare_campaign(sessions, setup, clock.now(), name="Timeline")
    result = clock.run(simulate(sessions, clock, campaign_id, Scenario(), seconds=1800, seed=2))

    # A sample every 5 minutes from the start to the end, totals never going down.
    assert [s.second for s in result.timeline] == [0, 300, 600, 900, 1200, 1500, 1800]
    attempts = [s.attempts for s in result.timeline]
    assert attempts == sorted(attempts)
    assert attempts[-1] <= result.tally.attempts  # the rest were placed after the end
    assert result.timeline[-1].busy_seconds > 0

    png = tmp_path / "day.png"
    plot(result, png, "test", 0.03)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
