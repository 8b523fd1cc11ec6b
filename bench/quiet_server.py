"""Benchmark: what quiet campaigns cost a real server, and how soon a new contact is dialled.

Starts ``opendialer serve`` (sim backend, simulated agents) on a throw-away database with
``--campaigns`` predictive campaigns whose agents are ready but which have nothing to dial, for
``--seconds``; then adds one contact to the first campaign through the native API and times how
long until its attempt shows. Once with ``OPENDIALER_ENGINE_REREAD_SECONDS=0.5`` (every 0.5 s
poll reads each campaign: the server before the change token) and once with the default 5 s
(a poll reads only when something was committed since). Prints the server's CPU over the quiet
while and, on PostgreSQL, the database's transactions per second, from ``pg_stat_database``.

    .venv/bin/python -m bench.quiet_server --backend both --seconds 30 --campaigns 10
"""

import argparse
import asyncio
import os
import time
from dataclasses import dataclass
from pathlib import Path
from tempfile import TemporaryDirectory

import httpx

from bench.common import print_table, throwaway_database
from bench.load_mixed import free_port, pg_counters, prepare, process_cpu, serving, wait_ready

START_SECONDS = 60.0
TALK_SECONDS = 30.0


@dataclass(frozen=True)
class QuietRun:
    backend: str
    reread: float
    cpu_per_minute: float
    transactions_per_second: float
    dialled_after: float


async def _dialled_after(client: httpx.AsyncClient, campaign_id: int, key: str) -> float:
    """Seconds from a contact's create (answered) until it is claimed for its call."""
    headers = {"Authorization": f"Bearer {key}"}
    body = {"phones": ["+4930555000"]}
    path = f"/api/v1/campaigns/{campaign_id}/contacts"
    created = await client.post(path, json=body, headers=headers)
    created.raise_for_status()
    added = time.monotonic()
    contact = f"/api/v1/contacts/{created.json()['id']}"
    while time.monotonic() - added < 30.0:
        if (await client.get(contact, headers=headers)).json()["status"] != "pending":
            return time.monotonic() - added
        await asyncio.sleep(0.02)
    raise RuntimeError("the contact was not dialled in 30 s")


def _run(backend: str, reread: float, seconds: float, campaigns: int) -> QuietRun:
    with throwaway_database(backend) as url, TemporaryDirectory() as tmp:
        prepared = [prepare(url, agents=3, contacts=0) for _ in range(campaigns)]
        key, first = prepared[0]
        os.environ["OPENDIALER_ENGINE_REREAD_SECONDS"] = str(reread)
        port = free_port()
        with serving(url, port, Path(tmp) / "server.log", TALK_SECONDS, None) as server:

            async def measure() -> QuietRun:
                base = f"http://127.0.0.1:{port}"
                async with httpx.AsyncClient(base_url=base, timeout=30.0) as client:
                    await wait_ready(client, time.monotonic() + START_SECONDS)
                    await asyncio.sleep(5.0)  # the engine took its campaigns
                    cpu, (xacts, _, _) = process_cpu(server.pid), pg_counters(url)
                    await asyncio.sleep(seconds)
                    cpu = process_cpu(server.pid) - cpu
                    xacts = pg_counters(url)[0] - xacts
                    after = await _dialled_after(client, first, key)
                return QuietRun(backend, reread, cpu * 60 / seconds, xacts / seconds, after)

            return asyncio.run(measure())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--campaigns", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=1, help="alternating pairs")
    args = parser.parse_args()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    runs = [
        _run(backend, reread, args.seconds, args.campaigns)
        for backend in backends
        for _ in range(args.rounds)
        for reread in (0.5, 5.0)
    ]
    print_table(
        f"{args.campaigns} quiet campaigns for {args.seconds:.0f} s (opendialer serve, sim)",
        ["database", "reread", "server CPU s / min", "transactions / s", "new contact dialled"],
        [
            [
                r.backend,
                f"{r.reread:g} s" + (" (every poll)" if r.reread == 0.5 else ""),
                f"{r.cpu_per_minute:.2f}",
                f"{r.transactions_per_second:.1f}" if r.backend == "postgresql" else "",
                f"{r.dialled_after:.2f} s",
            ]
            for r in runs
        ],
    )


if __name__ == "__main__":
    main()
