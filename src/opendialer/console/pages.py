"""The console's HTML pages: login, the agent's console, the supervisor's team view."""

from functools import cache
from pathlib import Path
from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy import select
from sqlalchemy.orm import Session

from opendialer.accounts import logins
from opendialer.accounts.guard import TooManyAttempts
from opendialer.accounts.login_router import check_password
from opendialer.accounts.logins import Login
from opendialer.accounts.session_auth import login_of
from opendialer.config import Settings
from opendialer.console.phone import browser_phone
from opendialer.errors import Unauthorized
from opendialer.models import AgentSession, User, UserRole
from opendialer.models.base import utcnow
from opendialer.scoping import require_role
from opendialer.security import new_token, same_secret
from opendialer.web.db import DbSession
from opendialer.web.routes import IndexedRouter, OneTripRoute
from opendialer.web.state import app_state

LOGIN_CSRF_COOKIE = "od_login_csrf"
HERE = Path(__file__).parent
# No inline script or style: every script and style sheet is a file of this server. Frames:
# the campaign's modules (external pages) may be shown; nobody may frame the console itself.
CSP = (
    "default-src 'self'; frame-src http: https:; frame-ancestors 'none'; "
    "form-action 'self'; base-uri 'none'; object-src 'none'"
)

pages = IndexedRouter(route_class=OneTripRoute, prefix="/console", include_in_schema=False)


@cache
def templates() -> Jinja2Templates:
    return Jinja2Templates(directory=HERE / "templates")


def _page(
    request: Request, name: str, status: int = 200, csp: str = CSP, **context: object
) -> HTMLResponse:
    response = templates().TemplateResponse(request, name, context, status_code=status)
    response.headers["Content-Security-Policy"] = csp
    response.headers["Cache-Control"] = "no-store"
    return response


def _cookie_secure(request: Request) -> bool:
    settings: Settings = app_state(request).settings
    return settings.login_cookie_secure


def _to_login(request: Request, reason: str | None = None) -> RedirectResponse:
    target = "/console/login" + (f"?{reason}=1" if reason else "")
    return RedirectResponse(target, status_code=303)


def _home(role: UserRole) -> str:
    return "/console" if role is UserRole.AGENT else "/console/team"


def _login_form(
    request: Request, status: int = 200, error: str | None = None, notice: str | None = None
) -> HTMLResponse:
    csrf = new_token(nbytes=24)
    response = _page(request, "login.html", status, csrf_token=csrf, error=error, notice=notice)
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        csrf,
        httponly=True,
        secure=_cookie_secure(request),
        samesite="strict",
        path="/console",
    )
    return response


@pages.get("/login", response_class=HTMLResponse)
def login_page(request: Request) -> Response:
    notice = None
    if request.query_params.get("expired"):
        notice = "Your session ended. Please sign in again."
    elif request.query_params.get("signed_out"):
        notice = "You are signed out."
    return _login_form(request, notice=notice)


@pages.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    session: DbSession,
    username: Annotated[str, Form(max_length=120)],
    password: Annotated[str, Form(max_length=1000)],
    csrf_token: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not expected or not same_secret(expected, csrf_token):
        return _login_form(request, 403, error="The form expired; please try again.")
    try:
        scope = check_password(request, session, username, password)
    except Unauthorized:
        return _login_form(request, 401, error="Wrong user name or password.")
    except TooManyAttempts as exc:
        return _login_form(
            request, 429, error=f"Too many failed attempts; try again in {exc.retry_after} s."
        )
    new = logins.sign_in(session, scope, utcnow())
    response = RedirectResponse(_home(scope.role), status_code=303)
    response.set_cookie(
        logins.SESSION_COOKIE,
        new.token,
        httponly=True,
        secure=_cookie_secure(request),
        samesite="strict",
        path="/",
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/console")
    return response


@pages.post("/logout")
def logout(
    request: Request,
    session: DbSession,
    csrf_token: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    try:
        login = login_of(request, session, touch=False, csrf=csrf_token)
    except Unauthorized:
        return _to_login(request, "expired")
    logins.sign_out(session, login.record)
    response = _to_login(request, "signed_out")
    response.delete_cookie(logins.SESSION_COOKIE, path="/")
    return response


def _page_login(request: Request, session: Session) -> Login | RedirectResponse:
    """The page's login, or the way to the login page (saying why when a login had ended)."""
    try:
        return login_of(request, session, touch=False)
    except Unauthorized:
        had_one = request.cookies.get(logins.SESSION_COOKIE)
        return _to_login(request, "expired" if had_one else None)


@pages.get("", response_class=HTMLResponse)
def console_page(request: Request, session: DbSession) -> Response:
    login = _page_login(request, session)
    if isinstance(login, RedirectResponse):
        return login
    if login.scope.role is not UserRole.AGENT:
        return RedirectResponse(_home(login.scope.role), status_code=303)
    user = session.get_one(User, login.scope.user_id)
    phone = browser_phone(app_state(request).settings, user.sip_uri)
    # The browser phone's WebSocket goes to Kamailio, another origin: allowed by name.
    csp = CSP if phone is None else f"{CSP}; connect-src 'self' {phone.ws_url}"
    token = login.record.csrf_token
    return _page(request, "console.html", csp=csp, csrf_token=token, user=user, phone=phone)


@pages.get("/team", response_class=HTMLResponse)
def team_page(request: Request, session: DbSession) -> Response:
    """Supervisors and admins: every agent of the tenant and their state."""
    login = _page_login(request, session)
    if isinstance(login, RedirectResponse):
        return login
    require_role(login.scope, UserRole.SUPERVISOR)
    rows = session.execute(
        select(User, AgentSession)
        .outerjoin(AgentSession, AgentSession.user_id == User.id)
        .where(User.tenant_id == login.scope.tenant_id, User.role == UserRole.AGENT)
        .order_by(User.username)
    ).all()
    user = session.get_one(User, login.scope.user_id)
    return _page(request, "team.html", csrf_token=login.record.csrf_token, user=user, agents=rows)
