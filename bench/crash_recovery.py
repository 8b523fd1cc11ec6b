"""Benchmark: SIGKILL a dialling demo server N times per database; after each restart, check.

Each round lets the real ``opendialer demo`` dial (5 simulated agents, a predictive campaign),
kills it with SIGKILL at a random moment, and restarts it. Every fourth restart uses a new engine
id, so the dead engine's calls are only closed once its lease (3 s here) has run out and the new
engine takes them over; the others restart with the same id and close their own leftovers at
start. After each restart the invariants are checked: no attempt from before the restart open,
no contact in a call that is not up, no agent busy since before the restart; and the time until
the campaign dials again is measured (from the restart's spawn, so it includes Python's start).

    .venv/bin/python -m bench.crash_recovery --kills 20 --databases sqlite,postgresql
"""

import argparse
import random
import statistics
from pathlib import Path
from tempfile import TemporaryDirectory

from sqlalchemy import create_engine

from bench.common import print_table, throwaway_database
from bench.crash_harness import DemoServer, KillResult, kill_and_restart

TAKE_OVER_EVERY = 4


def run(database: str, kills: int, seed: int) -> list[tuple[str, KillResult]]:
    rng = random.Random(seed)
    results: list[tuple[str, KillResult]] = []
    with throwaway_database(database) as url, TemporaryDirectory() as tmp:
        db = create_engine(url)
        server = DemoServer(url, Path(tmp), contacts=5000)
        engine_id = "bench-0"
        server.start(engine_id)
        try:
            for i in range(1, kills + 1):
                take_over = i % TAKE_OVER_EVERY == 0
                next_id = f"bench-{i}" if take_over else engine_id
                result = kill_and_restart(
                    server, db, rng, engine_id=engine_id, next_engine_id=next_id
                )
                results.append(("take-over" if take_over else "same id", result))
                engine_id = next_id
                print(f"{database} kill {i}: {result}", flush=True)
        finally:
            server.kill()
            db.dispose()
    return results


def _rows(database: str, results: list[tuple[str, KillResult]]) -> list[list[object]]:
    rows: list[list[object]] = []
    for mode in ("same id", "take-over"):
        mine = [r for m, r in results if m == mode]
        if not mine:
            continue
        seconds = [r.seconds_to_dial for r in mine if r.seconds_to_dial is not None]
        rows.append(
            [
                database,
                mode,
                len(mine),
                sum(r.left_open for r in mine),
                sum(r.stuck.open_attempts for r in mine),
                sum(r.stuck.contacts_in_call_without_attempt for r in mine),
                sum(r.stuck.busy_agents for r in mine),
                sum(1 for r in mine if r.stuck.new_attempts == 0),
                f"{statistics.median(seconds):.1f}" if seconds else "-",
                f"{max(seconds):.1f}" if seconds else "-",
                f"{max(r.seconds_to_recover for r in mine):.1f}",
            ]
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rows: list[list[object]] = []
    for database in args.databases.split(","):
        rows += _rows(database, run(database, args.kills, args.seed))
    columns = [
        "database",
        "restart",
        "kills",
        "open at kill",
        "open attempts left",
        "stuck contacts",
        "stuck agents",
        "no dialling",
        "s to dial (median)",
        "s to dial (max)",
        "s until nothing stuck (max)",
    ]
    print_table("Crash recovery: SIGKILL, restart, invariants", columns, rows)


if __name__ == "__main__":
    main()
