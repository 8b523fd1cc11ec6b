"""Request authentication for the native API."""

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from opendialer.accounts.guard import Face, auth_guard, client_address, secret_prefix
from opendialer.accounts.service import authenticate_api_key
from opendialer.db import DbSession, ReadSession
from opendialer.errors import Unauthorized
from opendialer.scoping import Scope

_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer od_...`")


def current_principal(
    request: Request,
    session: DbSession,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Scope:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("Send an API key as 'Authorization: Bearer <key>'")
    key = credentials.credentials
    with auth_guard(request).attempt(Face.NATIVE, secret_prefix(key), client_address(request)):
        return authenticate_api_key(session, key)


CurrentScope = Annotated[Scope, Depends(current_principal)]


def read_principal(
    request: Request,
    session: ReadSession,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Scope:
    """As :func:`current_principal`, from a read-only transaction: for routes that then wait on
    work that writes (the engine, an import's own transaction), so the request does not hold the
    SQLite writer while it waits."""
    return current_principal(request, session, credentials)


ReadScope = Annotated[Scope, Depends(read_principal)]
