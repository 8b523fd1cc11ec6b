"""Benchmark: 1 vs 2 vs 3 engines (real ``opendialer serve`` processes) on one PostgreSQL.

Each configuration gets a new database with the same campaigns (predictive, simulated agents
and customers), starts N servers, waits until every campaign has a holder and the shares differ
by at most one, lets them warm up, then measures a window of real time: attempts, abandonment
(abandoned ÷ live answers), agent occupancy (talk time ÷ agent time), and, over the whole run,
contacts in two calls at once and agents talking in two calls at once (both must be 0). With 2
or 3 engines it then kills the engine holding the most campaigns with SIGKILL and measures how
long until another engine dials each of them (the lease is ``--lease`` seconds).

    .venv/bin/python -m bench.multi_engine [--campaigns 3] [--agents 5] [--seconds 60]
"""

import argparse
import os
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from tempfile import TemporaryDirectory

from sqlalchemy import Engine, create_engine

from bench.common import print_table, throwaway_database
from bench.crash_harness import wait_for
from bench.engine_fleet import (
    ServeProcess,
    double_calls,
    first_attempt_by_another,
    fleet,
    holders,
    outcomes,
    prepare_campaigns,
)

SETTLE_SECONDS = 120.0
TAKE_OVER_DEADLINE_SECONDS = 60.0


def _balanced(held: dict[int, str], campaigns: int, engines: int) -> bool:
    counts = Counter(held.values())
    loads = [counts.get(e, 0) for e in counts] + [0] * (engines - len(counts))
    return len(held) == campaigns and max(loads) - min(loads) <= 1


def run(engines: int, args: argparse.Namespace) -> list[object]:
    with throwaway_database("postgresql") as url, TemporaryDirectory() as tmp:
        db = create_engine(url)
        prepare_campaigns(db, args.campaigns, args.agents, args.contacts)
        names = [f"engine-{i + 1}" for i in range(engines)]
        with fleet(url, Path(tmp), names, args.lease, args.talk) as servers:
            settled = wait_for(
                lambda: _balanced(holders(db), args.campaigns, engines), SETTLE_SECONDS
            )
            time.sleep(args.warmup)  # pacing learns its estimates again after a hand-over
            since = datetime.now(UTC)
            time.sleep(args.seconds)
            until = datetime.now(UTC)
            shares = sorted(Counter(holders(db).values()).values())
            took_over = _take_over(db, servers) if engines > 1 else None
        doubles = double_calls(db)
        done = outcomes(db, since, until)
        db.dispose()
    seconds = (until - since).total_seconds()
    return [
        engines,
        "/".join(str(s) for s in shares) + ("" if settled else " (unsettled)"),
        done.attempts,
        done.connected + done.abandoned,
        done.abandoned,
        f"{done.abandonment:.1%}" if done.abandonment is not None else "-",
        f"{done.occupancy(args.campaigns * args.agents, seconds):.0%}",
        doubles[0],
        doubles[1],
        "-" if engines == 1 else f"{took_over:.1f}" if took_over is not None else "none in 60 s",
    ]


def _take_over(db: Engine, servers: list[ServeProcess]) -> float | None:
    """SIGKILL the engine holding the most campaigns; seconds until others dial all of them."""
    held = holders(db)
    victim_id, _ = Counter(held.values()).most_common(1)[0]
    victim = next(s for s in servers if s.engine_id == victim_id)
    campaigns = [c for c, e in held.items() if e == victim_id]
    victim.kill()
    killed = datetime.now(UTC)

    def firsts() -> list[datetime | None]:
        return [first_attempt_by_another(db, killed, c, victim_id) for c in campaigns]

    if not wait_for(lambda: all(firsts()), TAKE_OVER_DEADLINE_SECONDS):
        return None
    return max((f - killed).total_seconds() for f in firsts() if f is not None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--campaigns", type=int, default=3)
    parser.add_argument("--agents", type=int, default=10, help="Agents per campaign")
    parser.add_argument("--talk", type=float, default=20.0, help="Mean talk time (s)")
    parser.add_argument("--contacts", type=int, default=3000, help="Contacts per campaign")
    parser.add_argument("--seconds", type=float, default=90.0, help="Measured window")
    parser.add_argument("--warmup", type=float, default=20.0, help="Unmeasured, after settling")
    parser.add_argument("--engines", default="1,2,3")
    parser.add_argument("--lease", type=float, default=5.0, help="Engine and campaign lease (s)")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    rows = [run(int(n), args) for n in args.engines.split(",")]
    print_table(
        f"{args.campaigns} campaigns x {args.agents} agents, talk {args.talk:.0f} s, "
        f"{args.seconds:.0f} s measured per configuration, {args.lease:.0f} s lease, sim "
        f"telephony, PostgreSQL; load average {load:.1f} at the start, "
        f"{os.getloadavg()[0]:.1f} at the end",
        [
            "engines",
            "campaigns per engine",
            "attempts",
            "live answers",
            "abandoned",
            "abandonment",
            "occupancy",
            "contacts in 2 calls",
            "agents in 2 calls",
            "take-over after SIGKILL (s)",
        ],
        rows,
    )


if __name__ == "__main__":
    main()
