"""A real server for tests of simultaneous requests: the app under uvicorn on 127.0.0.1, and
requests released together from many threads, each with its own HTTP connection."""

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import TypeVar

import httpx
import uvicorn

from opendialer.app import create_app
from opendialer.config import Settings

T = TypeVar("T")
START_DEADLINE = 20.0  # seconds
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
