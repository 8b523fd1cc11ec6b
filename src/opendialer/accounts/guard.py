"""Failed credential checks: limited per credential and per client address on every face.

Each face calls :meth:`AuthGuard.attempt` around its one credential check. Before the check,
a credential or an address with too many recent failures is refused (``TooManyAttempts``, 429
or the face's own error) even when the credential is right; after a failed check the failure is
counted and written to ``auth_failures``. Counts live in this process's memory (``limits``
moving windows): one server process, one count; several processes each count their own.

Audit rows are written by the guard's own thread, after the failing request: that request may
hold the SQLite writer gate (every writing request does), so a row written from inside it would
wait for the gate the request itself holds.
"""

import enum
import logging
import math
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from fastapi import Request
from limits import RateLimitItem, RateLimitItemPerSecond
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from sqlalchemy import delete
from sqlalchemy.orm import Session

from opendialer.config import Settings
from opendialer.db import SessionMaker, unit_of_work
from opendialer.errors import Forbidden, OpendialerError, Unauthorized
from opendialer.models import AuthFailure

log = logging.getLogger(__name__)
SECRET_PREFIX = 8  # how much of a key or code is kept to tell failures apart (API keys' prefix)


class Face(enum.StrEnum):
    NATIVE = "native"
    JTEL = "jtel"
    MMDIAL = "mmdial"
    VOICENTER = "voicenter"
    MINICRM = "minicrm"
    LINK = "signed_link"
    LOGIN = "login"  # the login page and the token endpoint


class TooManyAttempts(OpendialerError):
    status_code = 429
    code = "too_many_attempts"

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            "Too many failed attempts; try again later", details={"retry_after": retry_after}
        )
        self.retry_after = retry_after
        self.headers = {"Retry-After": str(retry_after)}


class InvalidLink(Forbidden):
    """A signed link that does not verify: 403, and counted like a wrong password."""


def secret_prefix(secret: str) -> str:
    """What may be logged of a secret (a key, a code, a signature): its first characters."""
    return secret[:SECRET_PREFIX]


def _storable(text: str, length: int) -> str:
    """Client text as every database keeps it: no NUL or other controls, no lone surrogates."""
    printable = "".join(c if c.isprintable() else "?" for c in text[:length])
    return printable.encode("utf-8", "replace").decode()


def client_address(request: Request) -> str | None:
    """The caller's address: the TCP peer, or what a trusted proxy says (app.py)."""
    return request.client.host if request.client else None


class AuthGuard:
    def __init__(self, settings: Settings, sessions: SessionMaker) -> None:
        window = settings.auth_failure_window_seconds
        self._per_credential = RateLimitItemPerSecond(
            settings.auth_max_failures_per_credential, window
        )
        self._per_address = RateLimitItemPerSecond(settings.auth_max_failures_per_address, window)
        self._storage = MemoryStorage()
        self._limiter = MovingWindowRateLimiter(self._storage)
        self._sessions = sessions
        self._audit = ThreadPoolExecutor(max_workers=1, thread_name_prefix="auth-audit")

    def _keys(
        self, face: Face, credential: str, address: str | None
    ) -> list[tuple[RateLimitItem, str]]:
        keys: list[tuple[RateLimitItem, str]] = [(self._per_credential, f"{face}:{credential}")]
        if address:
            keys.append((self._per_address, f"address:{address}"))
        return keys

    def check(self, face: Face, credential: str, address: str | None) -> None:
        """Refuse a locked credential or address before its secret is even looked at."""
        for item, key in self._keys(face, credential, address):
            if not self._limiter.test(item, key):
                reset = self._limiter.get_window_stats(item, key).reset_time
                raise TooManyAttempts(max(1, math.ceil(reset - time.time())))

    def failed(self, face: Face, credential: str, address: str | None) -> None:
        locked = False
        for item, key in self._keys(face, credential, address):
            self._limiter.hit(item, key)
            locked = locked or not self._limiter.test(item, key)
        log.warning(
            "failed credential check",
            extra={"face": face.value, "credential": credential, "address": address},
        )
        failure = AuthFailure(
            occurred_at=datetime.now(UTC),
            face=face.value,
            credential=_storable(credential, 100),
            address=_storable(address, 64) if address else None,
            locked=locked,
        )
        self._audit.submit(self._write, failure)

    def _write(self, failure: AuthFailure) -> None:
        try:
            with unit_of_work(self._sessions) as session:
                session.add(failure)
        except Exception:
            log.exception("the audit row of a failed credential check was not written")

    def written(self) -> None:
        """Wait until the audit rows of every failure so far are written."""
        self._audit.submit(lambda: None).result()

    def close(self) -> None:
        self._audit.shutdown(wait=True)

    @contextmanager
    def attempt(self, face: Face, credential: str, address: str | None) -> Iterator[None]:
        """Around one credential check that raises ``Unauthorized`` (or ``InvalidLink``) when it
        fails."""
        self.check(face, credential, address)
        try:
            yield
        except (Unauthorized, InvalidLink):
            self.failed(face, credential, address)
            raise

    def reset(self) -> None:
        self._storage.reset()


def prune_failures(session: Session, settings: Settings, now: datetime) -> int:
    """Delete audit rows past ``auth_failure_retention_days`` (housekeeping); how many."""
    if not settings.auth_failure_retention_days:
        return 0
    cutoff = now - timedelta(days=settings.auth_failure_retention_days)
    result = session.execute(delete(AuthFailure).where(AuthFailure.occurred_at < cutoff))
    return int(getattr(result, "rowcount", 0) or 0)
