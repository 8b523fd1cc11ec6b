"""Benchmark: ``opendialer simulate``'s default campaign over several seeds, its figures and cost.

Each seed runs the default scenario (20 agents, predictive, 20,000 contacts) in a scratch
SQLite database on the virtual clock, as the CLI does, and prints what ``simulate`` prints
beside its CPU: the CPU per simulated attempt does not depend on the machine's load, the wall
time does (the load average is printed with it).

``--count`` also counts the SQL statements and transactions the engine sends per attempt
(those of a run of no time, the preparation, taken off): figures that no load changes, so two
versions of the code compare exactly where CPU times under a shared machine's load do not.

``--poll 0.5`` makes the engine read the database every 0.5 s besides waking on events, as it
did before it woke on events: for checking that the event-driven runner misses no wake-up.

    .venv/bin/python -m bench.simulate_seeds --seeds 1,2,3 --hours 1
"""

import argparse
import os
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, event
from sqlalchemy.engine import Engine

from bench.common import print_table
from opendialer.db import sqlite_begin_statement
from opendialer.demo import SimulationSetup
from opendialer.engine.scratch_run import ScratchOutcome, ScratchRun, run_in_scratch_database
from opendialer.models import DialMode
from opendialer.telephony.campaign_scenario import CampaignScenario


def run(seed: int, hours: float, agents: int, contacts: int, poll: float | None) -> ScratchOutcome:
    scenario = CampaignScenario(name="default", agents=agents)
    options: dict[str, Any] = {} if poll is None else {"poll_seconds": poll}
    scratch = ScratchRun(
        scenario=scenario,
        setup=SimulationSetup.of(scenario, contacts, DialMode.PREDICTIVE),
        hours=hours,
        seed=seed,
        **options,
    )
    return run_in_scratch_database(scratch)


@contextmanager
def counting() -> Iterator[Counter[str]]:
    """Every statement any engine sends while open, by kind (a transaction that begins with
    ``BEGIN IMMEDIATE`` is a write transaction on SQLite; the ``BEGIN`` is sent on the DBAPI
    connection, so it is counted at the transaction's begin, as a statement)."""
    counts: Counter[str] = Counter()

    def count(_conn: object, _cursor: object, _statement: str, *_args: object) -> None:
        counts["statements"] += 1

    def begin(conn: Connection) -> None:
        statement = sqlite_begin_statement(conn) if conn.dialect.name == "sqlite" else None
        counts["statements"] += statement is not None
        counts["write transactions"] += statement == "BEGIN IMMEDIATE"

    event.listen(Engine, "before_cursor_execute", count)
    event.listen(Engine, "begin", begin)
    try:
        yield counts
    finally:
        event.remove(Engine, "before_cursor_execute", count)
        event.remove(Engine, "begin", begin)


def per_attempt(seed: int, hours: float, agents: int, contacts: int) -> tuple[float, float]:
    """Statements and write transactions per attempt, the preparation's taken off."""
    with counting() as prepared:
        run(seed, 0.0, agents, contacts, None)
    with counting() as counts:
        attempts = run(seed, hours, agents, contacts, None).result.tally.attempts
    spent = counts - prepared
    return spent["statements"] / attempts, spent["write transactions"] / attempts


def row(seed: int, done: ScratchOutcome, load: tuple[float, float]) -> list[object]:
    result = done.result
    attempts = result.tally.attempts
    return [
        seed,
        f"{attempts:,}",
        result.tally.live_answers,
        f"{result.abandonment:.2%}",
        f"{result.people_abandonment:.2%}",
        f"{result.occupancy:.1%}",
        f"{done.cpu_seconds:.1f}",
        f"{1000 * done.cpu_seconds / max(attempts, 1):.2f}",
        f"{done.wall_seconds:.0f}",
        f"{load[0]:.1f}-{load[1]:.1f}",
    ]


COLUMNS = [
    "seed",
    "attempts",
    "live answers",
    "abandoned / live",
    "people abandoned",
    "occupancy",
    "CPU s",
    "CPU ms/attempt",
    "wall s",
    "load avg",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--hours", type=float, default=1.0)
    parser.add_argument("--agents", type=int, default=20)
    parser.add_argument("--contacts", type=int, default=20_000)
    parser.add_argument("--poll", type=float, default=None, help="force a poll (seconds)")
    parser.add_argument("--count", action="store_true", help="count statements per attempt")
    args = parser.parse_args()
    if args.count:
        print_counts(args)
        return
    rows = []
    for seed in (int(s) for s in args.seeds.split(",")):
        before = os.getloadavg()[0]
        done = run(seed, args.hours, args.agents, args.contacts, args.poll)
        rows.append(row(seed, done, (before, os.getloadavg()[0])))
        print(*rows[-1], sep=" | ", flush=True)
    poll = f"poll {args.poll:g} s" if args.poll is not None else "event-driven"
    title = f"simulate: {args.agents} agents, {args.hours:g} h, {poll}"
    print_table(title, COLUMNS, rows)


def print_counts(args: argparse.Namespace) -> None:
    rows = []
    for seed in (int(s) for s in args.seeds.split(",")):
        statements, transactions = per_attempt(seed, args.hours, args.agents, args.contacts)
        rows.append([seed, f"{statements:.2f}", f"{transactions:.2f}"])
        print(*rows[-1], sep=" | ", flush=True)
    title = f"simulate: {args.agents} agents, {args.hours:g} h, per attempt"
    print_table(title, ["seed", "SQL statements", "write transactions"], rows)


if __name__ == "__main__":
    main()
