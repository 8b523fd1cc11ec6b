"""People signed in with their user name and password: the login page's session cookie and
the token endpoint's bearer token are the same thing, a ``login_sessions`` row.

The token is shown once and stored as its SHA-256. A login unused for ``login_idle_minutes``
has expired. Requests authenticated by the cookie carry the row's CSRF token in the
``X-CSRF-Token`` header (or a form's ``csrf_token`` field) when they change anything.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from opendialer.errors import Forbidden, Unauthorized
from opendialer.models import LoginSession, User
from opendialer.scoping import Scope, owned
from opendialer.security import hash_token, new_token, same_secret

LOGIN_TOKEN_PREFIX = "ods_"
SESSION_COOKIE = "od_session"
CSRF_HEADER = "X-CSRF-Token"
TOUCH_AFTER = timedelta(seconds=30)  # how stale last_seen_at may get before it is rewritten


class CsrfRefused(Forbidden):
    code = "csrf_failed"


@dataclass(frozen=True)
class NewLogin:
    token: str
    csrf_token: str
    scope: Scope


@dataclass(frozen=True)
class Login:
    scope: Scope
    record: LoginSession


def is_login_token(token: str) -> bool:
    return token.startswith(LOGIN_TOKEN_PREFIX)


def sign_in(session: Session, scope: Scope, now: datetime) -> NewLogin:
    """A new login for the user ``scope`` names (their password was checked)."""
    if scope.user_id is None:
        raise Unauthorized("Only a user can sign in")
    token, csrf = new_token(LOGIN_TOKEN_PREFIX), new_token(nbytes=24)
    session.add(
        LoginSession(
            token_hash=hash_token(token),
            tenant_id=scope.tenant_id,
            user_id=scope.user_id,
            csrf_token=csrf,
            created_at=now,
            last_seen_at=now,
        )
    )
    session.flush()
    return NewLogin(token=token, csrf_token=csrf, scope=scope)


def find_login(
    session: Session, token: str, now: datetime, idle: timedelta, *, touch: bool
) -> Login:
    """The live login a token names; unknown, expired or of a user no longer active: 401.

    ``touch`` (a writing transaction) records the use, so the login stays alive.
    """
    record = session.scalar(
        select(LoginSession).where(LoginSession.token_hash == hash_token(token))
    )
    if record is None:
        raise Unauthorized("Unknown or ended login; sign in again")
    if now - record.last_seen_at > idle:  # housekeeping deletes it (prune_logins)
        raise Unauthorized("The login expired after inactivity; sign in again")
    # the user is read through the login's tenant: a user of another tenant is no user here
    user = session.scalar(
        owned(User, Scope.system(record.tenant_id)).where(User.id == record.user_id)
    )
    if user is None or not user.active:
        raise Unauthorized("This user may no longer sign in")
    if touch and now - record.last_seen_at > TOUCH_AFTER:
        record.last_seen_at = now
        session.flush()
    return Login(Scope(tenant_id=user.tenant_id, role=user.role, user_id=user.id), record)


def check_csrf(record: LoginSession, given: str | None) -> None:
    if not given or not same_secret(record.csrf_token, given):
        raise CsrfRefused("This change needs the login's CSRF token (header X-CSRF-Token)")


def sign_out(session: Session, record: LoginSession) -> None:
    session.delete(record)
    session.flush()


def prune_logins(session: Session, unused_since: datetime) -> int:
    """Delete logins unused since ``unused_since`` (expired); how many."""
    stale = delete(LoginSession).where(LoginSession.last_seen_at < unused_since)
    return int(getattr(session.execute(stale), "rowcount", 0) or 0)
