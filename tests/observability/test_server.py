"""The real `opendialer serve` process: the engine dials only once the port is bound."""

import json
import os
import socket
import subprocess
import sys
from datetime import UTC, datetime
from datetime import time as clock_time
from pathlib import Path

import httpx
from sqlalchemy import func, select

from opendialer import migrate
from opendialer.db import create_db_engine, create_sessionmaker, unit_of_work
from opendialer.demo import SimulationSetup, prepare_campaign
from opendialer.models import CallAttempt, EngineLease
from tests.conftest import make_tenant
from tests.observability.conftest import DEADLINE, wait_for

SECRET = "k" * 40


def _serve(url: str, port: int, tmp_path: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "OPENDIALER_DATABASE_URL": url,
        "OPENDIALER_SECRET_KEY": SECRET,
        "OPENDIALER_ENGINE_ENABLED": "true",
        "OPENDIALER_SIMULATE_AGENTS": "true",
        "OPENDIALER_TELEPHONY_BACKEND": "sim",
        "OPENDIALER_HOUSEKEEPING_ENABLED": "false",
        "OPENDIALER_LOG_FORMAT": "json",
    }
    command = [str(Path(sys.executable).parent / "opendialer"), "serve", "--port", str(port)]
    return subprocess.Popen(command, env=env, cwd=tmp_path, stderr=subprocess.PIPE)


def _counts(url: str) -> tuple[int, int]:
    engine = create_db_engine(url)
    try:
        with unit_of_work(create_sessionmaker(engine), writes=False) as session:
            leases = session.scalar(select(func.count()).select_from(EngineLease)) or 0
            attempts = session.scalar(select(func.count()).select_from(CallAttempt)) or 0
            return leases, attempts
    finally:
        engine.dispose()


def _dialling_campaign(url: str) -> None:
    migrate.upgrade(url)
    engine = create_db_engine(url)
    sessions = create_sessionmaker(engine)
    tenant = make_tenant(sessions, "Bound")
    all_day = (clock_time(0), clock_time(23, 59, 59))
    setup = SimulationSetup(agents=3, contacts=200, calling_hours=all_day)
    prepare_campaign(sessions, setup, datetime.now(UTC), tenant_id=tenant.tenant.id)
    engine.dispose()


def test_a_server_that_cannot_bind_its_port_never_dials(
    tmp_path: Path, unused_tcp_port: int
) -> None:
    url = f"sqlite:///{tmp_path / 'bound.db'}"
    _dialling_campaign(url)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", unused_tcp_port))
        taken.listen()
        process = _serve(url, unused_tcp_port, tmp_path)
        _, errors = process.communicate(timeout=DEADLINE)
    assert process.returncode != 0
    assert b"address already in use" in errors.lower()
    assert _counts(url) == (0, 0)  # no lease taken, no call started


def test_a_bound_server_dials_and_is_ready(tmp_path: Path, unused_tcp_port: int) -> None:
    url = f"sqlite:///{tmp_path / 'bound.db'}"
    _dialling_campaign(url)
    process = _serve(url, unused_tcp_port, tmp_path)
    base = f"http://127.0.0.1:{unused_tcp_port}"
    try:

        def ready() -> bool:
            try:
                return httpx.get(f"{base}/readyz", timeout=2).status_code == 200
            except httpx.TransportError:
                return False

        wait_for(ready, "the server to be ready")
        wait_for(lambda: _counts(url)[1] > 0, "the engine to dial")
        answer = httpx.get(f"{base}/healthz", headers={"X-Request-ID": "probe-1"})
        assert answer.headers["x-request-id"] == "probe-1"
    finally:
        process.terminate()
        _, errors = process.communicate(timeout=DEADLINE)
    events = [json.loads(line) for line in errors.decode().splitlines() if line.startswith("{")]
    assert any(e.get("request_id") == "probe-1" for e in events), errors.decode()[-2000:]
    said = [e["event"] for e in events]
    bound = next(i for i, text in enumerate(said) if text.startswith("Uvicorn running on"))
    dialling = next(i for i, text in enumerate(said) if "starts dialling" in text)
    assert bound < dialling  # uvicorn binds after the app's start-up: the engine waited
