"""How far each running import has read its file, for a page's progress bar.

An import runs inside one request; a caller that wants to follow it names it with a key of its
own choosing (``progress=<key>`` on the import) and asks ``GET /imports/{key}`` meanwhile. The
board lives in the server process (one per app); with several server processes a client asks the
process that runs the import only by chance, so the page treats an unknown key as "not begun".
"""

from collections import OrderedDict
from dataclasses import dataclass
from threading import Lock

from opendialer.scoping import Scope

KEEP = 1000  # finished and running imports remembered per process (the oldest are forgotten)


@dataclass(frozen=True, slots=True)
class ImportProgress:
    bytes_read: int
    size: int
    done: bool


class ImportProgressBoard:
    """Progress by (tenant, key); written from the import's worker thread, read by requests."""

    def __init__(self, keep: int = KEEP) -> None:
        self._keep = keep
        self._lock = Lock()
        self._entries: OrderedDict[tuple[int, str], ImportProgress] = OrderedDict()

    def _put(self, scope: Scope, key: str, entry: ImportProgress) -> None:
        with self._lock:
            self._entries[(scope.tenant_id, key)] = entry
            self._entries.move_to_end((scope.tenant_id, key))
            while len(self._entries) > self._keep:
                self._entries.popitem(last=False)

    def start(self, scope: Scope, *, key: str, size: int) -> None:
        self._put(scope, key, ImportProgress(0, size, done=False))

    def read(self, scope: Scope, bytes_read: int, *, key: str) -> None:
        current = self.get(scope, key=key)
        size = current.size if current else bytes_read
        self._put(scope, key, ImportProgress(min(bytes_read, size), size, done=False))

    def finish(self, scope: Scope, *, key: str) -> None:
        current = self.get(scope, key=key)
        size = current.size if current else 0
        self._put(scope, key, ImportProgress(size, size, done=True))

    def get(self, scope: Scope, *, key: str) -> ImportProgress | None:
        """Only the scope's tenant's imports: another tenant's key is unknown here."""
        with self._lock:
            return self._entries.get((scope.tenant_id, key))
