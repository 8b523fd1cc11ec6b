"""mmDial's "standard HTTP authentication": HTTP Basic as an admin user of the tenant."""

from dataclasses import dataclass

from fastapi import Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from opendialer.accounts.guard import Face, TooManyAttempts, client_address
from opendialer.accounts.service import Tenant, authenticate_user
from opendialer.dialects.kit import CredentialsProblem, basic_credentials
from opendialer.errors import Forbidden, Unauthorized
from opendialer.scoping import Scope, UserRole, require_role
from opendialer.web.state import auth_guard

REALM = 'Basic realm="mmDial API", charset="UTF-8"'


class AuthFailed(Exception):
    def __init__(self, status: int, reason: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(reason)
        self.status, self.reason, self.headers = status, reason, headers

    def response(self) -> JSONResponse:
        headers = {"WWW-Authenticate": REALM} if self.status == 401 else self.headers
        body = {"status": "error", "reason": self.reason}
        return JSONResponse(status_code=self.status, content=body, headers=headers)


def _credentials(request: Request) -> tuple[str, str]:
    try:
        return basic_credentials(request)
    except CredentialsProblem as problem:
        message = "HTTP Basic authentication required"
        raise AuthFailed(
            401, message if problem.missing else "Malformed Basic credentials"
        ) from None


def authenticate(session: Session, request: Request) -> Scope:
    """The admin calling; 401 for bad credentials, 403 for a user who is not an admin."""
    user, password = _credentials(request)
    try:
        with auth_guard(request).attempt(Face.MMDIAL, user, client_address(request)):
            principal = authenticate_user(session, user, password)
    except Unauthorized:
        raise AuthFailed(401, "Invalid credentials") from None
    except TooManyAttempts as exc:
        raise AuthFailed(429, exc.message, exc.headers) from None
    try:
        require_role(principal, UserRole.ADMIN)
    except Forbidden:
        raise AuthFailed(403, "Only admin users may use the API") from None
    return principal


@dataclass(frozen=True)
class Caller:
    """Who calls an mmDial function: the admin's scope, and their tenant for its settings."""

    scope: Scope
    tenant: Tenant

    @property
    def timezone(self) -> str:
        return self.tenant.timezone

    @property
    def default_region(self) -> str:
        return self.tenant.default_region
