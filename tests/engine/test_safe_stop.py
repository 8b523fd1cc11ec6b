"""Real ``opendialer serve`` processes on one PostgreSQL: a safe stop and a take-over.

SIGTERM: the server dials no more, lets its calls end (up to its drain time), closes the rest,
gives its campaigns away and exits with 0; nothing it started is left open, and the second
server, running meanwhile, takes its campaigns over at once. SIGKILL: nothing runs on the way
out; the other server dials the dead one's campaigns once their lease (3 s) has run out.
SQLite is one server's database (docs/operations.md), so these run on PostgreSQL only.
"""

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from bench.crash_harness import wait_for
from bench.engine_fleet import (
    ServeProcess,
    attempts_since,
    double_calls,
    fleet,
    holders,
    open_attempts,
    prepare_campaigns,
)
from sqlalchemy import Engine, create_engine

from opendialer.db import SessionMaker

LEASE_SECONDS = 3.0
DRAIN_SECONDS = 8.0
MARGIN_SECONDS = 15.0  # Python's start-up and shutdown on a loaded machine
STARTUP_SECONDS = 60.0
REDIAL_SECONDS = 60.0  # after a drain: the adopted agents' wrap-up first (measured 24 s)


def _pg_only(database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("several servers share PostgreSQL; SQLite serves one")


def _dialling(db: Engine, server: ServeProcess, campaign_ids: list[int], since: datetime) -> bool:
    return all(
        attempts_since(db, since, campaign_id=c, engine_id=server.engine_id) > 0
        for c in campaign_ids
    )


def _shared(db: Engine) -> bool:
    """Both campaigns held, one by each server."""
    held = holders(db)
    return len(held) == 2 and len(set(held.values())) == 2


def test_sigterm_drains_and_the_other_server_takes_over(
    database_url: str, sessions: SessionMaker, tmp_path: Path
) -> None:
    _pg_only(database_url)
    db = create_engine(database_url)
    prepare_campaigns(db, campaigns=2, agents=4, contacts=400, name="Stop")
    with fleet(database_url, tmp_path, ["stop-a", "stop-b"]) as (a, b):
        started = datetime.now(UTC)
        assert wait_for(lambda: _shared(db), STARTUP_SECONDS)
        assert wait_for(lambda: open_attempts(db, "stop-a") > 0, STARTUP_SECONDS)
        a_campaigns = [c for c, e in holders(db).items() if e == "stop-a"]
        began = time.monotonic()
        code = a.terminate(timeout=DRAIN_SECONDS + MARGIN_SECONDS)
        took = time.monotonic() - began
        stopped = datetime.now(UTC)
        assert code == 0, a.log_path.read_text()[-2000:]
        assert took < DRAIN_SECONDS + MARGIN_SECONDS
        assert open_attempts(db, "stop-a") == 0  # every call of a has a terminal state
        assert "stop-a" not in holders(db).values()  # gave its campaigns away
        # b holds a's campaigns at once; it dials them once their agents, left in wrap-up by
        # the drain, are ready again through b's wrap-up timers (docs/operations.md, Stopping).
        assert wait_for(lambda: set(holders(db).values()) == {"stop-b"}, LEASE_SECONDS * 3)
        assert wait_for(lambda: _dialling(db, b, a_campaigns, stopped), REDIAL_SECONDS)
        assert double_calls(db) == (0, 0)
        assert started < stopped
    db.dispose()


def test_after_sigkill_another_server_dials_within_the_lease_time(
    database_url: str, sessions: SessionMaker, tmp_path: Path
) -> None:
    _pg_only(database_url)
    db = create_engine(database_url)
    prepare_campaigns(db, campaigns=2, agents=4, contacts=400, name="Kill")
    with fleet(database_url, tmp_path, ["kill-a", "kill-b"]) as (a, b):
        assert wait_for(lambda: _shared(db), STARTUP_SECONDS)
        assert wait_for(lambda: open_attempts(db, "kill-a") > 0, STARTUP_SECONDS)
        a_campaigns = [c for c, e in holders(db).items() if e == "kill-a"]
        a.kill()
        killed = datetime.now(UTC)
        # The lease runs out within LEASE_SECONDS; b looks every third of it.
        assert wait_for(lambda: _dialling(db, b, a_campaigns, killed), LEASE_SECONDS * 2 + 2)
        assert set(holders(db).values()) == {"kill-b"}
        assert wait_for(lambda: open_attempts(db, "kill-a") == 0, LEASE_SECONDS * 3)
        assert double_calls(db) == (0, 0)
    db.dispose()
