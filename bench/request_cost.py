"""Benchmark: what one API request costs the database, figures that machine noise does not change.

Runs the app in-process (engine off) on a throw-away SQLite and PostgreSQL database and sends
``--requests`` requests of each kind that ``bench/load_mixed.py`` sends, one at a time, counting per
request: SQL statements sent to the database, transactions, pool check-outs and new database
connections, the Python function calls made on every thread (a second pass with a profiling hook:
the same code makes the same calls whatever the machine's load, so versions compare exactly), and
the CPU the process used (client included: compare databases and versions, not absolute values).
On PostgreSQL also the CPU of the server processes that answered (from /proc, so run it on the
database's host), and what opening a connection costs against using a warm one:
a new server process whose catalog caches are empty, which is what a pool that closes its overflow
connections pays again and again under load.

    .venv/bin/python -m bench.request_cost --backend both --requests 200
"""

import argparse
import asyncio
import itertools
import random
import statistics
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import psycopg
from sqlalchemy import Engine, event, make_url

from bench.common import print_table, throwaway_database
from bench.load_mixed import MIX, Action, Target, prepare, process_cpu, setup_target
from opendialer.app import create_app
from opendialer.config import Settings
from opendialer.web.state import state_of

COUNTED = ("statements", "transactions", "checkouts", "connections")
WARM_UP = 20  # requests of a kind before it is measured
CALL_REQUESTS = 50  # requests of a kind whose Python calls are counted
NEW_CONNECTIONS = 20
# What the native API does first on every request: its key's row.
FIRST_QUERY = "SELECT id, tenant_id, revoked_at FROM api_keys WHERE key_hash = %s"
_new_numbers = itertools.count(10**7)  # a new number for every contact created, in every pass


async def _native_create(c: httpx.AsyncClient, t: Target, _rng: random.Random) -> httpx.Response:
    """The native contact create (as bench/voicenter_api.py sends it), on the spare campaign."""
    body = {
        "phones": [f"+4969{next(_new_numbers)}"],
        "name": "John Doe",
        "priority": 3,
        "custom_data": {"lead": 1},
    }
    return await c.post(f"/api/v1/campaigns/{t.spare_id}/contacts", json=body)


# The mixed load's requests, and the native create (bench/voicenter_api.py's second case).
KINDS: list[tuple[str, Action]] = [
    *((kind, action) for kind, action, _weight in MIX),
    ("native_create", _native_create),
]


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


def _dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(False)


def _backends_cpu(url: str) -> float:
    """CPU seconds of the server processes now connected to the database (not this one)."""
    if not url.startswith("postgresql"):
        return 0.0
    with psycopg.connect(_dsn(url), autocommit=True) as conn:
        pids = conn.execute(
            "SELECT pid FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
    return sum(process_cpu(pid) for (pid,) in pids)


def new_connection_cost(url: str) -> tuple[float, float]:
    """Median ms to open a connection and run the API key query on it (a new server process
    with empty catalog caches), and to run that query on a warm connection."""
    cold: list[float] = []
    warm: list[float] = []
    for _ in range(NEW_CONNECTIONS):
        started = time.perf_counter()
        with psycopg.connect(_dsn(url)) as conn:
            conn.execute(FIRST_QUERY, ("x",)).fetchall()
            conn.rollback()
            cold.append(time.perf_counter() - started)
            for _ in range(10):
                started = time.perf_counter()
                conn.execute(FIRST_QUERY, ("x",)).fetchall()
                conn.rollback()
                warm.append(time.perf_counter() - started)
    return statistics.median(cold) * 1000, statistics.median(warm) * 1000


class PythonCalls:
    """Python and C function calls made by every thread while ``on``: a figure that no load or
    machine changes (the same code makes the same calls), so versions compare exactly. Installed
    before the event loop starts, so the worker threads it starts carry the hook too."""

    def __init__(self) -> None:
        self.on = False
        self.calls = 0

    def hook(self, _frame: object, event: str, _arg: object) -> None:
        if self.on and event in ("call", "c_call"):
            self.calls += 1

    @contextmanager
    def installed(self) -> Iterator["PythonCalls"]:
        sys.setprofile(self.hook)
        threading.setprofile(self.hook)
        try:
            yield self
        finally:
            threading.setprofile(None)
            sys.setprofile(None)


async def _measure_kind(
    client: httpx.AsyncClient,
    engine: Engine,
    target: Target,
    action: Action,
    requests: int,
    calls: PythonCalls | None,
) -> tuple[Counter[str], float, float]:
    rng = random.Random(0)
    for _ in range(WARM_UP):  # the first requests of a kind compile its SQL, fill caches
        await action(client, target, rng)
    started, backends = time.process_time(), _backends_cpu(target.url)
    with counting(engine) as counts:
        if calls is not None:
            calls.calls, calls.on = 0, True
        for _ in range(requests):
            (await action(client, target, rng)).raise_for_status()
        if calls is not None:
            calls.on = False
            counts["python calls"] = calls.calls
    return counts, time.process_time() - started, _backends_cpu(target.url) - backends


async def _measure(
    target: Target, requests: int, calls: PythonCalls | None = None
) -> list[tuple[str, Counter[str], float, float]]:
    app = create_app(Settings(database_url=target.url, engine_enabled=False))
    engine: Engine = state_of(app).db_engine
    headers = {"Authorization": f"Bearer {target.api_key}"}
    transport = httpx.ASGITransport(app=app)
    results = []
    try:
        async with httpx.AsyncClient(
            transport=transport, base_url=target.base, headers=headers
        ) as client:
            if not target.spare_id:
                await setup_target(client, target)
            for kind, action in KINDS:
                measured = await _measure_kind(client, engine, target, action, requests, calls)
                results.append((kind, *measured))
    finally:
        engine.dispose()
    return results


def run(backend: str, requests: int) -> list[list[object]]:
    with throwaway_database(backend) as url:
        api_key, campaign_id = prepare(url, agents=5, contacts=2_000)
        target = Target("http://cost", api_key, campaign_id, url, server_pid=0)
        results = asyncio.run(_measure(target, requests))
        with PythonCalls().installed() as calls:  # a second app and loop: the hook slows all
            counted = asyncio.run(_measure(target, CALL_REQUESTS, calls))
        connection = new_connection_cost(url) if backend == "postgresql" else None
    rows: list[list[object]] = []
    for (kind, counts, cpu, pg_cpu), (_, call_counts, _, _) in zip(results, counted, strict=True):
        per_request = [f"{counts[name] / requests:.2f}" for name in COUNTED]
        pg = f"{pg_cpu / requests * 1000:.2f}" if backend == "postgresql" else "-"
        python_calls = f"{call_counts['python calls'] / CALL_REQUESTS:.0f}"
        rows.append([backend, kind, *per_request, python_calls, f"{cpu / requests * 1000:.2f}", pg])
    if connection is not None:
        cold, warm = connection
        print(
            f"PostgreSQL, median of {NEW_CONNECTIONS}: a new connection and its first API key"
            f" query {cold:.2f} ms; the same query on a warm connection {warm:.3f} ms"
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    rows = [row for backend in backends for row in run(backend, args.requests)]
    columns = [
        "database",
        "request",
        *(f"{name}/request" for name in COUNTED),
        "Python calls/request (client included)",
        "CPU ms/request (this process)",
        "PostgreSQL server CPU ms/request",
    ]
    print_table("What one request costs the database (one client)", columns, rows)


if __name__ == "__main__":
    main()
