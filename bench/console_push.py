"""Screen-pop push to the agent console: bridge -> ``state`` event delay, and server CPU.

200 agents sign in through the token endpoint (real login sessions), log in, go ready and
each keeps one server-sent-events stream open, as the console page does. One server process
(``opendialer serve``, sim backend, predictive campaign, customers always answer, short
talks, 2 s wrap-up after which the campaign makes agents ready) dials them. For each call the
delay is taken from the engine's bridge (``call.bridged_at`` in the pushed state) to the moment
the client read the event. A second run with the same load but no streams open gives the
server's CPU without pushes; the difference is the CPU share spent on pushing.

Figures that do not depend on the machine's load: the server's CPU per screen pop (the
difference of the two runs over the pops), the state events sent per pop (each one a read),
and the statements of one read (a stream's login check and state, counted in this process
on the run's database for an agent on a call).

    .venv/bin/python -m bench.console_push [--agents 200] [--seconds 40] [--plot file.png]

The clients run in this process (one asyncio loop): their own lateness is in the figures.
"""

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path

import httpx
from sqlalchemy import event, select

from bench.common import print_table, stop, throwaway_database
from opendialer.accounts.logins import find_login
from opendialer.campaigns.service import add_member
from opendialer.console import service
from opendialer.db import SessionMaker, create_db_engine, create_sessionmaker, unit_of_work
from opendialer.demo import SimulationSetup, prepare_campaign
from opendialer.models import AgentSession, Campaign, User, UserRole
from opendialer.security import hash_password

PASSWORD = "bench-password-1"
IDLE = timedelta(hours=8)
SCENARIO = {
    "customers": {
        "p_live": 1.0,
        "p_machine": 0.0,
        "live_answer_after": {"dist": "uniform", "mean": 3.0, "sd": 1.5},
        "talk_time": {"dist": "uniform", "mean": 6.0, "sd": 3.0},
    },
    "agents": {"answer_delay": 0.2},
}


@dataclass
class Run:
    delays_ms: list[float] = field(default_factory=list)
    cpu_seconds: float = 0.0
    wall_seconds: float = 0.0
    streams: int = 0
    events: int = 0  # state events read in the measured window
    tokens: list[str] = field(default_factory=list)
    statements_per_read: int = 0
    read_on_call: bool = False  # the counted read had a call on screen
    load: tuple[float, float] = (0.0, 0.0)  # 1-minute load average at the start and the end


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def prepare(url: str, agents: int) -> None:
    sessions = create_sessionmaker(create_db_engine(url))
    # Any hour of the day: the bench runs whenever it is started.
    all_day = (clock_time(0), clock_time(23, 59))
    setup = SimulationSetup(agents=0, contacts=50_000, calling_hours=all_day)
    campaign_id = prepare_campaign(sessions, setup, datetime.now(UTC), name="Push bench")
    password_hash = hash_password(PASSWORD)
    with unit_of_work(sessions) as session:
        campaign = session.get_one(Campaign, campaign_id)
        campaign.wrap_up_seconds = 2
        for i in range(agents):
            user = User(
                tenant_id=campaign.tenant_id,
                username=f"push{i}",
                password_hash=password_hash,
                role=UserRole.AGENT,
            )
            session.add(user)
            session.flush()
            add_member(session, campaign, user.id)


def start_server(url: str, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "OPENDIALER_DATABASE_URL": url,
        "OPENDIALER_SECRET_KEY": "bench-secret-" + "x" * 40,
        "OPENDIALER_TELEPHONY_BACKEND": "sim",
        "OPENDIALER_TELEPHONY_OPTIONS": json.dumps({"scenario": SCENARIO, "seed": 7}),
        "OPENDIALER_HOUSEKEEPING_ENABLED": "false",
        "OPENDIALER_LOG_LEVEL": "warning",
        "OPENDIALER_AUTH_MAX_FAILURES_PER_ADDRESS": "100000",
    }
    opendialer = str(Path(sys.executable).parent / "opendialer")
    return subprocess.Popen([opendialer, "serve", "--port", str(port)], env=env)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def wait_up(client: httpx.AsyncClient) -> None:
    deadline = time.monotonic() + 300  # a loaded machine starts the server slowly
    while True:
        try:
            await client.get("/healthz")
            return
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)


async def sign_in(client: httpx.AsyncClient, i: int) -> dict[str, str]:
    body = {"username": f"push{i}", "password": PASSWORD}
    token = (await client.post("/api/v1/auth/token", json=body)).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    for action in ("login", "ready"):
        (await client.post(f"/console/api/agent/{action}", headers=headers)).raise_for_status()
    return headers


async def watch(client: httpx.AsyncClient, headers: dict[str, str], run: Run) -> None:
    """Read the agent's stream; time each call bridged after the stream opened."""
    seen: set[str] = set()
    first = True
    async with client.stream("GET", "/console/api/events", headers=headers) as stream:
        run.streams += 1
        event = ""
        async for line in stream.aiter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") and event == "state":
                received = datetime.now(UTC)
                run.events += 1
                call = json.loads(line[6:]).get("call")
                bridged = call and call.get("bridged_at")
                if bridged and bridged not in seen and not first:
                    delay = received - datetime.fromisoformat(bridged)
                    run.delays_ms.append(delay.total_seconds() * 1000)
                if bridged:
                    seen.add(bridged)
                first = False


async def drive(base_url: str, agents: int, seconds: float, streams: bool, pid: int) -> Run:
    run = Run()
    limits = httpx.Limits(max_connections=agents + 50, max_keepalive_connections=agents + 50)
    async with httpx.AsyncClient(base_url=base_url, timeout=120, limits=limits) as client:
        await wait_up(client)
        logins = [await sign_in(client, i) for i in range(agents)]
        watchers = [asyncio.ensure_future(watch(client, h, run)) for h in logins] if streams else []
        await asyncio.sleep(5)  # streams open, pacing in its stride, before measuring
        cpu0, wall0 = cpu_seconds(pid), time.monotonic()
        run.delays_ms.clear()
        run.events, load0 = 0, os.getloadavg()[0]
        await asyncio.sleep(seconds)
        run.cpu_seconds = cpu_seconds(pid) - cpu0
        run.wall_seconds = time.monotonic() - wall0
        run.load = (load0, os.getloadavg()[0])
        run.tokens = [h["Authorization"].split()[1] for h in logins]
        for watcher in watchers:
            watcher.cancel()
        await asyncio.gather(*watchers, return_exceptions=True)
    return run


def measure(agents: int, seconds: float, streams: bool) -> Run:
    with throwaway_database("sqlite") as url:
        prepare(url, agents)
        port = _free_port()
        server = start_server(url, port)
        try:
            run = asyncio.run(
                drive(f"http://127.0.0.1:{port}", agents, seconds, streams, server.pid)
            )
        finally:
            stop(server)
        run.statements_per_read, run.read_on_call = statements_per_read(url, run.tokens)
        return run


def statements_per_read(url: str, tokens: list[str]) -> tuple[int, bool]:
    """What one of a stream's reads costs: its login check and the agent's state, counted on
    the run's database; and whether that agent had a call on screen (the pop's read). Any
    agent with a call is taken, else the first one still signed in: the run may end with
    nobody on a call (a starved engine), and that is a figure, not a failure."""
    db = create_db_engine(url)
    sessions = create_sessionmaker(db)
    try:
        found = _an_agent(sessions, tokens)
        if found is None:
            return 0, False
        token, on_call = found
        statements: list[str] = []
        event.listen(db, "before_cursor_execute", lambda *args: statements.append(args[2]))
        with unit_of_work(sessions, writes=False) as session:
            login = find_login(session, token, datetime.now(UTC), IDLE, touch=False)
            if login is None:
                return 0, False
            service.console_state(session, login.scope, datetime.now(UTC))
        return len(statements), on_call
    finally:
        db.dispose()


def _an_agent(sessions: SessionMaker, tokens: list[str]) -> tuple[str, bool] | None:
    """A signed-in agent's token, preferring one with a contact on screen."""
    first: str | None = None
    with unit_of_work(sessions, writes=False) as session:
        for token in tokens:
            login = find_login(session, token, datetime.now(UTC), IDLE, touch=False)
            if login is None:
                continue
            first = first or token
            contact = select(AgentSession.contact_id).where(
                AgentSession.user_id == login.scope.user_id
            )
            if session.scalar(contact) is not None:
                return token, True
    return (first, False) if first is not None else None


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--agents", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=40.0)
    parser.add_argument("--plot", type=Path, default=None)
    args = parser.parse_args()
    pushed = measure(args.agents, args.seconds, streams=True)
    d = pushed.delays_ms
    print_table(
        f"Screen pop: {args.agents} agents, {pushed.streams} SSE streams, one server process",
        ["screen pops", "p50 ms", "p99 ms", "max ms", "mean ms"],
        [[len(d), f"{statistics.median(d):.1f}", f"{percentile(d, 0.99):.1f}",
          f"{max(d):.1f}", f"{statistics.fmean(d):.1f}"]] if d else [[0, "-", "-", "-", "-"]],
    )  # fmt: skip
    quiet = measure(args.agents, args.seconds, streams=False)
    share = (pushed.cpu_seconds - quiet.cpu_seconds) / pushed.wall_seconds
    pops = max(1, len(d))
    print_table(
        "Per screen pop (independent of the machine's load)",
        ["server CPU ms per pop", "of it pushing ms", "state events per pop",
         "statements per read", "load average (1 min) during the runs"],
        [[f"{pushed.cpu_seconds / pops * 1000:.1f}",
          f"{(pushed.cpu_seconds - quiet.cpu_seconds) / pops * 1000:.1f}",
          f"{pushed.events / pops:.2f}",
          f"{pushed.statements_per_read} ({'on a call' if pushed.read_on_call else 'no call'})",
          f"{pushed.load[0]:.1f}-{pushed.load[1]:.1f} / {quiet.load[0]:.1f}-{quiet.load[1]:.1f}"]],
    )  # fmt: skip
    rows = [
        [
            name,
            f"{r.cpu_seconds:.1f}",
            f"{r.wall_seconds:.1f}",
            f"{r.cpu_seconds / r.wall_seconds:.1%}",
        ]
        for name, r in ((f"with {pushed.streams} streams", pushed), ("no streams", quiet))
    ]
    rows.append(["pushes (difference)", "", "", f"{share:.1%}"])
    print_table(
        "Server CPU (share of one core over the measured window)",
        ["run", "CPU s", "wall s", "CPU share"],
        rows,
    )
    if args.plot and d:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(7, 3.5))
        ax.hist(d, bins=40)
        ax.axvline(percentile(d, 0.99), color="red", label="p99")
        ax.set_xlabel("bridge -> screen-pop event (ms)")
        ax.set_ylabel("calls")
        ax.legend()
        fig.tight_layout()
        fig.savefig(args.plot)


if __name__ == "__main__":
    main()
