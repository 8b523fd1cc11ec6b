"""``opendialer demo`` prints the console's address and an agent login; that person signs in
and takes a simulated customer's call beside the simulated agents."""

import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

STARTUP_SECONDS = 60.0
CALL_SECONDS = 120.0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[str]:
    """The demo server's output up to the agent login; stopped at the end."""
    command = [str(Path(sys.executable).parent / "opendialer"), "demo", "--port", str(_free_port())]
    env = {
        **os.environ,
        "OPENDIALER_DATABASE_URL": f"sqlite:///{tmp_path / 'demo.db'}",
        "COLUMNS": "250",
    }
    process = subprocess.Popen(
        command, cwd=tmp_path, env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True
    )
    lines: queue.Queue[str] = queue.Queue()
    assert process.stderr is not None
    stderr = process.stderr

    def read() -> None:
        for line in stderr:
            lines.put(line)

    threading.Thread(target=read, daemon=True).start()
    try:
        seen = ""
        deadline = time.monotonic() + STARTUP_SECONDS
        while "Agent console:" not in seen:
            seen += lines.get(timeout=max(0.1, deadline - time.monotonic()))
        yield seen
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(30)


def _events(client: httpx.Client, headers: dict[str, str]) -> Iterator[dict[str, Any]]:
    with client.stream("GET", "/console/api/events", headers=headers) as stream:
        event = ""
        for line in stream.iter_lines():
            if line.startswith("event: "):
                event = line.removeprefix("event: ")
            elif line.startswith("data: ") and event == "state":
                yield json.loads(line.removeprefix("data: "))


def test_demo_agent_signs_in_and_takes_a_call(demo: str) -> None:
    found = re.search(
        r"Agent console: (http://\S+)/console/login\s+user (\S+)\s+password (\S+)", demo
    )
    assert found is not None, demo
    base_url, user, password = found.groups()
    with httpx.Client(base_url=base_url, timeout=CALL_SECONDS) as client:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:  # the server starts listening after printing
            try:
                client.get("/healthz")
                break
            except httpx.ConnectError:
                assert time.monotonic() < deadline
        login = client.post("/api/v1/auth/token", json={"username": user, "password": password})
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        assert client.post("/console/api/agent/login", headers=headers).status_code == 200
        ready = client.post("/console/api/agent/ready", headers=headers)
        assert ready.json()["agent"]["state"] == "ready"
        states = _events(client, headers)
        call = next(s for s in states if s["agent"]["state"] == "on_call")
        assert call["call"]["contact"]["name"].startswith("Contact ")
        assert call["call"]["script"].startswith("Good day Contact ")
        assert {r["text"] for r in call["call"]["result_codes"]} >= {"Sale", "No interest"}
        assert client.post("/console/api/call/hangup", headers=headers).status_code == 200
        after = next(s for s in states if s["agent"]["state"] != "on_call")
        assert after["agent"]["state"] == "wrap_up"
        assert after["call"]["contact"]["id"] == call["call"]["contact"]["id"]


def test_demo_supervisor_watches_the_campaign_on_the_wallboard(demo: str) -> None:
    found = re.search(
        r"Wallboard: (http://\S+)/console/wallboard\s+user (\S+)\s+password (\S+)", demo
    )
    assert found is not None, demo
    base_url, user, password = found.groups()
    with httpx.Client(base_url=base_url, timeout=CALL_SECONDS) as client:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:  # the server starts listening after printing
            try:
                client.get("/healthz")
                break
            except httpx.ConnectError:
                assert time.monotonic() < deadline
        login = client.post("/api/v1/auth/token", json={"username": user, "password": password})
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        while True:  # the simulated agents start dialling within seconds
            board = client.get("/console/api/wallboard", headers=headers).json()
            (campaign,) = board["campaigns"]
            if campaign["attempts_today"] > 0:
                break
            assert time.monotonic() < deadline
        assert campaign["name"] == "Demo campaign" and campaign["status"] == "enabled"
        assert len([a for a in board["agents"] if a["state"] != "logged_out"]) == 5
