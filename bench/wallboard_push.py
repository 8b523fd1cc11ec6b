"""What the wallboard costs the server for 20 campaigns and 200 agents (issue 21).

One tenant: 20 running campaigns of 10 agents each (states spread over ready, on call, wrap-up
and paused), 20,000 attempts and 40,000 agent state changes today, 100,000 contacts.

1. The producer's tick, in this process on SQLite and PostgreSQL, on a virtual clock (a tick
   every ``TICK_SECONDS``, so the slow part is due every ``SLOW_SECONDS``), with 4 agents
   changing state between ticks: before (``build``, the whole document every tick, as the
   producer did up to 9e2a780's parent) and after (``refresh`` and the delta). CPU of this
   process per tick (for PostgreSQL the database server's own CPU is not in it), wall time,
   and the bytes each push carries.
2. A real server (``opendialer serve``, SQLite, no engine) with one wallboard open: a
   supervisor pauses a ready agent through the API, and the time from the request to the
   stream's event that shows it; then the server's CPU per second over the run and the bytes
   pushed per second. ``--before SRC`` runs the server from another source tree (the code
   before the change: ``git archive 854afc4 src | tar -x -C /tmp/old``), for comparison.

    .venv/bin/python -m bench.wallboard_push [--rounds 30] [--before /tmp/old/src]
"""

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import insert, select, update

from bench.common import print_table, stop, throwaway_database
from bench.console_push import cpu_seconds, wait_up
from opendialer.accounts.service import create_tenant
from opendialer.campaigns.schemas import CampaignCreate
from opendialer.campaigns.service import add_member, create_campaign
from opendialer.console.wallboard_push import TICK_SECONDS, changes
from opendialer.console.wallboard_schemas import Wallboard
from opendialer.console.wallboard_service import SLOW_SECONDS, build, read_slow, refresh
from opendialer.db import SessionMaker, create_db_engine, create_sessionmaker, unit_of_work
from opendialer.models import (
    AgentSession,
    AgentState,
    AgentStateChange,
    CallAttempt,
    CallOutcome,
    Contact,
    User,
    UserRole,
)
from opendialer.scoping import Scope
from opendialer.security import hash_password

CAMPAIGNS, AGENTS, ATTEMPTS, CHANGES, CONTACTS = 20, 200, 20_000, 40_000, 100_000
TICKS = 40
CHANGED_PER_TICK = 4
PASSWORD = "bench-password-1"
PORT = 47310
STATES = [AgentState.READY, AgentState.ON_CALL, AgentState.WRAP_UP, AgentState.PAUSED]


def _fill(url: str, now: datetime) -> Scope:
    sessions = create_sessionmaker(create_db_engine(url))
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    with unit_of_work(sessions) as session:
        tenant = create_tenant(session, "Bench", default_region="DE", timezone="UTC").tenant
        scope = Scope.system(tenant.id)
        campaigns = [
            create_campaign(
                session,
                scope,
                CampaignCreate(
                    name=f"C{i:02}", dial_mode="predictive", status="enabled", timezone="UTC"
                ),
            )
            for i in range(CAMPAIGNS)
        ]
        users = [
            User(tenant_id=tenant.id, username=f"a{i:03}", role=UserRole.AGENT)
            for i in range(AGENTS)
        ]
        session.add_all(users)
        session.add(
            User(
                tenant_id=tenant.id,
                username="boss",
                role=UserRole.SUPERVISOR,
                password_hash=hash_password(PASSWORD),
            )
        )
        session.flush()
        for i, user in enumerate(users):
            add_member(session, campaigns[i % CAMPAIGNS], user.id)
            session.add(
                AgentSession(
                    user_id=user.id,
                    tenant_id=tenant.id,
                    state=STATES[i % 4],
                    since=now,
                    campaign_id=campaigns[i % CAMPAIGNS].id,
                    logged_in_at=midnight,
                )
            )
        span = (now - midnight).total_seconds()
        session.execute(
            insert(CallAttempt),
            [
                {
                    "tenant_id": tenant.id,
                    "campaign_id": campaigns[g % CAMPAIGNS].id,
                    "user_id": users[g % AGENTS].id if g % 3 == 0 else None,
                    "b_number": f"+4930{g}",
                    "started_at": midnight + timedelta(seconds=g * span / ATTEMPTS),
                    "outcome": CallOutcome.CONNECTED if g % 3 == 0 else CallOutcome.NO_ANSWER,
                }
                for g in range(ATTEMPTS)
            ],
        )
        session.execute(
            insert(AgentStateChange),
            [
                {
                    "tenant_id": tenant.id,
                    "user_id": users[g % AGENTS].id,
                    "state": STATES[(g // AGENTS) % 4],
                    "at": midnight + timedelta(seconds=(g // AGENTS) * span * AGENTS / CHANGES),
                }
                for g in range(CHANGES)
            ],
        )
        session.execute(
            insert(Contact),
            [
                {
                    "tenant_id": tenant.id,
                    "campaign_id": campaigns[g % CAMPAIGNS].id,
                    "custom_data": {},
                    "form_data": {},
                }
                for g in range(CONTACTS)
            ],
        )
    return scope


@dataclass
class Ticks:
    cpu_ms: list[float] = field(default_factory=list)  # the ticks (before: with the slow reads)
    wall_ms: list[float] = field(default_factory=list)
    slow_cpu_ms: list[float] = field(default_factory=list)  # after: the slow reads, apart
    bytes: list[int] = field(default_factory=list)  # per push (ticks that pushed nothing: none)

    def cpu_per_second(self) -> float:
        """CPU ms per second: a tick every TICK_SECONDS, a slow read every SLOW_SECONDS."""
        ticks = statistics.fmean(self.cpu_ms) / TICK_SECONDS
        return ticks + (
            statistics.fmean(self.slow_cpu_ms) / SLOW_SECONDS if self.slow_cpu_ms else 0
        )


def _flip(sessions: SessionMaker, scope: Scope, tick: int, now: datetime) -> list[int]:
    """Move CHANGED_PER_TICK agents to the next state (what the producer is told of)."""
    with unit_of_work(sessions) as session:
        ids = list(
            session.scalars(
                select(AgentSession.user_id)
                .where(AgentSession.tenant_id == scope.tenant_id)
                .order_by(AgentSession.user_id)
                .offset((tick * CHANGED_PER_TICK) % AGENTS)
                .limit(CHANGED_PER_TICK)
            )
        )
        state = STATES[tick % len(STATES)]
        session.execute(
            update(AgentSession)
            .where(AgentSession.user_id.in_(ids))
            .values(state=state, since=now, pause_reason=_reason(state))
        )
    return ids


def _reason(state: AgentState) -> str | None:
    return "bench" if state is AgentState.PAUSED else None


@contextmanager
def _cpu(found: list[float]) -> Iterator[None]:
    """This process's CPU ms inside the block, appended to ``found``."""
    began = time.process_time()
    yield
    found.append((time.process_time() - began) * 1000)


def _ticks_before(sessions: SessionMaker, scope: Scope, start: datetime) -> Ticks:
    """The whole document every tick, the slow part within every SLOW_SECONDS-th one."""
    found, slow = Ticks(), None
    for n in range(TICKS + 1):
        now = start + timedelta(seconds=n * TICK_SECONDS)
        wall = time.perf_counter()
        with unit_of_work(sessions, writes=False) as session:
            with _cpu(found.cpu_ms):  # the read and the document's JSON: the server's work
                board, slow = build(session, scope, now, None, slow)
                pushed = board.model_dump_json()
            found.bytes.append(len(pushed))
        found.wall_ms.append((time.perf_counter() - wall) * 1000)
        _flip(sessions, scope, n, now)
    del found.cpu_ms[0], found.wall_ms[0], found.bytes[0]  # the first read: whole in both
    return found


def _ticks_after(sessions: SessionMaker, scope: Scope, start: datetime) -> Ticks:
    """A tick's refresh and its delta; the slow read apart, every SLOW_SECONDS."""
    found = Ticks()
    last: Wallboard | None = None
    changed: list[int] = []
    every = round(SLOW_SECONDS / TICK_SECONDS)
    with unit_of_work(sessions, writes=False) as session:
        live = read_slow(session, scope, start)
    for n in range(1, TICKS + 1):
        now = start + timedelta(seconds=n * TICK_SECONDS)
        if n % every == 0:
            with unit_of_work(sessions, writes=False) as session, _cpu(found.slow_cpu_ms):
                live = read_slow(session, scope, now)
        wall = time.perf_counter()
        with unit_of_work(sessions, writes=False) as session:
            with _cpu(found.cpu_ms):  # the read, the delta and its JSON: the server's work
                board = refresh(session, scope, now, None, live, changed)
                delta = changes(last, board) if last is not None else None
                pushed = delta.model_dump_json() if delta is not None else None
            if pushed is not None:
                found.bytes.append(len(pushed))
        found.wall_ms.append((time.perf_counter() - wall) * 1000)
        last = board
        changed = _flip(sessions, scope, n, now)
    return found


def _measure_ticks(backend: str) -> list[list[object]]:
    start = datetime.now(UTC)
    rows: list[list[object]] = []
    for name, ticks in (("before: whole", _ticks_before), ("after: deltas", _ticks_after)):
        with throwaway_database(backend) as url:
            scope = _fill(url, start)
            sessions = create_sessionmaker(create_db_engine(url))
            load = os.getloadavg()[0]
            t = ticks(sessions, scope, start)
        slow = f"{statistics.fmean(t.slow_cpu_ms):.0f}" if t.slow_cpu_ms else "(in the ticks)"
        rows.append(
            [
                backend,
                name,
                f"{statistics.median(t.cpu_ms):.1f}",
                f"{statistics.fmean(t.cpu_ms):.1f}",
                slow,
                f"{t.cpu_per_second():.0f}",
                f"{statistics.median(t.wall_ms):.1f}",
                f"{len(t.bytes)}/{TICKS}",
                f"{statistics.fmean(t.bytes) / 1024:.1f}" if t.bytes else "-",
                f"{statistics.median(t.bytes) / 1024:.2f}" if t.bytes else "-",
                f"{load:.1f}",
            ]
        )
    return rows


# -- 2. a real server --------------------------------------------------------------------------


@dataclass
class Served:
    delays_ms: list[float] = field(default_factory=list)
    pushes: int = 0
    pushed_bytes: int = 0
    cpu_seconds: float = 0.0
    wall_seconds: float = 0.0
    load: tuple[float, float] = (0.0, 0.0)


def _start_server(url: str, source: Path | None) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "OPENDIALER_DATABASE_URL": url,
        "OPENDIALER_SECRET_KEY": "bench-secret-" + "x" * 40,
        "OPENDIALER_ENGINE_ENABLED": "false",
        "OPENDIALER_HOUSEKEEPING_ENABLED": "false",
        "OPENDIALER_LOG_LEVEL": "warning",
    }
    if source is not None:
        env["PYTHONPATH"] = str(source)
    opendialer = str(Path(sys.executable).parent / "opendialer")
    return subprocess.Popen([opendialer, "serve", "--port", str(PORT)], env=env)


async def _sign_in(client: httpx.AsyncClient) -> dict[str, str]:
    """The login page's form, as a browser (the old stream took only the cookie)."""
    page = (await client.get("/console/login")).text
    _over_plain_http(client)
    token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    form = {"username": "boss", "password": PASSWORD, "csrf_token": token}
    answer = await client.post("/console/login", data=form)
    assert answer.status_code == 303, answer.text
    _over_plain_http(client)
    csrf = (await client.get("/console/wallboard")).text
    return {"X-CSRF-Token": csrf.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]}


def _over_plain_http(client: httpx.AsyncClient) -> None:
    """The server's cookies are Secure; this bench speaks plain HTTP on the loopback (a
    browser treats 127.0.0.1 as secure, httpx does not)."""
    for cookie in client.cookies.jar:
        cookie.secure = False


def _agent_states(name: str, data: dict[str, Any]) -> dict[int, str]:
    return {a["user_id"]: a["state"] for a in data.get("agents", [])}


async def _drive(rounds: int, pid: int) -> Served:
    served = Served()
    received: asyncio.Queue[tuple[float, str, dict[str, Any]]] = asyncio.Queue()
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{PORT}", timeout=60) as client:
        await wait_up(client)
        headers = await _sign_in(client)

        async def listen() -> None:
            async with client.stream("GET", "/console/api/wallboard/events") as stream:
                name = ""
                async for line in stream.aiter_lines():
                    if line.startswith("event: "):
                        name = line[7:]
                    elif line.startswith("data: "):
                        served.pushes += 1
                        served.pushed_bytes += len(line) - 6
                        await received.put((time.perf_counter(), name, json.loads(line[6:])))

        listener = asyncio.create_task(listen())
        _at, _name, whole = await received.get()
        ready = [uid for uid, state in _agent_states("", whole).items() if state == "ready"]
        served.pushes = served.pushed_bytes = 0
        cpu0, wall0, load0 = cpu_seconds(pid), time.monotonic(), os.getloadavg()[0]
        for user_id in ready[:rounds]:
            began = time.perf_counter()
            body = {"reason": "supervisor"}
            answer = await client.post(
                f"/api/v1/agents/{user_id}:pause", json=body, headers=headers
            )
            answer.raise_for_status()
            while True:
                at, name, data = await asyncio.wait_for(received.get(), 30)
                if _agent_states(name, data).get(user_id) == "paused":
                    served.delays_ms.append((at - began) * 1000)
                    break
        await asyncio.sleep(10)  # quiet: what the open wallboard costs when little moves
        served.cpu_seconds = cpu_seconds(pid) - cpu0
        served.wall_seconds = time.monotonic() - wall0
        served.load = (load0, os.getloadavg()[0])
        listener.cancel()
        await asyncio.gather(listener, return_exceptions=True)
    return served


def _measure_server(rounds: int, source: Path | None) -> Served:
    with throwaway_database("sqlite") as url:
        _fill(url, datetime.now(UTC))
        server = _start_server(url, source)
        try:
            return asyncio.run(_drive(rounds, server.pid))
        finally:
            stop(server)


def _served_row(name: str, s: Served) -> list[object]:
    d = s.delays_ms
    return [
        name,
        len(d),
        f"{statistics.median(d):.0f}",
        f"{max(d):.0f}",
        f"{s.cpu_seconds / s.wall_seconds * 1000:.0f}",
        f"{s.pushes / s.wall_seconds:.1f}",
        f"{s.pushed_bytes / max(1, s.pushes) / 1024:.1f}",
        f"{s.pushed_bytes / s.wall_seconds / 1024:.1f}",
        f"{s.load[0]:.1f}-{s.load[1]:.1f}",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--before", type=Path, default=None, help="the old code's src folder")
    parser.add_argument("--skip-ticks", action="store_true")
    args = parser.parse_args()
    if not args.skip_ticks:
        rows = [row for backend in ("sqlite", "postgresql") for row in _measure_ticks(backend)]
        print_table(
            f"The producer's tick: {CAMPAIGNS} campaigns, {AGENTS} agents, {ATTEMPTS:,} attempts "
            f"today, {CHANGED_PER_TICK} agents changed per tick, slow part every "
            f"{SLOW_SECONDS:g} s of a virtual clock ticking every {TICK_SECONDS} s",
            ["database", "producer", "CPU ms/tick p50", "CPU ms/tick mean",
             "slow read CPU ms", "CPU ms per s", "wall ms/tick p50", "ticks that pushed",
             "KiB per push mean", "KiB per push p50", "load (1 min)"],
            rows,
        )  # fmt: skip
    runs = [("after", _measure_server(args.rounds, None))]
    if args.before is not None:
        runs.insert(0, ("before", _measure_server(args.rounds, args.before)))
    print_table(
        "A real server (SQLite, no engine), one wallboard open: a supervisor's pause -> the "
        "stream's event showing it",
        ["code", "changes", "delay p50 ms", "delay max ms", "server CPU ms per s",
         "pushes per s", "KiB per push", "KiB pushed per s", "load (1 min)"],
        [_served_row(name, s) for name, s in runs],
    )  # fmt: skip


if __name__ == "__main__":
    main()
