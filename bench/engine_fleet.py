"""Several real ``opendialer serve`` processes on one database, and what they did to it.

Shared by ``bench/multi_engine.py`` (1 vs 2 vs 3 engines, a table) and
``tests/engine/test_safe_stop.py`` (SIGTERM drain, take-over after SIGKILL). Each server runs
the sim telephony with simulated agents on 127.0.0.1; the checks read the database directly.
Process helpers (free ports, polling with a deadline) are ``crash_harness``'s.
"""

import json
import os
import secrets
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from datetime import time as clock_time
from pathlib import Path

from sqlalchemy import ColumnElement, Engine, and_, func, or_, select
from sqlalchemy.orm import Session, aliased

from bench.crash_harness import free_port
from opendialer.db import create_sessionmaker
from opendialer.demo import SimulationSetup, prepare_campaign
from opendialer.models import CallAttempt, CallOutcome, CampaignLease

ALL_DAY = (clock_time(0), clock_time(23, 59, 59))
SECRET_KEY = secrets.token_urlsafe(48)


class ServeProcess:
    """One ``opendialer serve`` with the engine on (sim telephony, simulated agents)."""

    def __init__(
        self,
        database_url: str,
        workdir: Path,
        engine_id: str,
        *,
        lease_seconds: float = 3.0,
        drain_seconds: float = 10.0,
        telephony_options: str = "{}",
    ) -> None:
        self.engine_id = engine_id
        env = {
            **os.environ,
            "OPENDIALER_DATABASE_URL": database_url,
            "OPENDIALER_ENGINE_ID": engine_id,
            "OPENDIALER_ENGINE_LEASE_SECONDS": str(lease_seconds),
            "OPENDIALER_ENGINE_DRAIN_SECONDS": str(drain_seconds),
            "OPENDIALER_SIMULATE_AGENTS": "true",
            "OPENDIALER_TELEPHONY_BACKEND": "sim",
            "OPENDIALER_TELEPHONY_OPTIONS": telephony_options,
            "OPENDIALER_SECRET_KEY": SECRET_KEY,
            "OPENDIALER_LOG_LEVEL": "info",
            "OPENDIALER_HOUSEKEEPING_ENABLED": "false",
            "OPENDIALER_OUTBOX_ENABLED": "false",
        }
        command = [str(Path(sys.executable).parent / "opendialer"), "serve"]
        command += ["--host", "127.0.0.1", "--port", str(free_port())]
        self.log_path = workdir / f"{engine_id}.log"
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT
            )

    def terminate(self, timeout: float) -> int:
        """SIGTERM, then wait for the exit (its code); SIGKILL if it outlives ``timeout``."""
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)


@contextmanager
def fleet(
    database_url: str,
    workdir: Path,
    ids: list[str],
    lease_seconds: float = 3.0,
    talk_seconds: float | None = None,
) -> Iterator[list[ServeProcess]]:
    """Servers started together (``talk_seconds``: the simulated customers' mean talk time
    instead of the scenario's 180 s); all killed at the end."""
    servers = [
        ServeProcess(
            database_url,
            workdir,
            engine_id,
            lease_seconds=lease_seconds,
            telephony_options=_sim_options(seed, talk_seconds),
        )
        for seed, engine_id in enumerate(ids, start=1)
    ]
    try:
        yield servers
    finally:
        for server in servers:
            server.kill()


def _sim_options(seed: int, talk_seconds: float | None) -> str:
    options: dict[str, object] = {"seed": seed}
    if talk_seconds is not None:
        talk = {"dist": "lognormal", "mean": talk_seconds, "sd": talk_seconds / 2}
        options["scenario"] = {"customers": {"talk_time": talk}}
    return json.dumps(options)


def prepare_campaigns(
    db: Engine, campaigns: int, agents: int, contacts: int, name: str = "Fleet"
) -> list[int]:
    """``campaigns`` predictive campaigns open all day, each in a tenant of its own (agents'
    extensions are unique per tenant) with its agents logged in and ready."""
    sessions = create_sessionmaker(db)
    setup = SimulationSetup(agents=agents, contacts=contacts, calling_hours=ALL_DAY)
    return [
        prepare_campaign(sessions, setup, datetime.now(UTC), name=f"{name} {i + 1}")
        for i in range(campaigns)
    ]


def holders(db: Engine) -> dict[int, str]:
    with Session(db) as session:
        return {r.campaign_id: r.engine_id for r in session.scalars(select(CampaignLease))}


def open_attempts(db: Engine, engine_id: str | None = None) -> int:
    stmt = select(func.count()).where(CallAttempt.outcome.is_(None))
    if engine_id is not None:
        stmt = stmt.where(CallAttempt.engine_id == engine_id)
    with Session(db) as session:
        return int(session.scalar(stmt) or 0)


def attempts_since(db: Engine, since: datetime, *, campaign_id: int, engine_id: str) -> int:
    with Session(db) as session:
        return int(
            session.scalar(
                select(func.count()).where(
                    CallAttempt.campaign_id == campaign_id,
                    CallAttempt.engine_id == engine_id,
                    CallAttempt.started_at >= since,
                )
            )
            or 0
        )


def first_attempt_by_another(
    db: Engine, since: datetime, campaign_id: int, engine_id: str
) -> datetime | None:
    """When an engine other than ``engine_id`` first dialled the campaign after ``since``."""
    with Session(db) as session:
        return session.scalar(
            select(func.min(CallAttempt.started_at)).where(
                CallAttempt.campaign_id == campaign_id,
                CallAttempt.engine_id != engine_id,
                CallAttempt.started_at >= since,
            )
        )


def _overlapping(other: type[CallAttempt], key: str, start: str) -> ColumnElement[bool]:
    """Pairs of distinct attempts with the same ``key`` whose [start, end) intervals overlap."""
    mine, theirs = getattr(CallAttempt, key), getattr(other, key)
    begins, other_begins = getattr(CallAttempt, start), getattr(other, start)
    return and_(
        mine == theirs,
        mine.is_not(None),
        CallAttempt.id < other.id,
        begins.is_not(None),
        other_begins.is_not(None),
        or_(CallAttempt.ended_at.is_(None), other_begins < CallAttempt.ended_at),
        or_(other.ended_at.is_(None), begins < other.ended_at),
    )


def double_calls(db: Engine) -> tuple[int, int]:
    """(contacts in two calls at once, agents talking in two calls at once): both must be 0."""
    other = aliased(CallAttempt)
    with Session(db) as session:
        contacts = session.scalar(
            select(func.count())
            .select_from(CallAttempt)
            .join(other, _overlapping(other, "contact_id", "started_at"))
        )
        agents = session.scalar(
            select(func.count())
            .select_from(CallAttempt)
            .join(other, _overlapping(other, "user_id", "connected_at"))
        )
    return int(contacts or 0), int(agents or 0)


@dataclass(frozen=True)
class Outcomes:
    attempts: int
    connected: int
    abandoned: int
    talk_seconds: float

    @property
    def abandonment(self) -> float | None:
        live = self.connected + self.abandoned
        return self.abandoned / live if live else None

    def occupancy(self, agents: int, seconds: float) -> float:
        """The share of the agents' time spent talking."""
        return self.talk_seconds / (agents * seconds)


def outcomes(db: Engine, since: datetime, until: datetime) -> Outcomes:
    """Attempts started in [since, until) by outcome; talk time inside the window."""
    with Session(db) as session:
        started = session.execute(
            select(CallAttempt.outcome).where(CallAttempt.started_at.between(since, until))
        ).scalars()
        counted = list(started)
        talks = session.execute(
            select(CallAttempt.connected_at, CallAttempt.ended_at).where(
                CallAttempt.connected_at.is_not(None),
                CallAttempt.connected_at < until,
                or_(CallAttempt.ended_at.is_(None), CallAttempt.ended_at > since),
            )
        ).all()
    talk = sum(
        max((min(end or until, until) - max(begin, since)).total_seconds(), 0.0)
        for begin, end in talks
        if begin is not None
    )
    return Outcomes(
        attempts=len(counted),
        connected=sum(1 for o in counted if o is CallOutcome.CONNECTED),
        abandoned=sum(1 for o in counted if o is CallOutcome.ABANDONED),
        talk_seconds=talk,
    )
