"""Benchmark: a dialling campaign under a realistic mix of API clients, on SQLite and PostgreSQL.

Starts a real ``opendialer serve`` (sim backend, simulated agents, a predictive campaign that
dials all the time, like the demo) on a throw-away database, measures the engine alone for a
while, then runs ``--clients`` concurrent clients for the same while: native GET, PATCH and list
of contacts, the live view, DNC adds, Voicenter AddCall, and a 1,000-row import now and then.
Prints requests, errors, timeouts, latency percentiles, the engine's attempts per minute with and
without the load, and how late the engine's pacing ticks ran (p99) with and without it.

Wall times depend on what else the machine runs, so it also prints figures that noise disturbs
less: the server's CPU per request (net of what the engine alone used in the quiet phase), the
bench client's own CPU, and on PostgreSQL the transactions and new connections (sessions) per
request, from ``pg_stat_database``. Customers talk ``--talk-seconds`` on average (the demo's 180 s
makes a campaign too slow for a 10 % comparison of attempts per minute).

Where the tail comes from: each request's start and latency are kept (and written to
``/tmp/opendialer-load-<backend>-requests.json``), and the requests slower than ``SLOW`` are
matched with the imports that overlapped them, with the time the server's access log says the
app spent on them (the rest is the wait before the app saw the request and after it answered),
and with ``--probe`` with the garbage collector's pauses in the server (``bench/server_probe.py``).
``--import-every 0`` runs the mix without imports.

The clients are shared out over ``--client-processes`` processes (default 4), each with its own
event loop and connections (their CPU is added to the client's): one Python loop running 32
clients at 1-2 ms of CPU a request is a queue of its own, which the latencies would include and
32 real clients do not have. ``--client-processes 1`` runs them on one loop, as every run before
session 14 did.

    .venv/bin/python -m bench.load_mixed --backend both --seconds 60 --clients 32
    .venv/bin/python -m bench.load_mixed --backend postgresql --client-processes 1
"""

import argparse
import asyncio
import contextlib
import json
import os
import random
import secrets
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from datetime import time as clock_time
from multiprocessing import get_context
from pathlib import Path

import httpx
import psycopg
from sqlalchemy import make_url

from bench import server_probe
from bench.common import print_table, throwaway_database
from bench.load_tail import lag_summary, tail_rows
from opendialer.accounts.service import create_tenant
from opendialer.db import create_db_engine, create_sessionmaker, unit_of_work
from opendialer.demo import SimulationSetup, prepare_campaign
from opendialer.models import DialMode

SLOW = 0.25  # seconds: the PostgreSQL goal for the p99
TIMEOUT = 10.0  # seconds: a request slower than this counts as a timed-out request
KEEPALIVE_EXPIRY = 2.0  # seconds an idle client connection is kept (the server keeps 5)
IMPORT_EVERY = 15.0  # seconds between two 1,000-row imports
IMPORT_ROWS = 1000
LAG_EVERY = 0.02  # seconds between two probes of the bench client's event loop
WARM_UP = 20.0  # seconds of dialling before the first measurement (agents reach steady work)
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Target:
    base: str
    api_key: str
    campaign_id: int  # the dialling campaign
    url: str  # the database's
    server_pid: int
    import_every: float = IMPORT_EVERY
    spare_id: int = 0  # imports and AddCalls go here, so the dialling campaign stays the same
    spare_code: str = ""
    contact_ids: list[int] = field(default_factory=list)


@dataclass
class Record:
    kind: str
    started: float  # wall clock (time.time()), to match the server's log and GC pauses
    took: float
    request_id: str
    sent: float = 0.0  # wall clock: the request's body written to the socket (httpcore's trace)
    answered: float = 0.0  # wall clock: the response's headers read


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    records: list[Record] = field(default_factory=list)
    client_lags: list[float] = field(default_factory=list)  # this process's event loop
    errors: Counter[str] = field(default_factory=Counter)
    timeouts: int = 0
    by_kind: Counter[str] = field(default_factory=Counter)
    kind_latencies: dict[str, list[float]] = field(default_factory=dict)
    cpu: float = 0.0  # seconds of CPU of client processes other than this one

    def add(self, other: "Tally") -> None:
        self.latencies += other.latencies
        self.records += other.records
        self.client_lags += other.client_lags
        self.errors += other.errors
        self.timeouts += other.timeouts
        self.by_kind += other.by_kind
        for kind, took in other.kind_latencies.items():
            self.kind_latencies.setdefault(kind, []).extend(took)
        self.cpu += other.cpu


@dataclass
class EngineSample:
    attempts: int
    tick_p99_ms: float | None
    server_cpu: float = 0.0  # seconds of CPU the server process used so far
    client_cpu: float = 0.0  # seconds of CPU this bench process used so far
    pg_transactions: int = 0
    pg_sessions: int = 0
    pg_cpu: float = 0.0  # seconds of CPU the database's server processes now connected used


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of a process (and its waited-for children), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return sum(int(value) for value in fields[11:15]) / CLOCK_TICKS


def pg_counters(url: str) -> tuple[int, int, float]:
    """Transactions and sessions (connections) of the bench's database so far, and the CPU
    seconds of its server processes now connected (from /proc: the database runs on this
    host; the server's pool keeps its connections, so few of them come and go). PostgreSQL
    only."""
    if not url.startswith("postgresql"):
        return 0, 0, 0.0
    dsn = make_url(url).set(drivername="postgresql").render_as_string(False)
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(
            "SELECT xact_commit + xact_rollback, sessions FROM pg_stat_database"
            " WHERE datname = current_database()"
        ).fetchone()
        pids = conn.execute(
            "SELECT pid FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
    assert row is not None
    return int(row[0]), int(row[1]), sum(_alive_process_cpu(pid) for (pid,) in pids)


def _alive_process_cpu(pid: int) -> float:
    try:
        return process_cpu(pid)
    except FileNotFoundError:  # the connection closed since pg_stat_activity listed it
        return 0.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def prepare(url: str, agents: int, contacts: int) -> tuple[str, int]:
    sessions = create_sessionmaker(create_db_engine(url))
    with unit_of_work(sessions) as session:
        created = create_tenant(session, "Load", default_region="DE", timezone="UTC")
        tenant_id, api_key = created.tenant.id, created.api_key
    setup = SimulationSetup(
        agents=agents,
        contacts=contacts,
        dial_mode=DialMode.PREDICTIVE,
        calling_hours=(clock_time(0), clock_time(23, 59, 59)),
    )
    campaign_id = prepare_campaign(
        sessions, setup, datetime.now(UTC), tenant_id=tenant_id, name="Load"
    )
    sessions.kw["bind"].dispose()
    return api_key, campaign_id


def _telephony_options(talk_seconds: float) -> str:
    talk = {"dist": "lognormal", "mean": talk_seconds, "sd": talk_seconds / 2}
    return json.dumps({"scenario": {"customers": {"talk_time": talk}}})


@contextmanager
def serving(
    url: str, port: int, log_path: Path, talk_seconds: float, probe_file: Path | None
) -> Iterator[subprocess.Popen[bytes]]:
    env = {
        **os.environ,
        "OPENDIALER_DATABASE_URL": url,
        "OPENDIALER_ENGINE_ENABLED": "true",
        "OPENDIALER_TELEPHONY_BACKEND": "sim",
        "OPENDIALER_TELEPHONY_OPTIONS": _telephony_options(talk_seconds),
        "OPENDIALER_SIMULATE_AGENTS": "true",
        "OPENDIALER_SECRET_KEY": secrets.token_urlsafe(32),
        "OPENDIALER_LOG_FORMAT": "json",
    }
    opendialer = [str(Path(sys.executable).parent / "opendialer")]
    if probe_file is not None:
        opendialer = [sys.executable, "-m", "bench.server_probe"]
        env[server_probe.PROBE_FILE] = str(probe_file)
    command = [*opendialer, "serve", "--host", "127.0.0.1"]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [*command, "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            yield process
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


async def wait_ready(client: httpx.AsyncClient, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            if (await client.get("/healthz")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.2)
    raise RuntimeError("the server did not start")


async def _engine_sample(client: httpx.AsyncClient, target: Target) -> EngineSample:
    live = await client.get(f"/api/v1/campaigns/{target.campaign_id}/live")
    live.raise_for_status()
    body = live.json()
    engine = body.get("engine") or {}
    transactions, sessions, pg_cpu = await asyncio.to_thread(pg_counters, target.url)
    return EngineSample(
        body["today"]["attempts"],
        engine.get("tick_lateness_p99_ms"),
        server_cpu=process_cpu(target.server_pid),
        client_cpu=time.process_time(),
        pg_transactions=transactions,
        pg_sessions=sessions,
        pg_cpu=pg_cpu,
    )


async def setup_target(client: httpx.AsyncClient, target: Target) -> None:
    spare = await client.post(
        "/api/v1/campaigns", json={"name": "Load spare", "dial_mode": "progressive"}
    )
    spare.raise_for_status()
    target.spare_id, target.spare_code = spare.json()["id"], spare.json()["code"]
    page = await client.get(
        "/api/v1/contacts", params={"campaign_id": target.campaign_id, "limit": 1000}
    )
    page.raise_for_status()
    target.contact_ids = [item["id"] for item in page.json()["items"]]


def _import_body(rng: random.Random) -> bytes:
    start = rng.randrange(10_000_000, 80_000_000)
    lines = ["name,phone"] + [f"Import {i},+4940{start + i}" for i in range(IMPORT_ROWS)]
    return ("\n".join(lines) + "\n").encode()


Action = Callable[[httpx.AsyncClient, Target, random.Random], Awaitable[httpx.Response]]


async def _get_contact(c: httpx.AsyncClient, t: Target, rng: random.Random) -> httpx.Response:
    return await c.get(f"/api/v1/contacts/{rng.choice(t.contact_ids)}")


async def _patch_contact(c: httpx.AsyncClient, t: Target, rng: random.Random) -> httpx.Response:
    body = {"user_data": f"load {rng.randrange(10**6)}"}
    return await c.patch(f"/api/v1/contacts/{rng.choice(t.contact_ids)}", json=body)


async def _list_contacts(c: httpx.AsyncClient, t: Target, rng: random.Random) -> httpx.Response:
    params = {"campaign_id": t.campaign_id, "limit": 50}
    return await c.get("/api/v1/contacts", params=params)


async def _live(c: httpx.AsyncClient, t: Target, rng: random.Random) -> httpx.Response:
    return await c.get(f"/api/v1/campaigns/{t.campaign_id}/live")


async def _dnc_add(c: httpx.AsyncClient, t: Target, rng: random.Random) -> httpx.Response:
    return await c.post("/api/v1/dnc", json={"numbers": [f"+4989{rng.randrange(10**7, 10**8)}"]})


async def _add_call(c: httpx.AsyncClient, t: Target, rng: random.Random) -> httpx.Response:
    body = {"Campaign": t.spare_code, "Target": f"+4969{rng.randrange(10**7, 10**8)}"}
    return await c.post("/ForwardDialer/Dialer/AddCall", json=body)


MIX: list[tuple[str, Action, int]] = [
    ("get_contact", _get_contact, 30),
    ("patch_contact", _patch_contact, 20),
    ("list_contacts", _list_contacts, 15),
    ("live_view", _live, 10),
    ("dnc_add", _dnc_add, 10),
    ("voicenter_addcall", _add_call, 15),
]


async def _import(c: httpx.AsyncClient, t: Target, rng: random.Random) -> httpx.Response:
    files = {"file": ("load.csv", _import_body(rng), "text/csv")}
    return await c.post(f"/api/v1/campaigns/{t.spare_id}/contacts:import", files=files)


def _failed(kind: str, response: httpx.Response) -> str | None:
    if response.status_code >= 400:
        return f"{kind}:{response.status_code}"
    if kind == "voicenter_addcall" and response.json().get("ErrorCode") != 0:
        return f"{kind}:{response.json().get('ErrorCode')}"
    return None


async def _client(
    client: httpx.AsyncClient, target: Target, seed: int, until: float, tally: Tally, importer: bool
) -> None:
    rng = random.Random(seed)
    kinds, actions, weights = zip(*MIX, strict=True)
    next_import = time.monotonic() + target.import_every / 2
    while time.monotonic() < until:
        if importer and target.import_every and time.monotonic() >= next_import:
            kind, action = "import_1000", _import
            next_import += target.import_every
        else:
            index = rng.choices(range(len(kinds)), weights)[0]
            kind, action = kinds[index], actions[index]
        started, wall = time.perf_counter(), time.time()
        try:
            response = await action(client, target, rng)
        except httpx.TimeoutException:
            tally.timeouts += 1
            continue
        except httpx.TransportError as error:
            tally.errors[f"{kind}:{type(error).__name__}"] += 1
            continue
        took = time.perf_counter() - started
        tally.latencies.append(took)
        request_id = response.headers.get("x-request-id", "")
        sent, answered = (response.request.extensions.get(k, 0.0) for k in ("sent", "answered"))
        tally.records.append(Record(kind, wall, took, request_id, sent, answered))
        tally.kind_latencies.setdefault(kind, []).append(took)
        tally.by_kind[kind] += 1
        if (failure := _failed(kind, response)) is not None:
            tally.errors[failure] += 1


def _by_kind(tally: Tally) -> dict[str, str]:
    """Which kinds of request make the tail."""
    return {
        kind: f"{_percentile(took, 0.5) * 1000:.0f} / {_percentile(took, 0.99) * 1000:.0f}"
        for kind, took in sorted(tally.kind_latencies.items())
    }


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else 0.0


_TRACED = {
    "http11.send_request_body.complete": "sent",
    "http11.receive_response_headers.complete": "answered",
}


async def _trace_times(request: httpx.Request) -> None:
    """When the request left this process and its answer's headers came in (wall clock), kept
    in the request's extensions: the client's own queue before and after, apart from the
    server's."""

    async def trace(event: str, info: dict[str, object]) -> None:
        if (name := _TRACED.get(event)) is not None:
            request.extensions[name] = time.time()

    request.extensions["trace"] = trace


async def _client_lag(until: float, lags: list[float]) -> None:
    """How late this process's event loop wakes a sleeper: the part of a latency that is the
    bench client's own queue."""
    while time.monotonic() < until:
        asked = time.perf_counter()
        await asyncio.sleep(LAG_EVERY)
        lags.append(time.perf_counter() - asked - LAG_EVERY)


@asynccontextmanager
async def _http_client(target: Target, clients: int) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {target.api_key}"}
    # A connection idle for the server's keep-alive (uvicorn: 5 s, as httpx's default expiry)
    # may be closed by the server just as the client sends on it: a ReadError the server never
    # saw. The client lets idle connections go first, as a client of any HTTP server should.
    limits = httpx.Limits(max_connections=clients + 4, keepalive_expiry=KEEPALIVE_EXPIRY)
    hooks = {"request": [_trace_times]}
    async with httpx.AsyncClient(
        base_url=target.base, headers=headers, timeout=TIMEOUT, limits=limits, event_hooks=hooks
    ) as client:
        yield client


async def _client_group(
    client: httpx.AsyncClient, target: Target, seeds: list[int], until: float, tally: Tally
) -> None:
    """Clients on one event loop; the first seed's also imports now and then."""
    await asyncio.gather(
        _client_lag(until, tally.client_lags),
        *(_client(client, target, seed, until, tally, importer=seed == 0) for seed in seeds),
    )


def _client_process(target: Target, seeds: list[int], start: float, until: float) -> Tally:
    """A client process of ``--client-processes``: its own event loop and connections, from
    ``start`` to ``until`` (``time.monotonic``, one clock for every process on Linux)."""

    async def clients() -> Tally:
        tally = Tally()
        async with _http_client(target, len(seeds)) as client:
            await asyncio.sleep(max(0.0, start - time.monotonic()))
            await _client_group(client, target, seeds, until, tally)
        return tally

    cpu = time.process_time()
    tally = asyncio.run(clients())
    tally.cpu = time.process_time() - cpu
    return tally


def _client_processes(
    pool: ProcessPoolExecutor,
    processes: int,
    target: Target,
    clients: int,
    start: float,
    seconds: float,
) -> list[asyncio.Future[Tally]]:
    """The clients shared out over the pool's ``processes``, each run from ``start`` on."""
    seeds = list(range(clients))
    loop = asyncio.get_running_loop()
    return [
        loop.run_in_executor(
            pool,
            _client_process,
            target,
            seeds[i::processes],
            start,
            start + seconds,
        )
        for i in range(processes)
    ]


async def _measure(
    target: Target, seconds: float, clients: int, processes: int
) -> tuple[Tally, EngineSample, EngineSample, EngineSample]:
    """The engine alone, then under load, as long each. Client processes, if any, start (and
    import their modules) during the warm-up, and wait for the loaded phase."""
    async with _http_client(target, clients) as client:
        await wait_ready(client, time.monotonic() + 180)
        await setup_target(client, target)
        loaded_at = time.monotonic() + WARM_UP + seconds
        with contextlib.ExitStack() as stack:
            runs: list[asyncio.Future[Tally]] = []
            if processes > 1:
                pool = ProcessPoolExecutor(processes, mp_context=get_context("spawn"))
                stack.enter_context(pool)
                runs = _client_processes(pool, processes, target, clients, loaded_at, seconds)
            await asyncio.sleep(WARM_UP)
            quiet_start = await _engine_sample(client, target)
            await asyncio.sleep(max(0.0, loaded_at - time.monotonic()))
            quiet_end = await _engine_sample(client, target)
            tally = Tally()
            if runs:
                for group_tally in await asyncio.gather(*runs):
                    tally.add(group_tally)
            else:
                seeds = list(range(clients))
                await _client_group(client, target, seeds, loaded_at + seconds, tally)
        loaded_end = await _engine_sample(client, target)
    return tally, quiet_start, quiet_end, loaded_end


@dataclass
class Settings:
    seconds: float
    clients: int
    agents: int
    contacts: int
    talk_seconds: float
    import_every: float = IMPORT_EVERY
    probe: bool = False
    client_processes: int = 4


def run(backend: str, settings: Settings) -> tuple[list[object], list[object]]:
    """One database: its row of the latency table and its row of the cost table."""
    with throwaway_database(backend) as url:
        api_key, campaign_id = prepare(url, settings.agents, settings.contacts)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        log_path = Path(f"/tmp/opendialer-load-{backend}.log")
        probe_file = Path(f"/tmp/opendialer-load-{backend}-probe.json") if settings.probe else None
        with serving(url, port, log_path, settings.talk_seconds, probe_file) as server:
            target = Target(base, api_key, campaign_id, url, server.pid, settings.import_every)
            tally, start, quiet, loaded = asyncio.run(
                _measure(target, settings.seconds, settings.clients, settings.client_processes)
            )
    print(f"{backend}: requests by kind {dict(tally.by_kind)}; errors {dict(tally.errors)}")
    print(f"{backend}: p50 / p99 ms by kind {_by_kind(tally)}")
    records = [vars(record) for record in tally.records]
    Path(f"/tmp/opendialer-load-{backend}-requests.json").write_text(json.dumps(records))
    rows = tail_rows(tally.records, log_path, probe_file, SLOW)
    rows.append(("bench client event loop lag ms p50 / p99 / max", lag_summary(tally.client_lags)))
    print_table(f"{backend}: where the tail comes from", ["figure", "value"], rows)
    return _latency_row(backend, settings, tally, start, quiet, loaded), _cost_row(
        backend, tally, start, quiet, loaded
    )


def _latency_row(
    backend: str,
    settings: Settings,
    tally: Tally,
    start: EngineSample,
    quiet: EngineSample,
    loaded: EngineSample,
) -> list[object]:
    minutes = settings.seconds / 60
    quiet_rate = (quiet.attempts - start.attempts) / minutes
    loaded_rate = (loaded.attempts - quiet.attempts) / minutes
    lat = tally.latencies
    return [
        backend,
        settings.clients,
        f"{settings.seconds:.0f}",
        len(lat),
        sum(tally.errors.values()),
        tally.timeouts,
        f"{_percentile(lat, 0.50) * 1000:.0f}",
        f"{_percentile(lat, 0.95) * 1000:.0f}",
        f"{_percentile(lat, 0.99) * 1000:.0f}",
        f"{quiet_rate:.0f}",
        f"{loaded_rate:.0f}",
        f"{(loaded_rate / quiet_rate - 1) * 100:+.1f}%" if quiet_rate else "-",
        quiet.tick_p99_ms,
        loaded.tick_p99_ms,
    ]


def _cost_row(
    backend: str, tally: Tally, start: EngineSample, quiet: EngineSample, loaded: EngineSample
) -> list[object]:
    """Per request, net of the engine: the quiet phase is as long as the loaded one."""
    requests = max(1, len(tally.latencies))
    engine_cpu = quiet.server_cpu - start.server_cpu
    server_cpu = loaded.server_cpu - quiet.server_cpu - engine_cpu
    client_cpu = loaded.client_cpu - quiet.client_cpu + tally.cpu
    pg = backend == "postgresql"
    quiet_xacts = quiet.pg_transactions - start.pg_transactions
    xacts = loaded.pg_transactions - quiet.pg_transactions - quiet_xacts
    pg_cpu = loaded.pg_cpu - quiet.pg_cpu - (quiet.pg_cpu - start.pg_cpu)
    return [
        backend,
        requests,
        f"{engine_cpu:.1f}",
        f"{server_cpu / requests * 1000:.2f}",
        f"{client_cpu / requests * 1000:.2f}",
        f"{xacts / requests:.2f}" if pg else "-",
        f"{pg_cpu / requests * 1000:.2f}" if pg else "-",
        loaded.pg_sessions - quiet.pg_sessions if pg else "-",
        os.getloadavg()[0],
    ]


LATENCY_COLUMNS = [
    "database",
    "clients",
    "seconds",
    "requests",
    "errors",
    "timeouts",
    "p50 ms",
    "p95 ms",
    "p99 ms",
    "attempts/min quiet",
    "attempts/min loaded",
    "change",
    "tick late p99 ms quiet",
    "tick late p99 ms loaded",
]
COST_COLUMNS = [
    "database",
    "requests",
    "engine CPU s (quiet phase)",
    "server CPU ms/request",
    "bench client CPU ms/request",
    "PG transactions/request",
    "PG server processes CPU ms/request",
    "PG connections opened under load",
    "load average (1 min) at the end",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--agents", type=int, default=30)
    parser.add_argument("--contacts", type=int, default=20_000)
    parser.add_argument("--talk-seconds", type=float, default=20.0)
    parser.add_argument(
        "--import-every", type=float, default=IMPORT_EVERY, help="seconds; 0: no imports"
    )
    parser.add_argument(
        "--probe", action="store_true", help="record the server's GC pauses (bench/server_probe)"
    )
    parser.add_argument(
        "--client-processes",
        type=int,
        default=4,
        help="share the clients out over this many processes, each with its own event loop",
    )
    args = parser.parse_args()
    settings = Settings(
        args.seconds,
        args.clients,
        args.agents,
        args.contacts,
        args.talk_seconds,
        args.import_every,
        args.probe,
        args.client_processes,
    )
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    rows = [run(backend, settings) for backend in backends]
    title = f"Mixed API load while a campaign dials ({settings.agents} agents)"
    print_table(title, LATENCY_COLUMNS, [latency for latency, _ in rows])
    print_table("What a request costs (net of the engine)", COST_COLUMNS, [c for _, c in rows])


if __name__ == "__main__":
    main()
