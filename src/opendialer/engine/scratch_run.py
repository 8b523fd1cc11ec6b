"""A simulated campaign run in a database of its own: ``opendialer simulate`` and the what-if."""

import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event

from opendialer import migrate
from opendialer.clock import VIRTUAL_EPOCH, VirtualClock
from opendialer.db import create_db_engine, create_sessionmaker
from opendialer.demo import SimulationSetup, prepare_campaign
from opendialer.engine.simulation import POLL_SECONDS, Plan, SimulationResult, simulate_days
from opendialer.telephony.campaign_scenario import CampaignScenario


@dataclass(frozen=True)
class ScratchRun:
    scenario: CampaignScenario
    setup: SimulationSetup
    hours: float
    seed: int
    start: datetime = VIRTUAL_EPOCH
    database_url: str | None = None
    """Keep the run's database here; default: a temporary SQLite file, deleted afterwards."""
    poll_seconds: float = POLL_SECONDS
    """The engine's poll: a short one forces a read of the database at that period, as the
    engine did before it woke on events (for comparing the two)."""


@dataclass(frozen=True)
class ScratchOutcome:
    result: SimulationResult
    wall_seconds: float
    cpu_seconds: float
    """Of the simulation alone, without preparing the database: what the engine costs."""


def run_in_scratch_database(run: ScratchRun) -> ScratchOutcome:
    """Prepare the campaign in an empty database and run the scenario's days on a virtual
    clock (its agent schedule, its restart)."""
    with tempfile.TemporaryDirectory(prefix="opendialer-sim-") as tmp:
        url = run.database_url or f"sqlite:///{Path(tmp) / 'simulation.db'}"
        migrate.upgrade(url)
        engine = create_db_engine(url)
        if run.database_url is None:
            _throw_away(engine)
        try:
            sessions = create_sessionmaker(engine)
            clock = VirtualClock(run.start)
            campaign_id = prepare_campaign(sessions, run.setup, clock.now())
            started, cpu_started = time.perf_counter(), time.process_time()
            plan = Plan(
                days=run.scenario.days,
                hours=run.hours,
                restart_after=run.scenario.restart_after,
                seed=run.seed,
                poll_seconds=run.poll_seconds,
            )
            result = clock.run(simulate_days(sessions, clock, campaign_id, run.scenario, plan))
            wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
            return ScratchOutcome(result, wall_seconds=wall, cpu_seconds=cpu)
        finally:
            engine.dispose()


def _throw_away(engine: Engine) -> None:
    """The temporary file is deleted after the run: no commit need wait for the disk (SQLite's
    ``synchronous=OFF`` loses data only on a power cut, and then the run is lost anyway). It
    changes what the run costs, never what it decides."""

    def connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA synchronous=OFF")

    event.listen(engine, "connect", connect)  # after the engine's own settings
