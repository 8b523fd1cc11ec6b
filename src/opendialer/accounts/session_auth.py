"""A request's login: its bearer login token or its session cookie, checked through the
failed-attempt guard, with the CSRF check for cookie requests that change anything."""

from datetime import timedelta

from fastapi import Request
from sqlalchemy.orm import Session

from opendialer.accounts.guard import Face, client_address, secret_prefix
from opendialer.accounts.logins import CSRF_HEADER, SESSION_COOKIE, Login, check_csrf, find_login
from opendialer.audit.context import CONSOLE, act_as
from opendialer.config import Settings
from opendialer.db import READ_METHODS
from opendialer.errors import Unauthorized
from opendialer.models.base import utcnow
from opendialer.web.state import app_state, auth_guard


def login_idle(request: Request) -> timedelta:
    settings: Settings = app_state(request).settings
    return timedelta(minutes=settings.login_idle_minutes)


def login_of(
    request: Request,
    session: Session,
    token: str | None = None,
    *,
    touch: bool,
    csrf: str | None = None,
) -> Login:
    """The login of ``token`` (a bearer token) or else of the session cookie.

    A cookie request with a method that changes things must carry the CSRF token: in the
    ``X-CSRF-Token`` header or, for a form, as ``csrf``.
    """
    from_cookie = token is None
    token = token or request.cookies.get(SESSION_COOKIE)
    if not token:
        raise Unauthorized("Sign in first")
    guard = auth_guard(request)
    with guard.attempt(Face.LOGIN, secret_prefix(token), client_address(request)):
        login = find_login(session, token, utcnow(), login_idle(request), touch=touch)
    if from_cookie and request.method not in READ_METHODS:
        check_csrf(login.record, csrf or request.headers.get(CSRF_HEADER))
    act_as(login.scope, face=CONSOLE if from_cookie else None)
    return login
