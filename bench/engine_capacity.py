"""Benchmark: how many call attempts per second one engine process sustains on the sim backend.

500 simulated agents; a fixed target of calls in flight (the bench measures the engine's
plumbing, not its pacing): claims, history rows, events, outcomes, agents, all through the real
database. Prints attempts per wall-clock second, peak concurrent calls and CPU per attempt.

    .venv/bin/python -m bench.engine_capacity --in-flight 2000 --minutes 10
"""

import argparse
import time
from dataclasses import dataclass

from bench.common import print_table, throwaway_database
from opendialer.clock import VirtualClock
from opendialer.db import create_db_engine, create_sessionmaker
from opendialer.demo import SimulationSetup, prepare_campaign
from opendialer.engine.pacing.base import (
    Observation,
    PacingDecision,
    PacingSnapshot,
    line_cap,
)
from opendialer.engine.simulation import simulate
from opendialer.telephony.sim_scenario import Scenario


@dataclass
class FixedInFlight:
    """Keeps ``target`` calls up (dialling, waiting or talking), and records the peak."""

    target: int
    name: str = "fixed-in-flight"
    peak: int = 0

    def decide(self, snapshot: PacingSnapshot) -> PacingDecision:
        up = (
            len(snapshot.dials_in_progress)
            + snapshot.waiting_callers
            + len(snapshot.busy_agent_ages)
        )
        self.peak = max(self.peak, up)
        dials = line_cap(snapshot, self.target - up)
        return PacingDecision(dials=dials, target_in_flight=self.target, reason="bench")

    def observe(self, observation: Observation) -> None:
        return None


def run(backend: str, agents: int, in_flight: int, minutes: float, contacts: int) -> list[object]:
    with throwaway_database(backend) as url:
        engine = create_db_engine(url)
        sessions = create_sessionmaker(engine)
        clock = VirtualClock()
        campaign_id = prepare_campaign(
            sessions, SimulationSetup(agents=agents, contacts=contacts), clock.now()
        )
        policy = FixedInFlight(in_flight)
        wall, cpu = time.perf_counter(), time.process_time()
        result = clock.run(
            simulate(
                sessions,
                clock,
                campaign_id,
                Scenario(),
                seconds=minutes * 60,
                seed=1,
                policy=policy,
            )
        )
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        engine.dispose()
    attempts = result.tally.attempts
    return [
        backend,
        agents,
        in_flight,
        f"{minutes:g}",
        f"{attempts:,}",
        f"{attempts / wall:.0f}",
        policy.peak,
        f"{cpu / attempts * 1000:.2f}" if attempts else "-",
        f"{wall:.1f}",
    ]


COLUMNS = [
    "backend",
    "agents",
    "target up",
    "virtual min",
    "attempts",
    "attempts/s (wall)",
    "peak concurrent",
    "CPU ms/attempt",
    "wall s",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backends", default="sqlite")
    parser.add_argument("--agents", type=int, default=500)
    parser.add_argument("--in-flight", type=int, default=2000)
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--contacts", type=int, default=200_000)
    args = parser.parse_args()
    rows = [
        run(b, args.agents, args.in_flight, args.minutes, args.contacts)
        for b in args.backends.split(",")
    ]
    print_table("Engine capacity (one process, sim backend, virtual clock)", COLUMNS, rows)


if __name__ == "__main__":
    main()
