"""Benchmark: the Voicenter Forward Dialer API over real HTTP.

Starts ``uvicorn`` on 127.0.0.1 (one worker, engine and outbox off) against a fresh, migrated
SQLite database in a temporary directory, with one Israeli account and one campaign. Then:

- AddCall (POST-JSON, one new target each) from 32 concurrent httpx clients for 30 s:
  requests/s, p50 and p99 latency, errors;
- AddCallsBulk with 10,000 targets: seconds per request (several rounds).

Prints a table and the load average before and after (other processes share the machine).

    .venv/bin/python -m bench.voicenter_api
    .venv/bin/python -m bench.voicenter_api --seconds 10 --clients 16 --bulk-rounds 2
"""

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import httpx

from bench.common import print_table, throwaway_database
from opendialer.accounts.service import create_tenant
from opendialer.campaigns.schemas import CampaignCreate
from opendialer.campaigns.service import create_campaign
from opendialer.db import create_db_engine, create_sessionmaker, unit_of_work
from opendialer.models import DialMode

BASE = "/ForwardDialer/Dialer/"
BULK_SIZE = 10_000


@dataclass
class Latencies:
    seconds: list[float] = field(default_factory=list)
    errors: int = 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def prepare(url: str) -> str:
    """One account (region IL) with one smart-dialer campaign; its campaign code."""
    engine = create_db_engine(url)
    try:
        with unit_of_work(create_sessionmaker(engine)) as session:
            tenant = create_tenant(session, "Bench", default_region="IL", timezone="Asia/Jerusalem")
            data = CampaignCreate(name="Bench", dial_mode=DialMode.PREDICTIVE)
            return create_campaign(session, tenant.tenant, data).code
    finally:
        engine.dispose()


@contextmanager
def server(url: str, port: int) -> Iterator[str]:
    env = {
        **os.environ,
        "OPENDIALER_DATABASE_URL": url,
        "OPENDIALER_ENGINE_ENABLED": "false",
        "OPENDIALER_OUTBOX_ENABLED": "false",
        "OPENDIALER_LOG_LEVEL": "warning",
    }
    command = [
        *(sys.executable, "-m", "uvicorn", "opendialer.app:create_app", "--factory"),
        *("--host", "127.0.0.1", "--port", str(port), "--no-access-log"),
        *("--log-level", "warning"),
    ]
    process = subprocess.Popen(command, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


def wait_until_up(base: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError("the server did not start")


async def add_call_worker(base: str, code: str, worker: int, until: float, out: Latencies) -> None:
    """One client with its own connection (a shared httpx pool scans every connection on
    each request, which costs more than the request itself at 32 connections)."""
    sequence = 0
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
        while time.perf_counter() < until:
            body = {
                "Campaign": code,
                "Target": f"05{worker % 10}{sequence % 10_000_000:07d}",
                "CustomerName": "John Doe",
                "Priority": sequence % 50,
                "CustomData": {"var_LeadID": sequence},
            }
            started = time.perf_counter()
            response = await client.post(BASE + "AddCall", json=body)
            out.seconds.append(time.perf_counter() - started)
            if response.status_code != 200 or response.json()["ErrorCode"] != 0:
                out.errors += 1
            sequence += 1


async def add_call_load(base: str, code: str, clients: int, seconds: float) -> Latencies:
    warm = time.perf_counter() + 1.0
    await asyncio.gather(*(add_call_worker(base, code, i, warm, Latencies()) for i in range(4)))
    out = Latencies()
    until = time.perf_counter() + seconds
    await asyncio.gather(*(add_call_worker(base, code, i, until, out) for i in range(clients)))
    return out


def bulk_rounds(base: str, code: str, rounds: int) -> list[float]:
    times: list[float] = []
    with httpx.Client(base_url=base, timeout=120) as client:
        for round_number in range(rounds):
            body = [
                {
                    "Campaign": code,
                    "Target": f"054{round_number}{i:06d}",
                    "CustomerName": f"Lead {i}",
                    "Priority": i % 100,
                    "CustomData": {"var_LeadID": i, "var_LeadCampaign": "Facebook"},
                }
                for i in range(BULK_SIZE)
            ]
            started = time.perf_counter()
            response = client.post(BASE + "AddCallsBulk", json=body)
            times.append(time.perf_counter() - started)
            answer = response.json()
            failed = sum(1 for r in answer["AddResult"] if r["ErrorCode"] != 0)
            if response.status_code != 200 or answer["ErrorCode"] != 0 or failed:
                raise RuntimeError(f"bulk failed: {answer.get('Description')} ({failed} items)")
    return times


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--bulk-rounds", type=int, default=3)
    args = parser.parse_args()
    load_before = os.getloadavg()
    with throwaway_database("sqlite") as url:
        code = prepare(url)
        with server(url, free_port()) as base:
            load = asyncio.run(add_call_load(base, code, args.clients, args.seconds))
            bulk = bulk_rounds(base, code, args.bulk_rounds)
    load_after = os.getloadavg()
    rate = len(load.seconds) / args.seconds
    rows = [
        (
            f"AddCall, {args.clients} clients, {args.seconds:.0f} s",
            f"{len(load.seconds)}",
            f"{rate:.0f} req/s",
            f"{percentile(load.seconds, 0.5) * 1000:.1f} ms",
            f"{percentile(load.seconds, 0.99) * 1000:.1f} ms",
            str(load.errors),
        ),
        (
            f"AddCallsBulk of {BULK_SIZE:,}",
            str(len(bulk)),
            f"{statistics.median(bulk):.2f} s/req",
            f"{min(bulk):.2f} s best",
            f"{max(bulk):.2f} s worst",
            "0",
        ),
    ]
    print_table(
        "Voicenter Forward Dialer API (uvicorn, SQLite, engine off)",
        ("case", "requests", "throughput", "p50", "p99", "errors"),
        rows,
    )
    print(f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f} (1 min)")


if __name__ == "__main__":
    main()
