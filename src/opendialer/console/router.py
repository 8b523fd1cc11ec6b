"""The agent console's JSON calls and its event stream (session cookie + CSRF header, or a
login token). Every call acts on the signed-in agent's own session and call."""

import asyncio
from collections.abc import AsyncIterator
from functools import partial
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import StreamingResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.orm import Session

from opendialer.accounts.dependencies import CurrentScope, ReadScope
from opendialer.accounts.session_auth import login_of
from opendialer.console import service
from opendialer.console.admin_pages import admin_pages
from opendialer.console.pages import pages
from opendialer.console.phone import check_registered
from opendialer.console.push import AgentPush
from opendialer.console.reports import report_pages
from opendialer.console.schemas import (
    AgentAction,
    CallAction,
    CallbackRequest,
    ConsoleState,
    FormRequest,
    PauseRequest,
    ResultRequest,
)
from opendialer.console.wallboard import wallboard_api, wallboard_pages
from opendialer.db import after_commit, run_unit_of_work
from opendialer.engine.agent_state import AgentEvent
from opendialer.errors import Conflict, Unauthorized
from opendialer.models import User
from opendialer.models.base import utcnow
from opendialer.scoping import Scope, get_owned
from opendialer.web.db import DbSession
from opendialer.web.routes import IndexedRouter, OneTripRoute
from opendialer.web.state import agent_push, app_state

KEEPALIVE_SECONDS = 15.0
STATIC = Path(__file__).parent / "static"
_EVENTS = {"login": AgentEvent.LOGIN, "ready": AgentEvent.READY, "logout": AgentEvent.LOGOUT}

api = IndexedRouter(route_class=OneTripRoute, prefix="/console/api", include_in_schema=False)


def _push(request: Request) -> AgentPush:
    return agent_push(request)


def _state(session: Session, request: Request, who: Scope) -> ConsoleState:
    bridged = _push(request).bridged(service.agent_id(who))
    return service.console_state(session, who, utcnow(), bridged)


def _changed(session: Session, request: Request, who: Scope) -> ConsoleState:
    """After a change of the call's result or contact: the new state, and the agent's other
    open consoles told (a change of the agent's own row is published by itself)."""
    after_commit(session, partial(_push(request).notify_from_thread, service.agent_id(who)))
    return _state(session, request, who)


@api.get("/state", response_model=ConsoleState)
def state(request: Request, session: DbSession, who: CurrentScope) -> ConsoleState:
    return _state(session, request, who)


@api.post("/agent/pause", response_model=ConsoleState)
def pause(
    body: PauseRequest, request: Request, session: DbSession, who: CurrentScope
) -> ConsoleState:
    service.pause(session, who, body.reason, utcnow())
    return _state(session, request, who)


@api.post("/agent/{action}", response_model=ConsoleState)
def agent_action(
    action: AgentAction, request: Request, session: DbSession, who: CurrentScope
) -> ConsoleState:
    """Log in (paused until ready), ready (also: wrap-up done), log out. Ready with a browser
    phone needs it registered (the registrar says so, not the browser)."""
    if action == "ready":
        user = get_owned(session, User, who, service.agent_id(who), "user")
        check_registered(app_state(request).settings, user.sip_uri)
    service.change_state(session, who, _EVENTS[action], utcnow())
    return _state(session, request, who)


@api.post("/result", response_model=ConsoleState)
def result(
    body: ResultRequest, request: Request, session: DbSession, who: CurrentScope
) -> ConsoleState:
    machine_in = service.set_result(session, who, body.result_code_id, utcnow())
    engine = app_state(request).engine
    if machine_in is not None and engine is not None:
        after_commit(session, partial(engine.answering_machine_found, machine_in))
    return _changed(session, request, who)


@api.post("/form", response_model=ConsoleState)
def save_form(
    body: FormRequest, request: Request, session: DbSession, who: CurrentScope
) -> ConsoleState:
    service.save_form(session, who, body)
    return _changed(session, request, who)


@api.post("/callback", response_model=ConsoleState)
def callback(
    body: CallbackRequest, request: Request, session: DbSession, who: CurrentScope
) -> ConsoleState:
    service.schedule_callback(session, who, body, utcnow())
    return _changed(session, request, who)


async def _read_state(request: Request, who: Scope) -> ConsoleState:
    return await run_unit_of_work(
        app_state(request).sessions, lambda s: _state(s, request, who), writes=False
    )


@api.post("/call/{action}", response_model=ConsoleState)
async def call_action(action: CallAction, request: Request, who: ReadScope) -> ConsoleState:
    """Hang up the current call, or dial / skip the previewed contact, in the engine."""
    user_id = service.agent_id(who)
    engine = app_state(request).engine
    if engine is None:
        raise Conflict("The dialing engine does not run in this process", code="engine_not_here")
    act = {
        "hangup": engine.hang_up_agent_call,
        "dial": engine.dial_preview,
        "skip": engine.skip_preview,
    }[action]
    if not await act(who, user_id=user_id):
        what = "call" if action == "hangup" else "preview"
        raise Conflict(f"You have no {what} right now", code=f"no_{what}")
    return await _read_state(request, who)


def _bearer(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


@api.get("/events", response_class=StreamingResponse)
async def events(request: Request) -> StreamingResponse:
    """Server-sent events: a ``state`` event at once and whenever the agent's state changes
    (a call bridged to them: the screen pop), a comment every 15 s without one (the login is
    checked then, the state not read again); ``signed_out`` ends it.

    Every read, the login's check included, is one short unit of work: a stream holds no
    database connection while it waits, so hundreds of consoles opening at once (a shift
    starting, a server restarting) do not starve the pool.
    """
    sessions = app_state(request).sessions
    bearer = _bearer(request)

    def signed_in(session: Session) -> Scope:
        return login_of(request, session, bearer, touch=False).scope

    who = await run_unit_of_work(sessions, signed_in, writes=False)
    user_id = service.agent_id(who)

    def read(session: Session) -> ConsoleState:
        signed_in(session)
        return _state(session, request, who)

    async def stream() -> AsyncIterator[str]:
        with _push(request).subscribe(user_id) as changed:
            moved = True  # the state is sent at once, then only when told it may have moved
            while True:
                changed.clear()
                try:
                    if moved:
                        current = await run_unit_of_work(sessions, read, writes=False)
                        yield f"event: state\ndata: {current.model_dump_json()}\n\n"
                    else:  # a quiet while: only the login is checked
                        await run_unit_of_work(sessions, signed_in, writes=False)
                except Unauthorized:
                    yield "event: signed_out\ndata: {}\n\n"
                    return
                moved = await _wait(changed, KEEPALIVE_SECONDS)
                if not moved:
                    yield ": keep-alive\n\n"

    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)


async def _wait(changed: asyncio.Event, seconds: float) -> bool:
    try:
        await asyncio.wait_for(changed.wait(), seconds)
    except TimeoutError:
        return False
    return True


def mount_console(app: FastAPI) -> None:
    """The console's pages, its JSON calls and its static files."""
    app.include_router(pages)
    app.include_router(admin_pages)
    app.include_router(api)
    app.include_router(wallboard_pages)
    app.include_router(wallboard_api)
    app.include_router(report_pages)
    app.mount("/console/static", StaticFiles(directory=STATIC), name="console-static")
