"""The app's parts, typed: built by ``opendialer.app.create_app`` (the composition root) and
read by routes through the dependencies below, never through ``app.state`` by name."""

import asyncio
import threading
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from sqlalchemy import Engine as DatabaseEngine
from starlette.applications import Starlette

from opendialer.accounts.guard import AuthGuard
from opendialer.accounts.verified_keys import VerifiedKeys
from opendialer.config import Settings
from opendialer.console.push import AgentPush
from opendialer.console.wallboard_push import WallboardHub
from opendialer.contacts.imports.progress import ImportProgressBoard
from opendialer.crm.sender import OutboxSender
from opendialer.db import SessionMaker
from opendialer.dialing.recent_counts import RecentCounts
from opendialer.engine.runner import Engine
from opendialer.observability.metrics import Metrics

T = TypeVar("T")


@dataclass
class AppState:
    """What the app is made of. The lifespan fills in the parts that live on the event loop."""

    settings: Settings
    db_engine: DatabaseEngine
    sessions: SessionMaker
    auth_guard: AuthGuard
    verified_keys: VerifiedKeys  # API keys this process verified lately
    import_progress: ImportProgressBoard  # imports started with progress=, this process
    recent_counts: RecentCounts  # the live view's campaign counts of the last moment
    engine: Engine | None = None  # the dialing engine: None when disabled or not started
    engine_running: bool = False  # /readyz: the engine has begun its work and not stopped
    agent_push: AgentPush | None = None
    outbox_sender: OutboxSender | None = None
    metrics: Metrics | None = None  # None when OPENDIALER_METRICS=off
    metrics_port: int | None = None  # where the metrics' own server listens (metrics=port)
    wallboard_hub: WallboardHub | None = None  # made by the first wallboard viewer
    what_if_running: threading.Lock = field(default_factory=threading.Lock)
    """Held while this process runs a what-if simulation: one at a time (each keeps a core busy)."""
    port_bound: asyncio.Event | None = None
    """Set by a server (cli) that must bind its port before the engine may dial."""


class NotStarted(RuntimeError):
    """A part that the lifespan builds was asked for before the app started."""


def attach(app: Starlette, state: AppState) -> None:
    app.state.parts = state


def state_of(app: Starlette) -> AppState:
    state = app.state.parts
    if not isinstance(state, AppState):  # pragma: no cover - only create_app attaches it
        raise TypeError(f"app.state.parts is {type(state).__name__}, not AppState")
    return state


def app_state(request: Request) -> AppState:
    return state_of(request.app)


def settings(request: Request) -> Settings:
    return app_state(request).settings


def sessions(request: Request) -> SessionMaker:
    return app_state(request).sessions


def auth_guard(request: Request) -> AuthGuard:
    return app_state(request).auth_guard


def verified_keys(request: Request) -> VerifiedKeys:
    return app_state(request).verified_keys


def dialing_engine(request: Request) -> Engine | None:
    return app_state(request).engine


def agent_push(request: Request) -> AgentPush:
    push = app_state(request).agent_push
    if push is None:
        raise NotStarted("the agent push is built when the app starts (its lifespan)")
    return push


def on_loop(read: Callable[[Request], T]) -> Callable[[Request], Coroutine[Any, Any, T]]:
    """``read`` as a dependency that FastAPI runs on the event loop: it only reads the app's
    parts, and a plain function would cost a round trip through a worker thread."""

    async def dependency(request: Request) -> T:
        return read(request)

    dependency.__name__ = read.__name__
    return dependency


AppStateDep = Annotated[AppState, Depends(on_loop(app_state))]
SettingsDep = Annotated[Settings, Depends(on_loop(settings))]
SessionsDep = Annotated[SessionMaker, Depends(on_loop(sessions))]
EngineDep = Annotated[Engine | None, Depends(on_loop(dialing_engine))]
