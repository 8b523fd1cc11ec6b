"""Kill a real demo server with SIGKILL, restart it, and check that nothing stays stuck.

Shared by ``bench/crash_recovery.py`` (many kills, a table) and
``tests/engine/test_crash_recovery.py`` (a few kills per database). The server is the real
``opendialer demo`` (sim telephony, simulated agents) in its own process on 127.0.0.1; the checks
read the database directly.
"""

import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, create_engine, exists, func, select
from sqlalchemy.orm import Session

from opendialer.models import AgentSession, AgentState, CallAttempt, Contact, ContactStatus

BUSY = (AgentState.RESERVED, AgentState.PREVIEW, AgentState.ON_CALL)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True)
class Stuck:
    """What is still held from before ``since`` (a restart): all zero once recovery ran."""

    open_attempts: int
    contacts_in_call_without_attempt: int
    busy_agents: int
    new_attempts: int

    @property
    def recovered(self) -> bool:
        held = self.open_attempts + self.contacts_in_call_without_attempt + self.busy_agents
        return held == 0 and self.new_attempts > 0


def stuck_since(db: Engine, since: datetime) -> Stuck:
    """Open attempts and busy agents older than ``since``; contacts in a call that is not up."""
    open_attempt = CallAttempt.outcome.is_(None)
    with Session(db) as session:
        attempts = session.scalar(
            select(func.count()).where(open_attempt, CallAttempt.started_at < since)
        )
        contacts = session.scalar(
            select(func.count())
            .select_from(Contact)
            .where(
                Contact.status == ContactStatus.IN_CALL,
                ~exists().where(CallAttempt.contact_id == Contact.id, open_attempt),
            )
        )
        agents = session.scalar(
            select(func.count())
            .select_from(AgentSession)
            .where(AgentSession.state.in_(BUSY), AgentSession.since < since)
        )
        new = session.scalar(select(func.count()).where(CallAttempt.started_at >= since))
    return Stuck(int(attempts or 0), int(contacts or 0), int(agents or 0), int(new or 0))


def first_attempt_after(db: Engine, since: datetime) -> datetime | None:
    with Session(db) as session:
        return session.scalar(
            select(func.min(CallAttempt.started_at)).where(CallAttempt.started_at >= since)
        )


def open_attempts(db: Engine) -> int:
    with Session(db) as session:
        return int(session.scalar(select(func.count()).where(CallAttempt.outcome.is_(None))) or 0)


def wait_for(check: Callable[[], bool], seconds: float, poll: float = 0.2) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(poll)
    return check()


class DemoServer:
    """``opendialer demo`` in a child process of its own; killed with SIGKILL on purpose."""

    def __init__(
        self, database_url: str, workdir: Path, *, lease_seconds: float = 3.0, contacts: int = 400
    ) -> None:
        self.database_url = database_url
        self.workdir = workdir
        self.lease_seconds = lease_seconds
        self.contacts = contacts
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, engine_id: str) -> None:
        env = {
            **os.environ,
            "OPENDIALER_DATABASE_URL": self.database_url,
            "OPENDIALER_ENGINE_ID": engine_id,
            "OPENDIALER_ENGINE_LEASE_SECONDS": str(self.lease_seconds),
            "OPENDIALER_LOG_LEVEL": "warning",
            "OPENDIALER_HOUSEKEEPING_ENABLED": "false",
        }
        command = [str(Path(sys.executable).parent / "opendialer"), "demo", "--host", "127.0.0.1"]
        command += ["--port", str(free_port()), "--agents", "5", "--contacts", str(self.contacts)]
        log = (self.workdir / "server.log").open("ab")
        self.process = subprocess.Popen(
            command, cwd=self.workdir, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        log.close()

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as in a power cut or the OOM killer."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        if self.process is not None:
            self.process.wait(timeout=30)
        self.process = None


@dataclass(frozen=True)
class KillResult:
    left_open: int  # attempts open at the moment of the kill
    stuck: Stuck  # after recovery (or at its deadline)
    seconds_to_dial: float | None  # from the restart's spawn to its first new attempt
    seconds_to_recover: float  # from the restart's spawn until nothing is stuck (or the deadline)


def kill_and_restart(
    server: DemoServer,
    db: Engine,
    rng: random.Random,
    *,
    engine_id: str,
    next_engine_id: str,
    max_run_seconds: float = 4.0,
    deadline_seconds: float = 60.0,
) -> KillResult:
    """Let the running server dial, kill it at a random moment, restart it, check recovery."""
    start = datetime.now(UTC)
    wait_for(lambda: stuck_since(db, start).new_attempts > 0, deadline_seconds)
    time.sleep(rng.uniform(0.0, max_run_seconds))  # a random point in its work
    server.kill()
    left_open = open_attempts(db)
    restart = datetime.now(UTC)
    server.start(next_engine_id)
    began = time.monotonic()
    wait_for(lambda: stuck_since(db, restart).recovered, deadline_seconds)
    recovered_after = time.monotonic() - began
    first = first_attempt_after(db, restart)
    seconds = (first - restart).total_seconds() if first is not None else None
    return KillResult(left_open, stuck_since(db, restart), seconds, recovered_after)


def database_engine(url: str) -> Engine:
    return create_engine(url)
