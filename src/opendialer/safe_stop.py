"""A uvicorn server that stops safely: on SIGTERM the engine drains before the HTTP side goes.

uvicorn's own handling closes the listening socket first and runs the application's shutdown
last, so agents could not finish their calls through the console while the engine drains, and
it re-raises the signal at the end, so the process never exits with 0. Here the first SIGTERM
(or Ctrl+C) asks the engine to stop (``Engine.stop``: no new claims, calls in progress get up to
``OPENDIALER_ENGINE_DRAIN_SECONDS``), the API keeps answering meanwhile, and once the engine has
stopped the server shuts down as usual and exits with 0. A second signal stops at once.
"""

import asyncio
import logging
import socket
from types import FrameType

import uvicorn

from opendialer.engine.runner import Engine
from opendialer.observability.server import BindFirstServer
from opendialer.web.state import AppState

log = logging.getLogger(__name__)


class SafeStopServer(BindFirstServer):
    """Also tells the engine when the port is bound (BindFirstServer)."""

    def __init__(self, config: uvicorn.Config, state: AppState, drain_seconds: float) -> None:
        if state.port_bound is None:
            raise ValueError("the app's state needs a port_bound event (cli.server_config)")
        super().__init__(config, state.port_bound)
        self.state = state
        self.drain_seconds = drain_seconds
        self._signalled = False
        self._draining: asyncio.Task[None] | None = None  # kept: the loop holds tasks weakly
        self._loop: asyncio.AbstractEventLoop | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        await super().startup(sockets)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        """In the signal handler: start the drain on the loop; a second signal ends at once."""
        engine = self.state.engine
        if self._signalled:
            self._captured_signals.append(sig)  # uvicorn re-raises it: no exit code 0
            self.should_exit = self.force_exit = True
        elif engine is None or self._loop is None:
            self.should_exit = True  # nothing to drain: the usual shutdown, exit code 0
        else:
            self._loop.call_soon_threadsafe(self._start_drain, engine)
        self._signalled = True

    def _start_drain(self, engine: Engine) -> None:
        log.info("stopping: the engine drains for up to %s s", self.drain_seconds)
        self._draining = asyncio.ensure_future(self._drain(engine))

    async def _drain(self, engine: Engine) -> None:
        try:
            await engine.stop(self.drain_seconds)
        except Exception:
            log.exception("the engine's safe stop failed")
        finally:
            self.should_exit = True
