"""A real server for tests of simultaneous requests: the app under uvicorn on 127.0.0.1, and
requests released together from many threads, each with its own HTTP connection."""

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import httpx
import uvicorn

from opendialer.app import create_app
from opendialer.config import Settings

T = TypeVar("T")
START_DEADLINE = 20.0  # seconds
PROCESS_START_DEADLINE = 240.0  # seconds: a server process of its own on a loaded machine
REQUEST_TIMEOUT = 60.0  # seconds; a request that hangs fails the test instead of blocking it


@contextmanager
def serve(settings: Settings) -> Iterator[str]:
    """A fresh app on the test's database, served on a free loopback port; its base URL."""
    config = uvicorn.Config(
        create_app(settings), host="127.0.0.1", port=0, log_level="warning", lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + START_DEADLINE
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.01)  # polling for start-up, with a deadline
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(START_DEADLINE)


@contextmanager
def serve_process(database_url: str, folder: Path, **environment: str) -> Iterator[str]:
    """``opendialer serve`` in a process of its own on ``database_url``, engine and
    housekeeping off (``environment`` adds or overrides ``OPENDIALER_*`` variables), on a free
    loopback port; its base URL once it answers."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        **os.environ,
        "OPENDIALER_DATABASE_URL": database_url,
        "OPENDIALER_SECRET_KEY": "k" * 40,
        "OPENDIALER_ENGINE_ENABLED": "false",
        "OPENDIALER_HOUSEKEEPING_ENABLED": "false",
        **environment,
    }
    command = [str(Path(sys.executable).parent / "opendialer"), "serve", "--port", str(port)]
    process = subprocess.Popen(command, env=env, cwd=folder, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_it_answers(base, process)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


def _wait_until_it_answers(base: str, process: "subprocess.Popen[bytes]") -> None:
    deadline = time.monotonic() + PROCESS_START_DEADLINE
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the server exited with {process.returncode} before answering")
        try:
            if httpx.get(base + "/healthz", timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"the server did not answer within {PROCESS_START_DEADLINE} s")


def together(count: int, request: Callable[[httpx.Client], T], base_url: str) -> list[T]:
    """``request`` from ``count`` threads at once: each opens its connection first, then all
    wait at a barrier and send together. The results in thread order."""
    barrier = threading.Barrier(count)

    def one(_index: int) -> T:
        with httpx.Client(base_url=base_url, timeout=REQUEST_TIMEOUT) as client:
            client.get("/healthz")  # connect before the barrier, so the requests overlap
            barrier.wait(REQUEST_TIMEOUT)
            return request(client)

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(one, range(count)))
