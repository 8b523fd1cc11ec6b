"""Bench only: ``opendialer`` with the garbage collector's pauses and the event loop's lag
recorded.

``python -m bench.server_probe serve ...`` runs the command line as ``opendialer`` does. Every
collection of the process (wall-clock end, generation, pause seconds) and, every
``LAG_EVERY`` seconds, how long a callback handed to the event loop waited before it ran
(wall-clock time, seconds) are written as JSON, once a second, to the file named by
``OPENDIALER_BENCH_PROBE_FILE`` (the server may be killed at the end, so not only at exit).
``bench/load_mixed.py --probe`` uses it.
"""

import asyncio
import gc
import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

PROBE_FILE = "OPENDIALER_BENCH_PROBE_FILE"
LAG_EVERY = 0.02  # seconds between two probes of the event loop
WRITE_EVERY = 1.0


class Probe:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.started = 0.0
        self.pauses: list[tuple[float, int, float]] = []
        self.lags: list[tuple[float, float]] = []
        self.loop: asyncio.AbstractEventLoop | None = None

    def collected(self, phase: str, info: dict[str, Any]) -> None:
        """A ``gc.callbacks`` entry."""
        if phase == "start":
            self.started = time.perf_counter()
        else:
            pause = time.perf_counter() - self.started
            self.pauses.append((time.time(), info["generation"], pause))

    def _ran(self, sent: float) -> None:
        self.lags.append((time.time(), time.perf_counter() - sent))

    def watch(self) -> None:
        """The probing thread: the loop's lag, and the file rewritten now and then."""
        written = time.monotonic()
        while True:
            time.sleep(LAG_EVERY)
            loop = self.loop
            if loop is not None and not loop.is_closed():
                loop.call_soon_threadsafe(self._ran, time.perf_counter())
            if time.monotonic() - written >= WRITE_EVERY:
                written = time.monotonic()
                self.path.write_text(json.dumps({"gc": self.pauses, "lag": self.lags}))


def _recording_loop(probe: Probe) -> type[asyncio.SelectorEventLoop]:
    class RecordedLoop(asyncio.SelectorEventLoop):
        def __init__(self) -> None:
            super().__init__()
            probe.loop = self

    return RecordedLoop


def main() -> None:
    probe = Probe(Path(os.environ[PROBE_FILE]))
    gc.callbacks.append(probe.collected)
    asyncio.SelectorEventLoop = _recording_loop(probe)  # what uvicorn makes
    threading.Thread(target=probe.watch, daemon=True).start()
    from opendialer.cli import app

    sys.argv[0] = "opendialer"
    app()


if __name__ == "__main__":
    main()
