"""Benchmark: the Voicenter Forward Dialer API over real HTTP.

Starts the server with ``opendialer serve`` on 127.0.0.1 (engine and outbox off) against a
fresh, migrated SQLite database in a temporary directory, with one Israeli account and one
campaign. Then:

- AddCall (POST-JSON, a new target each) for 30 s over 32 connections, driven by ``wrk``
  (``apt-get install wrk``): requests/s, p50, p99 and p99.9 latency, errors, and the server's
  CPU per request (from /proc: the figure that a loaded machine changes least). A load
  generator in C leaves the second core to the server; a Python client needs a core of its own
  at this rate, which on a 2-core machine measures the client instead of the server;
- the native contact create (``POST /api/v1/campaigns/{id}/contacts`` with an API key), the
  same way;
- AddCallsBulk with 10,000 targets: seconds per request (several rounds).

Prints a table and the load average before and after (other processes share the machine).

    .venv/bin/python -m bench.voicenter_api
    .venv/bin/python -m bench.voicenter_api --seconds 10 --clients 16 --bulk-rounds 2
"""

import argparse
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import httpx

from bench.common import print_table, throwaway_database
from opendialer.accounts.service import create_tenant
from opendialer.campaigns.codes import CodeKey
from opendialer.campaigns.schemas import CampaignCreate
from opendialer.campaigns.service import create_campaign
from opendialer.db import create_db_engine, create_sessionmaker, unit_of_work
from opendialer.models import DialMode
from opendialer.scoping import Scope

BASE = "/ForwardDialer/Dialer/"
BULK_SIZE = 10_000


WRK_SCRIPT = Path(__file__).with_name("voicenter_addcall.lua")
NATIVE_SCRIPT = Path(__file__).with_name("native_contact.lua")


@dataclass(frozen=True)
class Prepared:
    code: str  # the Voicenter campaign code
    campaign_id: int
    api_key: str


@dataclass(frozen=True)
class WrkResult:
    requests: int
    failed: int  # answered with an error, or a socket error
    p50_ms: float
    p99_ms: float
    p999_ms: float
    max_ms: float
    cpu_ms: float = 0.0  # the server's CPU per request


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def prepare(url: str, secret: str) -> Prepared:
    """One account (region IL) with one smart-dialer campaign."""
    engine = create_db_engine(url)
    try:
        with unit_of_work(create_sessionmaker(engine)) as session:
            tenant = create_tenant(session, "Bench", default_region="IL", timezone="Asia/Jerusalem")
            data = CampaignCreate(name="Bench", dial_mode=DialMode.PREDICTIVE)
            campaign = create_campaign(session, Scope.system(tenant.tenant.id), data)
            code = CodeKey(secret).of(campaign)
            assert code is not None
            return Prepared(code, campaign.id, tenant.api_key)
    finally:
        engine.dispose()


@dataclass(frozen=True)
class Server:
    base: str
    pid: int


def cpu_seconds(pid: int) -> float:
    """User and system CPU of process ``pid`` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --observability-rounds: what an operator turns on (docs/operations.md), against all of it off.
OBSERVABILITY = {
    "off": {"OPENDIALER_METRICS": "off", "OPENDIALER_ACCESS_LOG": "false"},
    "on": {
        "OPENDIALER_METRICS": "main",
        "OPENDIALER_METRICS_TOKEN": "b" * 40,
        "OPENDIALER_ACCESS_LOG": "true",
        "OPENDIALER_LOG_LEVEL": "info",  # one JSON line per request, to a file
        "OPENDIALER_LOG_FORMAT": "json",
    },
}


@contextmanager
def server(
    url: str, port: int, secret: str, extra: dict[str, str] | None = None
) -> Iterator[Server]:
    env = {
        **os.environ,
        "OPENDIALER_DATABASE_URL": url,
        "OPENDIALER_ENGINE_ENABLED": "false",
        "OPENDIALER_OUTBOX_ENABLED": "false",
        "OPENDIALER_LOG_LEVEL": "warning",
        "OPENDIALER_SECRET_KEY": secret,  # serve refuses to start without one
        **(extra or {}),
    }
    opendialer = Path(sys.executable).with_name("opendialer")
    command = [str(opendialer), "serve", "--host", "127.0.0.1", "--port", str(port)]
    log_file = Path(url.removeprefix("sqlite:///")).with_suffix(".log").open("ab")
    process = subprocess.Popen(command, env=env, stderr=log_file)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base)
        yield Server(base, process.pid)
    finally:
        process.terminate()
        process.wait(timeout=30)
        log_file.close()


def wait_until_up(base: str) -> None:
    deadline = time.monotonic() + 180  # a loaded machine starts it slowly
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError("the server did not start")


def wrk(
    base: str, arguments: list[str], connections: int, seconds: float, script: Path = WRK_SCRIPT
) -> WrkResult:
    command = [
        *("wrk", "--threads", "2", "--connections", str(connections)),
        *("--duration", f"{seconds:.0f}s", "--script", str(script), base, "--", *arguments),
    ]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    line = next(line for line in output.splitlines() if line.startswith("RESULT "))
    requests, failed, socket_errors, p50, p99, p999, longest = map(int, line.split()[1:])
    return WrkResult(
        requests, failed + socket_errors, p50 / 1000, p99 / 1000, p999 / 1000, longest / 1000
    )


def measured_load(
    server: Server, script: Path, arguments: list[str], connections: int, seconds: float
) -> WrkResult:
    wrk(server.base, arguments, 4, 2, script)  # warm-up: compile statements, fill caches
    before = cpu_seconds(server.pid)
    result = wrk(server.base, arguments, connections, seconds, script)
    cpu_ms = (cpu_seconds(server.pid) - before) * 1000 / max(result.requests, 1)
    return replace(result, cpu_ms=cpu_ms)


def load_row(name: str, load: WrkResult, seconds: float) -> tuple[str, ...]:
    return (
        name,
        f"{load.requests}",
        f"{load.requests / seconds:.0f} req/s",
        f"{load.p50_ms:.1f} ms",
        f"{load.p99_ms:.1f} ms",
        f"{load.p999_ms:.1f} ms",
        f"{load.cpu_ms:.2f} ms",
        str(load.failed),
    )


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--clients", type=int, default=32, help="concurrent connections")
    parser.add_argument("--bulk-rounds", type=int, default=3)
    parser.add_argument(
        "--observability-rounds",
        type=int,
        default=0,
        help="instead: AddCall with metrics and logs off, then on, this many times in turn",
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("This benchmark drives AddCall with wrk: apt-get install wrk")
    if args.observability_rounds:
        compare_observability(args.observability_rounds, args.clients, args.seconds)
        return
    load_before = os.getloadavg()
    with throwaway_database("sqlite") as url:
        secret = secrets.token_urlsafe(48)
        ready = prepare(url, secret)
        with server(url, free_port(), secret) as running:
            add_call = measured_load(running, WRK_SCRIPT, [ready.code], args.clients, args.seconds)
            native = measured_load(
                running,
                NATIVE_SCRIPT,
                [str(ready.campaign_id), ready.api_key],
                args.clients,
                args.seconds,
            )
            bulk = bulk_rounds(running.base, ready.code, args.bulk_rounds)
    load_after = os.getloadavg()
    rows = [
        load_row(f"AddCall, {args.clients} conn., {args.seconds:.0f} s", add_call, args.seconds),
        load_row(f"native create, {args.clients} conn.", native, args.seconds),
        (
            f"Bulk {BULK_SIZE:,}",
            str(len(bulk)),
            f"{statistics.median(bulk):.2f} s/req",
            f"{min(bulk):.2f} s best",
            f"{max(bulk):.2f} s worst",
            "",
            "",
            "0",
        ),
    ]
    print_table(
        "Voicenter Forward Dialer API (opendialer serve, SQLite, engine off)",
        ("case", "requests", "throughput", "p50", "p99", "p99.9", "server CPU/req", "errors"),
        rows,
    )
    print(f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f} (1 min)")


def compare_observability(rounds: int, clients: int, seconds: float) -> None:
    """The overhead of metrics and logs: the same AddCall load, off and on in turn (so that
    the machine's other load falls on both alike), each on a fresh server and database."""
    load_before = os.getloadavg()
    results: dict[str, list[WrkResult]] = {"off": [], "on": []}
    for _ in range(rounds):
        for mode, extra in OBSERVABILITY.items():
            with throwaway_database("sqlite") as url:
                secret = secrets.token_urlsafe(48)
                ready = prepare(url, secret)
                with server(url, free_port(), secret, extra) as running:
                    load = measured_load(running, WRK_SCRIPT, [ready.code], clients, seconds)
            results[mode].append(load)
    load_after = os.getloadavg()
    rows = []
    for mode, runs in results.items():
        rates = [r.requests / seconds for r in runs]
        rows.append(
            (
                f"metrics + logs {mode}",
                " / ".join(f"{rate:.0f}" for rate in rates),
                f"{statistics.median(rates):.0f} req/s",
                f"{statistics.median(r.cpu_ms for r in runs):.2f} ms",
                f"{statistics.median(r.p50_ms for r in runs):.1f} ms",
                f"{statistics.median(r.p99_ms for r in runs):.1f} ms",
                str(sum(r.failed for r in runs)),
            )
        )
    print_table(
        f"AddCall, {clients} conn., {seconds:.0f} s x {rounds} rounds (SQLite, engine off)",
        ("case", "req/s per round", "median", "server CPU/req", "p50", "p99", "errors"),
        rows,
    )
    off = statistics.median(r.cpu_ms for r in results["off"])
    on = statistics.median(r.cpu_ms for r in results["on"])
    print(f"server CPU per request with metrics and logs on: {100 * (on - off) / off:+.1f} %")
    print(f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f} (1 min)")


if __name__ == "__main__":
    main()
