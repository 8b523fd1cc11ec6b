"""Native API: a login token for scripts, and logging out (token or cookie)."""

from fastapi import Request

from opendialer.accounts import logins
from opendialer.accounts.guard import Face, client_address
from opendialer.accounts.login_schemas import LoginUser, TokenRequest, TokenResponse
from opendialer.accounts.roles import AgentScope
from opendialer.accounts.service import authenticate_user
from opendialer.accounts.session_auth import login_idle, login_of
from opendialer.errors import BadRequest
from opendialer.models.base import utcnow
from opendialer.scoping import Scope
from opendialer.web.db import DbSession
from opendialer.web.routes import IndexedRouter, OneTripRoute
from opendialer.web.state import auth_guard

router = IndexedRouter(route_class=OneTripRoute, tags=["logins"])


def check_password(request: Request, session: DbSession, username: str, password: str) -> Scope:
    """The user's scope when the password is right; every failure goes through the guard."""
    with auth_guard(request).attempt(Face.LOGIN, username[:100], client_address(request)):
        return authenticate_user(session, username, password)


@router.post("/auth/token", response_model=TokenResponse)
def token(body: TokenRequest, request: Request, session: DbSession) -> TokenResponse:
    """Sign in with a user name and password; the answer's token acts as that user (their
    role) until logged out or unused for ``OPENDIALER_LOGIN_IDLE_MINUTES``."""
    scope = check_password(request, session, body.username, body.password)
    new = logins.sign_in(session, scope, utcnow())
    assert scope.user_id is not None  # a password identifies a user
    return TokenResponse(
        access_token=new.token,
        expires_after_idle_seconds=int(login_idle(request).total_seconds()),
        user=LoginUser(id=scope.user_id, tenant_id=scope.tenant_id, role=scope.role),
    )


@router.post("/auth/logout", status_code=204)
def logout(request: Request, session: DbSession, who: AgentScope) -> None:
    """End the login this request was made with (its token or its session cookie)."""
    if who.user_id is None:
        raise BadRequest("An API key is not a login; revoke it instead", code="not_a_login")
    header = request.headers.get("authorization", "")
    bearer = header.partition(" ")[2].strip() or None
    logins.sign_out(session, login_of(request, session, bearer, touch=False).record)
