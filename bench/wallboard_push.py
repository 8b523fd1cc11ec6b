"""What the wallboard costs the server for 20 campaigns and 200 agents (issue 21).

One tenant: 20 running campaigns of 10 agents each (states spread over ready, on call, wrap-up
and paused), 20,000 attempts and 40,000 agent state changes today, 100,000 contacts. The
tenant's one producer builds the document every tick (``TICK_SECONDS``) however many
wallboards are open; this times those builds (the first one also reads the slow part: contacts
left, 30 days, agents' times today; then every ``SLOW_SECONDS``) and the document's size.

    .venv/bin/python -m bench.wallboard_push
"""

import os
import statistics
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert

from bench.common import print_table, throwaway_database
from opendialer.accounts.service import create_tenant
from opendialer.campaigns.schemas import CampaignCreate
from opendialer.campaigns.service import add_member, create_campaign
from opendialer.console.wallboard_push import TICK_SECONDS
from opendialer.console.wallboard_service import SLOW_SECONDS, SlowParts, build
from opendialer.db import create_db_engine, create_sessionmaker, unit_of_work
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

CAMPAIGNS, AGENTS, ATTEMPTS, CHANGES, CONTACTS = 20, 200, 20_000, 40_000, 100_000
BUILDS = 40
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


def _measure(backend: str) -> tuple[object, ...]:
    now = datetime.now(UTC)
    with throwaway_database(backend) as url:
        scope = _fill(url, now)
        sessions = create_sessionmaker(create_db_engine(url))
        slow: SlowParts | None = None
        first = size = 0.0
        ticks = []
        for n in range(BUILDS + 1):
            began = time.perf_counter()
            with unit_of_work(sessions) as session:
                board, slow = build(session, scope, now, None, slow if n else None)
            seconds = time.perf_counter() - began
            if n == 0:
                first, size = seconds, len(board.model_dump_json())
            else:
                ticks.append(seconds)
    p50 = statistics.median(ticks)
    p99 = sorted(ticks)[int(len(ticks) * 0.99) - 1]
    share = p50 / TICK_SECONDS
    return (
        backend,
        f"{first * 1000:.0f}",
        f"{p50 * 1000:.0f}",
        f"{p99 * 1000:.0f}",
        f"{share:.0%}",
        f"{size / 1024:.0f}",
    )


def main() -> None:
    rows = [_measure(backend) for backend in ("sqlite", "postgresql")]
    print_table(
        f"Wallboard document for {CAMPAIGNS} campaigns and {AGENTS} agents, {ATTEMPTS:,} attempts "
        f"today (one build per tenant every {TICK_SECONDS} s, slow part every {SLOW_SECONDS:g} s; "
        f"load average {os.getloadavg()[0]:.1f} on 2 cores)",
        [
            "database",
            "first build ms",
            "tick p50 ms",
            "tick p99 ms",
            "p50 share of a core",
            "document KiB",
        ],
        rows,
    )


if __name__ == "__main__":
    main()
