"""Start, wait for and stop the real daemons the SIP tests run (rtpengine, Kamailio): one shape
for all of them, so a launcher only says what to run and how to tell that it is up."""

import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

START_SECONDS = 10.0
STOP_SECONDS = 5.0


def start_daemon(
    program: str, command: list[str], log: Path, ready: Callable[[], bool], *, package: str
) -> subprocess.Popen[bytes]:
    """Run ``command`` (``program`` with its arguments, perhaps inside a network namespace;
    output into ``log``) and wait until ``ready()``. A daemon that exits or is not ready within
    ``START_SECONDS`` is stopped and named in a ``RuntimeError``."""
    if shutil.which(program) is None:
        raise RuntimeError(f"{program} is not installed (make test installs {package})")
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out, stderr=out)
    deadline = time.monotonic() + START_SECONDS
    while not ready():
        if time.monotonic() > deadline or process.poll() is not None:
            stop_daemon(process)
            raise RuntimeError(f"{program} did not start: {log}")
        time.sleep(0.05)  # polling a port with a deadline
    return process


def stop_daemon(process: subprocess.Popen[bytes] | None) -> None:
    """SIGTERM, then SIGKILL if it has not exited within ``STOP_SECONDS``."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(STOP_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
