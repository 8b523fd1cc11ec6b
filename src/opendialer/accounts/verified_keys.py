"""API keys this process verified lately, so a request with a known key needs no query and no
trip to a worker thread before its own work.

A key is remembered by its hash for ``lifetime`` seconds. Revoking a key (any change to an API
key row, committed through a session of this process) forgets every remembered key at once,
here; another server process that remembered the key stops accepting it when its entry expires,
so ``lifetime`` bounds how long a key revoked elsewhere keeps working. A lookup that was
running while a revocation committed is not remembered (the revision check in ``remember``).
"""

import threading
import time
from collections.abc import Callable

from sqlalchemy import event
from sqlalchemy.orm import Mapper, object_session

from opendialer.db import after_commit
from opendialer.models import ApiKey
from opendialer.scoping import Scope

MAX_KEYS = 10_000  # remembered at once; a full cache starts again empty
_revision = [0]  # bumped by every committed change of an API key in this process
_revision_lock = threading.Lock()
_watching = [False]


def revision() -> int:
    return _revision[0]


def _bump() -> None:
    with _revision_lock:
        _revision[0] += 1


def _changed(_mapper: Mapper[ApiKey], _connection: object, record: ApiKey) -> None:
    session = object_session(record)
    if session is not None:
        after_commit(session, _bump)
    else:  # pragma: no cover - a flush always has its session
        _bump()


def watch_key_changes() -> None:
    """Forget remembered keys whenever a session commits an update or delete of an API key
    (installed once, by the composition root)."""
    with _revision_lock:
        if _watching[0]:
            return
        _watching[0] = True
    for change in ("after_update", "after_delete"):
        event.listen(ApiKey, change, _changed)


class VerifiedKeys:
    """Scopes of API keys verified in the last ``lifetime`` seconds, by key hash; 0 turns it
    off."""

    def __init__(self, lifetime: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._lifetime = lifetime
        self._clock = clock
        self._entries: dict[str, tuple[Scope, float]] = {}
        self._revision = revision()

    def lookup(self, key_hash: str) -> Scope | None:
        if self._revision != revision():
            self._entries = {}
            self._revision = revision()
        entry = self._entries.get(key_hash)
        if entry is None:
            return None
        scope, expires = entry
        if self._clock() >= expires:
            self._entries.pop(key_hash, None)
            return None
        return scope

    def remember(self, key_hash: str, scope: Scope, seen_revision: int) -> None:
        """Remember a key verified by a lookup that began at ``seen_revision``."""
        if self._lifetime <= 0 or seen_revision != revision():
            return
        if len(self._entries) >= MAX_KEYS:
            self._entries = {}
        self._entries[key_hash] = (scope, self._clock() + self._lifetime)
