"""How long the reports take over 1,000,000 attempts (issue 21: within 2 s on PostgreSQL).

Builds a throw-away database: one tenant, 20 campaigns (3 result codes each), 200 agents (each
a member of one campaign), 1,000,000 attempts (a third connected by an agent, with a result
code) and 360,000 agent state changes spread over 30 days, in one ``INSERT ... SELECT`` each
over a number series. Rolls it up as housekeeping does (``reports/rollups.py``, a step per
transaction; the last hour is left as the unrolled tail the reports read from the history),
then times each report through the same service the API calls, for one day and for 30 days,
unfiltered and filtered by a campaign and by an agent: the first run on a new connection
("cold": PostgreSQL's and the OS's caches stay warm) and the p50 and max of the warm repeats,
with the load average at each row.

    .venv/bin/python -m bench.reports                      # PostgreSQL at OPENDIALER_BENCH_PG_URL
    .venv/bin/python -m bench.reports --backend sqlite
"""

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from bench.common import print_table, throwaway_database
from opendialer.accounts.service import create_tenant
from opendialer.campaigns.schemas import CampaignCreate
from opendialer.campaigns.service import add_member, create_campaign
from opendialer.db import SessionMaker, create_db_engine, create_sessionmaker, unit_of_work
from opendialer.models import AgentStateQuarter, AttemptQuarter, ResultCode, User, UserRole
from opendialer.reports import rollups, service
from opendialer.reports.schemas import ReportFilter
from opendialer.scoping import Scope

ATTEMPTS = 1_000_000
STATE_CHANGES = 360_000
CAMPAIGNS = 20
AGENTS = 200
DAYS = 30
END = datetime(2026, 12, 1, tzinfo=UTC)
START = END - timedelta(days=DAYS)
ROLLED_TO = END - timedelta(minutes=55)  # as if housekeeping ran then: about an hour of tail
WARM_RUNS = 5

SERIES = {
    "postgresql": "SELECT g FROM generate_series(0, :count - 1) AS g",
    "sqlite": "WITH RECURSIVE n(g) AS (SELECT 0 UNION ALL SELECT g + 1 FROM n WHERE g + 1 < :count)"
    " SELECT g FROM n",
}


def _stored(backend: str, seconds: str) -> str:
    """SQL for the stored (naive UTC) time of ``seconds`` since the epoch."""
    if backend == "postgresql":
        return f"(to_timestamp({seconds}) AT TIME ZONE 'UTC')"
    return (
        f"(strftime('%Y-%m-%d %H:%M:%S', {seconds}, 'unixepoch')"
        f" || printf('.%06d', ({seconds} - CAST({seconds} AS INTEGER)) * 1000000))"
    )


def _attempts_sql(backend: str) -> str:
    at = _stored(backend, "s")
    return f"""
INSERT INTO call_attempts (tenant_id, campaign_id, user_id, b_number, outbound, test_call,
                           started_at, connected_at, ended_at, outcome, result_code_id,
                           created_at)
SELECT :tenant, :campaign0 + g % {CAMPAIGNS},
       CASE WHEN g % 3 = 0 THEN :agent0 + g % {AGENTS} END,
       '+4930' || g, true, false, {at},
       CASE WHEN g % 3 = 0 THEN {_stored(backend, "s + 6")} END,
       {_stored(backend, "s + 40")},
       CASE WHEN g % 3 = 0 THEN 'connected'
            WHEN g % 21 = 1 THEN 'abandoned'
            WHEN g % 3 = 1 THEN 'machine'
            WHEN g % 2 = 0 THEN 'busy' ELSE 'no_answer' END,
       CASE WHEN g % 3 = 0 THEN :code0 + (g % {CAMPAIGNS}) * 3 + (g / 3) % 3 END,
       {at}
FROM (SELECT g, :start + g * :step AS s FROM ({SERIES[backend]}) AS series) AS t
"""


def _states_sql(backend: str) -> str:
    return f"""
INSERT INTO agent_state_changes (tenant_id, user_id, state, pause_reason, campaign_id, at)
SELECT :tenant, :agent0 + g % {AGENTS},
       CASE (g / {AGENTS}) % 4 WHEN 0 THEN 'ready' WHEN 1 THEN 'on_call'
                               WHEN 2 THEN 'wrap_up' ELSE 'paused' END,
       CASE WHEN (g / {AGENTS}) % 4 = 3 THEN 'break' END,
       CASE WHEN (g / {AGENTS}) % 4 IN (1, 2) THEN :campaign0 + g % {CAMPAIGNS} END,
       {_stored(backend, "s")}
FROM (SELECT g, :start + (g / {AGENTS}) * :step AS s FROM ({SERIES[backend]}) AS series) AS t
"""


@dataclass(frozen=True)
class Built:
    scope: Scope
    campaign_id: int
    agent_id: int
    seconds: float


def _contiguous(ids: list[int]) -> int:
    """The first id; the SQL above numbers the rest from it."""
    assert ids == list(range(ids[0], ids[0] + len(ids))), "ids of a fresh database run on"
    return ids[0]


def _build(sessions: SessionMaker, backend: str) -> Built:
    with unit_of_work(sessions) as session:
        tenant = create_tenant(session, "Bench", default_region="DE", timezone="UTC").tenant
        scope = Scope.system(tenant.id)
        campaigns = [
            create_campaign(
                session, scope, CampaignCreate(name=f"C{i}", dial_mode="predictive", timezone="UTC")
            )
            for i in range(CAMPAIGNS)
        ]
        codes = [
            ResultCode(tenant_id=tenant.id, campaign_id=c.id, code=code, text_en=code, text_de=code)
            for c in campaigns
            for code in ("sale", "no_interest", "call_back")
        ]
        users = [
            User(tenant_id=tenant.id, username=f"a{i:03}", role=UserRole.AGENT)
            for i in range(AGENTS)
        ]
        session.add_all([*codes, *users])
        session.flush()
        for i, user in enumerate(users):
            add_member(session, campaigns[i % CAMPAIGNS], user.id)
        campaign0, agent0 = (
            _contiguous([c.id for c in campaigns]),
            _contiguous([u.id for u in users]),
        )
        first: dict[str, float] = {"tenant": tenant.id, "campaign0": campaign0, "agent0": agent0}
        first |= {"code0": _contiguous([c.id for c in codes]), "start": START.timestamp()}
    started = time.perf_counter()
    with unit_of_work(sessions) as session:
        span = DAYS * 86400.0
        attempts = {"count": ATTEMPTS, "step": span / ATTEMPTS}
        session.execute(text(_attempts_sql(backend)), first | attempts)
        states = {"count": STATE_CHANGES, "step": span / (STATE_CHANGES / AGENTS)}
        session.execute(text(_states_sql(backend)), first | states)
    with sessions() as session, session.begin():
        session.execute(text("ANALYZE"))
    seconds = time.perf_counter() - started
    return Built(scope, campaign0, agent0, seconds)


@dataclass(frozen=True)
class Rolled:
    wall: float
    cpu: float
    steps: int
    mark: datetime | None
    attempt_rows: int
    state_rows: int


def _roll(sessions: SessionMaker, scope: Scope) -> Rolled:
    """As housekeeping does, a step per transaction: wall and CPU seconds of this process."""
    wall, cpu = time.perf_counter(), time.process_time()
    mark, steps = None, 0
    while True:
        with unit_of_work(sessions) as session:
            moved = rollups.roll(session, scope, ROLLED_TO)
        steps += 1
        if moved == mark:
            break
        mark = moved
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    with sessions() as session, session.begin():
        session.execute(text("ANALYZE"))  # as autovacuum would, after that many new rows
    with sessions() as session:
        attempt_rows = session.scalar(select(func.count()).select_from(AttemptQuarter)) or 0
        state_rows = session.scalar(select(func.count()).select_from(AgentStateQuarter)) or 0
    return Rolled(wall, cpu, steps, mark, attempt_rows, state_rows)


Report = Callable[[Session, ReportFilter], list[Any]]


def _reports(scope: Scope) -> dict[str, Report]:
    return {
        "agent performance": lambda s, f: service.agent_performance(s, scope, f, END),
        "results": lambda s, f: service.results(s, scope, f),
        "campaigns by hour": lambda s, f: service.campaign_periods(s, scope, f, "hour", END),
        "campaigns by day": lambda s, f: service.campaign_periods(s, scope, f, "day", END),
        "compliance": lambda s, f: service.compliance(s, scope, f),
    }


def _filters(built: Built) -> dict[str, ReportFilter]:
    last = (END - timedelta(days=1)).date()
    ranges: dict[str, tuple[date, date]] = {"1 day": (last, last), "30 days": (START.date(), last)}
    found: dict[str, ReportFilter] = {}
    for label, (first, final) in ranges.items():
        found[label] = ReportFilter(first, final)
        found[f"{label}, a campaign"] = ReportFilter(first, final, campaign_id=built.campaign_id)
        found[f"{label}, an agent"] = ReportFilter(first, final, user_id=built.agent_id)
    return found


@dataclass(frozen=True)
class Timing:
    cold: float
    warm: list[float]
    rows: int
    client_cpu: float  # this process, per run (on SQLite: the database's work too)
    database_cpu: float | None  # PostgreSQL's backend process, per run


def _backend_cpu(session: Session) -> float | None:
    """CPU seconds of the PostgreSQL backend serving the session (None on SQLite)."""
    if session.get_bind().dialect.name != "postgresql":
        return None
    pid = session.scalar(text("SELECT pg_backend_pid()"))
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def _time(engine: Engine, run: Report, wanted: ReportFilter) -> Timing:
    """The first run on a new connection, then the warm repeats (wall seconds); PostgreSQL
    plans without parallel workers, so its backend's CPU is all the database's work."""
    engine.dispose()
    times, rows = [], 0
    with create_sessionmaker(engine)() as session:
        if engine.dialect.name == "postgresql":
            session.execute(text("SET max_parallel_workers_per_gather = 0"))
        client, database = time.process_time(), _backend_cpu(session)
        for _ in range(1 + WARM_RUNS):
            began = time.perf_counter()
            rows = len(run(session, wanted))
            times.append(time.perf_counter() - began)
        runs = 1 + WARM_RUNS
        client = (time.process_time() - client) / runs
        after = _backend_cpu(session)
        database = None if database is None or after is None else (after - database) / runs
    return Timing(times[0], times[1:], rows, client, database)


def _measure(engine: Engine, built: Built) -> list[tuple[object, ...]]:
    table: list[tuple[object, ...]] = []
    for label, wanted in _filters(built).items():
        for name, run in _reports(built.scope).items():
            t = _time(engine, run, wanted)
            cpu = t.client_cpu + (t.database_cpu or 0.0)
            table.append(
                (
                    name,
                    label,
                    t.rows,
                    f"{t.cold:.2f}",
                    f"{statistics.median(t.warm):.2f}",
                    f"{max(t.warm):.2f}",
                    f"{t.client_cpu:.2f}",
                    "-" if t.database_cpu is None else f"{t.database_cpu:.2f}",
                    f"{os.getloadavg()[0]:.1f}",
                    "yes" if max(t.cold, *t.warm) < 2 else "NO",
                    "yes" if cpu < 2 else "NO",
                )
            )
            print(*table[-1], sep=" | ", file=sys.stderr, flush=True)
    return table


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", choices=sorted(SERIES), default="postgresql")
    backend = parser.parse_args().backend
    with throwaway_database(backend) as url:
        engine = create_db_engine(url)
        sessions = create_sessionmaker(engine)
        built = _build(sessions, backend)
        load = os.getloadavg()[0]
        print(f"built in {built.seconds:.0f} s (load {load:.1f}); rolling up", file=sys.stderr)
        rolled = _roll(sessions, built.scope)
        load = os.getloadavg()[0]
        print(f"rolled up in {rolled.wall:.0f} s (load {load:.1f})", file=sys.stderr, flush=True)
        table = _measure(engine, built)
        engine.dispose()
    print_table(
        f"Reports over {ATTEMPTS:,} attempts and {STATE_CHANGES:,} state changes on {backend} "
        f"(built in {built.seconds:.0f} s; rolled up to {rolled.mark:%H:%M} of the last day in "
        f"{rolled.steps} steps, {rolled.wall:.0f} s, {rolled.cpu:.1f} s CPU here, load {load:.1f}: "
        f"{rolled.attempt_rows:,} attempt and {rolled.state_rows:,} agent state rows; "
        f"cold = first run on a new connection, warm = {WARM_RUNS} repeats; no parallel "
        "query workers; 2 cores)",
        [
            "report",
            "range",
            "rows",
            "cold s",
            "warm p50 s",
            "warm max s",
            "client CPU s/run",
            "database CPU s/run",
            "load",
            "wall < 2 s",
            "CPU < 2 s",
        ],
        table,
    )


if __name__ == "__main__":
    main()
