"""The wallboard (supervisors and admins): the page, its document once, and its event stream
fed by the tenant's one producer (``wallboard_push``)."""

import time
from collections.abc import AsyncIterator

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from fastapi.security.utils import get_authorization_scheme_param
from sqlalchemy.orm import Session

from opendialer.accounts.roles import SupervisorReadScope
from opendialer.accounts.session_auth import login_of
from opendialer.console.pages import _page, _page_login
from opendialer.console.wallboard_push import WallboardHub, next_pushes
from opendialer.console.wallboard_schemas import Wallboard
from opendialer.console.wallboard_service import build
from opendialer.db import run_unit_of_work
from opendialer.engine.runner import Engine
from opendialer.errors import Unauthorized
from opendialer.models import User, UserRole
from opendialer.models.base import utcnow
from opendialer.scoping import Scope, require_role
from opendialer.web.db import DbSession, ReadSession
from opendialer.web.routes import IndexedRouter, OneTripRoute
from opendialer.web.state import app_state

KEEPALIVE_SECONDS = 15.0

wallboard_pages = IndexedRouter(
    route_class=OneTripRoute, prefix="/console", include_in_schema=False
)
wallboard_api = IndexedRouter(
    route_class=OneTripRoute, prefix="/console/api/wallboard", include_in_schema=False
)


def _engine(request: Request) -> Engine | None:
    return app_state(request).engine


def hub(request: Request) -> WallboardHub:
    """The app's one hub, made on first use (on the server's loop)."""
    state = app_state(request)
    if state.wallboard_hub is None:
        state.wallboard_hub = WallboardHub(state.sessions, lambda: state.engine, utcnow)
        if state.agent_push is not None:  # agents' published changes wake the producers
            state.agent_push.observe(state.wallboard_hub.agent_changed)
    return state.wallboard_hub


@wallboard_pages.get("/wallboard", response_class=HTMLResponse)
def wallboard_page(request: Request, session: DbSession) -> Response:
    login = _page_login(request, session)
    if isinstance(login, RedirectResponse):
        return login
    require_role(login.scope, UserRole.SUPERVISOR)
    user = session.get_one(User, login.scope.user_id)
    return _page(request, "wallboard.html", csrf_token=login.record.csrf_token, user=user)


@wallboard_api.get("", response_model=Wallboard)
def wallboard(request: Request, session: ReadSession, who: SupervisorReadScope) -> Wallboard:
    """The wallboard document now (what the stream pushes)."""
    return build(session, who, utcnow(), _engine(request), None)[0]


@wallboard_api.get("/events", response_class=StreamingResponse)
async def wallboard_events(request: Request) -> StreamingResponse:
    """Server-sent events (the session cookie or a bearer login token): ``wallboard`` with
    the whole document first (and again after falling far behind), then ``wallboard_delta``
    with what changed whenever something did (the tenant's producer reads every half second,
    and at once on an agent's change), a comment every 15 s without one; ``signed_out`` ends
    it once the login has ended."""
    sessions = app_state(request).sessions
    scheme, token = get_authorization_scheme_param(request.headers.get("Authorization"))
    bearer = token if scheme.lower() == "bearer" and token else None

    def signed_in(session: Session) -> Scope:
        scope = login_of(request, session, bearer, touch=False).scope
        require_role(scope, UserRole.SUPERVISOR)
        return scope

    who = await run_unit_of_work(sessions, signed_in, writes=False)
    feeds = hub(request)

    async def stream() -> AsyncIterator[str]:
        async with feeds.watch(who) as feed:
            seen, checked = 0, time.monotonic()
            while True:
                got = await next_pushes(feed, seen, KEEPALIVE_SECONDS)
                if got is None:
                    yield ": keep-alive\n\n"
                else:
                    seen, pushes = got
                    yield "".join(f"event: {name}\ndata: {data}\n\n" for name, data in pushes)
                if time.monotonic() - checked >= KEEPALIVE_SECONDS:
                    checked = time.monotonic()
                    try:
                        await run_unit_of_work(sessions, signed_in, writes=False)
                    except Unauthorized:
                        yield "event: signed_out\ndata: {}\n\n"
                        return

    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)
