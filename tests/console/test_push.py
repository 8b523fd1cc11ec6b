"""The agent console's stream against real servers: a quiet stream keeps itself open with
comments and does not read or send the state again; a change is still sent, also when it was
made through another server process on the same PostgreSQL database."""

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from opendialer.accounts.service import NewTenant
from opendialer.config import Settings
from opendialer.console import router
from opendialer.db import SessionMaker
from tests.console.browser import PASSWORD, make_agent, make_console_campaign
from tests.console.test_wallboard_push import DEADLINE, bearer_headers
from tests.live import REQUEST_TIMEOUT, serve
from tests.observability.conftest import wait_for

KEEP_ALIVES = 3
SERVER_START_DEADLINE = 120.0  # seconds: a process of its own starts slowly on a busy machine


def _kind(line: str) -> str | None:
    if line.startswith("event: "):
        return line.removeprefix("event: ")
    return "keep-alive" if line.startswith(": keep-alive") else None


def test_a_quiet_console_stream_sends_comments_not_its_state_again(
    settings: Settings, sessions: SessionMaker, tenant: NewTenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(router, "KEEPALIVE_SECONDS", 0.2)  # quiet spells come quickly
    ann = make_agent(sessions, tenant.tenant.id, "ann")
    make_console_campaign(sessions, tenant.tenant.id, ann, "predictive")
    with (
        serve(settings) as base_url,
        httpx.Client(base_url=base_url, timeout=REQUEST_TIMEOUT) as client,
    ):
        login = bearer_headers(client, "ann")
        client.post("/console/api/agent/login", headers=login).raise_for_status()
        with client.stream("GET", "/console/api/events", headers=login) as stream:
            lines = stream.iter_lines()
            kinds: list[str] = []
            for line in lines:
                kind = _kind(line)
                kinds += [kind] if kind else []
                if kinds.count("keep-alive") == KEEP_ALIVES:
                    break
            quiet = kinds[kinds.index("keep-alive") :]
            assert kinds[0] == "state"
            assert quiet == ["keep-alive"] * KEEP_ALIVES  # no state read and sent again

            client.post("/console/api/agent/ready", headers=login).raise_for_status()
            deadline = time.monotonic() + DEADLINE
            for line in lines:
                if line.startswith("data: ") and json.loads(line[6:])["agent"]["state"] == "ready":
                    break
                assert time.monotonic() < deadline, "the change was not sent"


@contextmanager
def _server(database_url: str, folder: Path) -> Iterator[str]:
    """``opendialer serve`` in a process of its own on the test's database."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        **os.environ,
        "OPENDIALER_DATABASE_URL": database_url,
        "OPENDIALER_SECRET_KEY": "k" * 40,
        "OPENDIALER_ENGINE_ENABLED": "false",
        "OPENDIALER_HOUSEKEEPING_ENABLED": "false",
    }
    command = [str(Path(sys.executable).parent / "opendialer"), "serve", "--port", str(port)]
    process = subprocess.Popen(command, env=env, cwd=folder, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _answers(base), "the server to start", SERVER_START_DEADLINE)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


def _answers(base: str) -> bool:
    try:
        return httpx.get(base + "/healthz", timeout=5).status_code == 200
    except httpx.TransportError:
        return False


def test_a_console_on_one_server_hears_a_change_made_through_another(
    database_url: str, sessions: SessionMaker, tenant: NewTenant, tmp_path: Path
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("one server process serves SQLite")
    ann = make_agent(sessions, tenant.tenant.id, "ann")
    make_console_campaign(sessions, tenant.tenant.id, ann, "predictive")
    with (
        _server(database_url, tmp_path) as first,
        _server(database_url, tmp_path) as second,
        httpx.Client(timeout=REQUEST_TIMEOUT) as client,
    ):
        answer = client.post(
            first + "/api/v1/auth/token", json={"username": "ann", "password": PASSWORD}
        )
        login = {"Authorization": f"Bearer {answer.json()['access_token']}"}
        client.post(first + "/console/api/agent/login", headers=login).raise_for_status()
        with client.stream("GET", first + "/console/api/events", headers=login) as stream:
            states = (
                json.loads(line[6:])["agent"]["state"]
                for line in stream.iter_lines()
                if line.startswith("data: ")
            )
            assert next(states) == "paused"
            client.post(second + "/console/api/agent/ready", headers=login).raise_for_status()
            deadline = time.monotonic() + DEADLINE
            for state in states:  # keep-alives end each wait (every 15 s)
                if state == "ready":
                    break
                assert time.monotonic() < deadline, "the first server did not hear it"
