import socket
import time
from collections.abc import Callable

import pytest

DEADLINE = 60.0  # seconds: generous, the machine is shared; what is asserted is the outcome


@pytest.fixture
def unused_tcp_port() -> int:
    """A port nothing listens on (the OS's choice, released again)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for(check: Callable[[], bool], what: str, deadline: float = DEADLINE) -> None:
    end = time.monotonic() + deadline
    while not check():
        assert time.monotonic() < end, f"timed out waiting for {what}"
        time.sleep(0.05)
