"""Benchmark: what one API request costs the database, figures that machine noise does not change.

Runs the app in-process (engine off) on a throw-away SQLite and PostgreSQL database and sends
``--requests`` requests of each kind that ``bench/load_mixed.py`` sends, one at a time, counting per
request: SQL statements sent to the database, transactions, pool check-outs and new database
connections, and the CPU the process used (client included: compare databases and versions, not
absolute values).

    .venv/bin/python -m bench.request_cost --backend both --requests 200
"""

import argparse
import asyncio
import random
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from sqlalchemy import Engine, event

from bench.common import print_table, throwaway_database
from bench.load_mixed import MIX, Action, Target, _prepare, _setup_target
from opendialer.app import create_app
from opendialer.config import Settings

COUNTED = ("statements", "transactions", "checkouts", "connections")


@contextmanager
def counting(engine: Engine) -> Iterator[Counter[str]]:
    """Counts what ``engine`` does while the block runs."""
    counts: Counter[str] = Counter()

    def counter(name: str) -> Callable[..., None]:
        return lambda *_args: counts.update([name])

    hooks: list[tuple[Any, str, Callable[..., None]]] = [
        (engine, "before_cursor_execute", counter("statements")),
        (engine, "commit", counter("transactions")),
        (engine, "rollback", counter("transactions")),
        (engine, "checkout", counter("checkouts")),
        (engine, "connect", counter("connections")),
    ]
    for target, name, hook in hooks:
        event.listen(target, name, hook)
    try:
        yield counts
    finally:
        for target, name, hook in hooks:
            event.remove(target, name, hook)


async def _measure_kind(
    client: httpx.AsyncClient, engine: Engine, target: Target, action: Action, requests: int
) -> tuple[Counter[str], float]:
    rng = random.Random(0)
    await action(client, target, rng)  # warm: the first request of a kind compiles its SQL
    started = time.process_time()
    with counting(engine) as counts:
        for _ in range(requests):
            (await action(client, target, rng)).raise_for_status()
    return counts, time.process_time() - started


async def _measure(url: str, requests: int) -> list[tuple[str, Counter[str], float]]:
    api_key, campaign_id = _prepare(url, agents=5, contacts=2_000)
    app = create_app(Settings(database_url=url, engine_enabled=False))
    engine: Engine = app.state.db_engine
    target = Target("http://cost", api_key, campaign_id, url, server_pid=0)
    headers = {"Authorization": f"Bearer {api_key}"}
    transport = httpx.ASGITransport(app=app)
    results = []
    try:
        async with httpx.AsyncClient(
            transport=transport, base_url=target.base, headers=headers
        ) as client:
            await _setup_target(client, target)
            for kind, action, _weight in MIX:
                counts, cpu = await _measure_kind(client, engine, target, action, requests)
                results.append((kind, counts, cpu))
    finally:
        engine.dispose()
    return results


def run(backend: str, requests: int) -> list[list[object]]:
    with throwaway_database(backend) as url:
        results = asyncio.run(_measure(url, requests))
    rows: list[list[object]] = []
    for kind, counts, cpu in results:
        per_request = [f"{counts[name] / requests:.2f}" for name in COUNTED]
        rows.append([backend, kind, *per_request, f"{cpu / requests * 1000:.2f}"])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    rows = [row for backend in backends for row in run(backend, args.requests)]
    columns = ["database", "request", *(f"{name}/request" for name in COUNTED), "CPU ms/request"]
    print_table("What one request costs the database (one client)", columns, rows)


if __name__ == "__main__":
    main()
