"""The agent console's stream against real servers: a quiet stream keeps itself open with
comments and does not read or send the state again; a change is still sent, also when it was
made through another server process on the same PostgreSQL database."""

import json
import time
from pathlib import Path

import httpx
import pytest

from opendialer.accounts.service import NewTenant
from opendialer.config import Settings
from opendialer.console import router
from opendialer.db import SessionMaker
from tests.console.browser import PASSWORD, make_agent, make_console_campaign
from tests.console.test_wallboard_push import DEADLINE, bearer_headers
from tests.live import REQUEST_TIMEOUT, serve, serve_process

KEEP_ALIVES = 3


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


def test_a_console_on_one_server_hears_a_change_made_through_another(
    database_url: str, sessions: SessionMaker, tenant: NewTenant, tmp_path: Path
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("one server process serves SQLite")
    ann = make_agent(sessions, tenant.tenant.id, "ann")
    make_console_campaign(sessions, tenant.tenant.id, ann, "predictive")
    with (
        serve_process(database_url, tmp_path) as first,
        serve_process(database_url, tmp_path) as second,
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
