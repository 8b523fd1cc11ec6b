"""Request authentication for the native API."""

from functools import partial
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from opendialer.accounts.guard import Face, client_address, secret_prefix
from opendialer.accounts.logins import SESSION_COOKIE, is_login_token
from opendialer.accounts.service import authenticate_api_key
from opendialer.accounts.session_auth import login_of
from opendialer.accounts.verified_keys import VerifiedKeys, revision
from opendialer.audit.context import act_as
from opendialer.db import READ_METHODS, read_beside
from opendialer.errors import Unauthorized
from opendialer.scoping import Scope
from opendialer.security import hash_token
from opendialer.web.db import DbSession, ReadSession
from opendialer.web.state import auth_guard, verified_keys

_bearer = HTTPBearer(
    auto_error=False,
    description="An API key or a login token: `Authorization: Bearer od_...` / `ods_...`",
)


async def current_principal(
    request: Request,
    session: DbSession,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Scope:
    """An API key or a login token as a bearer token, or the login page's session cookie."""
    touch = request.method not in READ_METHODS
    return await _principal(request, session, credentials, touch=touch)


async def _principal(
    request: Request,
    session: Session,
    credentials: HTTPAuthorizationCredentials | None,
    *,
    touch: bool,
) -> Scope:
    """On the loop; the database is asked in a worker thread, and not at all for an API key
    this process verified lately (``VerifiedKeys``)."""
    if credentials is None and request.cookies.get(SESSION_COOKIE):
        return (await run_in_threadpool(login_of, request, session, touch=touch)).scope
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("Send an API key or a login token as 'Authorization: Bearer <key>'")
    key = credentials.credentials
    if is_login_token(key):
        return (await run_in_threadpool(login_of, request, session, key, touch=touch)).scope
    with auth_guard(request).attempt(Face.NATIVE, secret_prefix(key), client_address(request)):
        return await _api_key_scope(verified_keys(request), session, key)


async def _api_key_scope(keys: VerifiedKeys, session: Session, key: str) -> Scope:
    key_hash = hash_token(key)
    known = keys.lookup(key_hash)
    if known is not None:
        act_as(known)  # the audit trail names the key, as authenticate_api_key does
        return known
    seen = revision()
    scope = await read_beside(session, partial(authenticate_api_key, key=key))
    keys.remember(key_hash, scope, seen)
    return scope


CurrentScope = Annotated[Scope, Depends(current_principal)]


async def read_principal(
    request: Request,
    session: ReadSession,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Scope:
    """As :func:`current_principal`, from a read-only transaction: for routes that then wait on
    work that writes (the engine, an import's own transaction), so the request does not hold the
    SQLite writer while it waits."""
    return await _principal(request, session, credentials, touch=False)


ReadScope = Annotated[Scope, Depends(read_principal)]
