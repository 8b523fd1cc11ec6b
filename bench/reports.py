"""How long the reports take over 1,000,000 attempts on PostgreSQL (issue 21: within 2 s).

Builds a throw-away database: one tenant, 20 campaigns, 200 agents, 1,000,000 attempts and
360,000 agent state changes spread over 30 days (bulk ``INSERT ... SELECT generate_series``),
rolls it up as housekeeping would (``reports/rollups.py``; the last hour is left as the unrolled
tail the reports read from the history), then times each report through the same service the
API calls, for one day and for 30 days, and the server's CPU for the 30 days.

    .venv/bin/python -m bench.reports            # PostgreSQL at OPENDIALER_BENCH_PG_URL
"""

import os
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from bench.common import print_table, throwaway_database
from opendialer.accounts.service import create_tenant
from opendialer.campaigns.schemas import CampaignCreate
from opendialer.campaigns.service import create_campaign
from opendialer.db import create_db_engine, create_sessionmaker, unit_of_work
from opendialer.models import User, UserRole
from opendialer.reports import rollups, service
from opendialer.reports.schemas import ReportFilter
from opendialer.scoping import Scope

ATTEMPTS = 1_000_000
STATE_CHANGES = 360_000
DAYS = 30
END = datetime(2026, 12, 1, tzinfo=UTC)
START = END - timedelta(days=DAYS)

ATTEMPTS_SQL = """
INSERT INTO call_attempts (tenant_id, campaign_id, user_id, b_number, outbound, test_call,
                           started_at, connected_at, ended_at, outcome, created_at)
SELECT :tenant, (:campaigns)[1 + g % 20],
       CASE WHEN g % 3 = 0 THEN (:agents)[1 + g % 200] END,
       '+4930' || g, true, false, at,
       CASE WHEN g % 3 = 0 THEN at + interval '6 seconds' END,
       at + interval '40 seconds',
       CASE WHEN g % 3 = 0 THEN 'connected'
            WHEN g % 21 = 1 THEN 'abandoned'
            WHEN g % 3 = 1 THEN 'machine'
            WHEN g % 2 = 0 THEN 'busy' ELSE 'no_answer' END,
       at
FROM (SELECT g, :start + g * (:span / :count) * interval '1 second' AS at
      FROM generate_series(0, :count - 1) AS g) AS s
"""
STATES_SQL = """
INSERT INTO agent_state_changes (tenant_id, user_id, state, pause_reason, campaign_id, at)
SELECT :tenant, (:agents)[1 + g % 200],
       (ARRAY['ready', 'on_call', 'wrap_up', 'paused'])[1 + (g / 200) % 4],
       CASE WHEN (g / 200) % 4 = 3 THEN 'break' END,
       CASE WHEN (g / 200) % 4 IN (1, 2) THEN (:campaigns)[1 + g % 20] END,
       :start + (g / 200) * (:span / (:count / 200)) * interval '1 second'
FROM generate_series(0, :count - 1) AS g
"""


def _build(url: str) -> tuple[Scope, float]:
    sessions = create_sessionmaker(create_db_engine(url))
    with unit_of_work(sessions) as session:
        tenant = create_tenant(session, "Bench", default_region="DE", timezone="UTC").tenant
        scope = Scope.system(tenant.id)
        campaigns = [
            create_campaign(
                session, scope, CampaignCreate(name=f"C{i}", dial_mode="predictive", timezone="UTC")
            ).id
            for i in range(20)
        ]
        users = [
            User(tenant_id=tenant.id, username=f"a{i}", role=UserRole.AGENT) for i in range(200)
        ]
        session.add_all(users)
        session.flush()
        agents = [u.id for u in users]
    started = time.perf_counter()
    with unit_of_work(sessions) as session:
        common: dict[str, Any] = {"tenant": scope.tenant_id, "campaigns": campaigns}
        common |= {"agents": agents, "start": START, "span": DAYS * 86400.0}
        session.execute(text(ATTEMPTS_SQL), common | {"count": ATTEMPTS})
        session.execute(text(STATES_SQL), common | {"count": STATE_CHANGES})
    with sessions() as session, session.begin():
        session.execute(text("ANALYZE"))
    return scope, time.perf_counter() - started


def _roll(url: str, scope: Scope) -> tuple[float, float, datetime | None]:
    """As housekeeping does, a day per transaction, with an hour left unrolled: wall and CPU
    seconds of this process."""
    sessions = create_sessionmaker(create_db_engine(url))
    wall, cpu = time.perf_counter(), time.process_time()
    mark = None
    while True:
        with unit_of_work(sessions) as session:
            moved = rollups.roll(session, scope, END - timedelta(minutes=55))
        if moved == mark:
            break
        mark = moved
    return time.perf_counter() - wall, time.process_time() - cpu, mark


def _timed(run: Callable[[], list[Any]]) -> tuple[float, float, int]:
    """Best wall seconds of 3 runs, and this process's CPU seconds in that run."""
    best, cpu, rows = float("inf"), 0.0, 0
    for _ in range(3):
        began, began_cpu = time.perf_counter(), time.process_time()
        rows = len(run())
        took = time.perf_counter() - began
        if took < best:
            best, cpu = took, time.process_time() - began_cpu
    return best, cpu, rows


def _reports(
    session: Session, scope: Scope, wanted: ReportFilter
) -> dict[str, Callable[[], list[Any]]]:
    return {
        "agent performance": lambda: service.agent_performance(session, scope, wanted, END),
        "results": lambda: service.results(session, scope, wanted),
        "campaigns by hour": lambda: service.campaign_periods(session, scope, wanted, "hour", END),
        "campaigns by day": lambda: service.campaign_periods(session, scope, wanted, "day", END),
        "compliance": lambda: service.compliance(session, scope, wanted),
    }


def main() -> None:
    with throwaway_database("postgresql") as url:
        scope, load_seconds = _build(url)
        print(f"built in {load_seconds:.0f} s; rolling up", file=sys.stderr, flush=True)
        roll_wall, roll_cpu, mark = _roll(url, scope)
        print(f"rolled up in {roll_wall:.0f} s", file=sys.stderr, flush=True)
        sessions = create_sessionmaker(create_db_engine(url))
        day = (END - timedelta(days=1)).date()
        ranges = {"1 day": (day, day), "30 days": (START.date(), day)}
        table = []
        with sessions() as session:
            for label, (first, last) in ranges.items():
                reports = _reports(session, scope, ReportFilter(first, last))
                for name, run in reports.items():
                    seconds, cpu, rows = _timed(run)
                    verdict = "yes" if seconds < 2 else "NO"
                    table.append((name, label, rows, f"{seconds:.2f}", f"{cpu:.2f}", verdict))
    load = os.getloadavg()[0]
    print_table(
        f"Reports over {ATTEMPTS:,} attempts and {STATE_CHANGES:,} state changes on PostgreSQL "
        f"(built in {load_seconds:.0f} s; rolled up to {mark:%H:%M} of the last day in "
        f"{roll_wall:.0f} s, {roll_cpu:.0f} s CPU here; best of 3; load average {load:.1f} "
        "on 2 cores)",
        ["report", "range", "rows", "seconds", "CPU s (client)", "under 2 s"],
        table,
    )


if __name__ == "__main__":
    main()
