"""Whether anything was committed to the database since a token was taken, in one small
statement: what lets the engine's poll skip its read of a campaign when nothing changed.

- SQLite: ``data_version`` moves when another connection commits, ``total_changes()`` when
  this connection writes a row (the engine's own claims and closes: another campaign sharing
  its agents may need to know). Both count per connection, so the token names the connection.
- PostgreSQL: the current snapshot (``xmin:xmax:in-progress ids``) moves when a transaction
  anywhere in the cluster takes an id (at its first write) or ends one that had; read-only work
  leaves it as it was.

Both err towards "changed" (a lease renewal, another database's writes, a new connection),
never the other way. Take the token before the read it stands for, in the same transaction: a
commit between the two then makes the next token differ, and the state is read again.
"""

import itertools
from collections.abc import Hashable

from sqlalchemy.orm import Session

_SERIAL = "opendialer.connection_serial"
_serials = itertools.count(1)
_SQLITE_VERSIONS = "SELECT data_version, total_changes() FROM pragma_data_version"


def change_token(session: Session) -> Hashable:
    """The database's state as far as "did anything change since?" needs it."""
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        # The serial is the DBAPI connection's for its whole life (the pool entry's info), so
        # a replaced connection, whose data_version counts from anywhere, never compares equal.
        serial = connection.info.setdefault(_SERIAL, next(_serials))
        versions = connection.exec_driver_sql(_SQLITE_VERSIONS).one()
        return (serial, *versions)
    return str(connection.exec_driver_sql("SELECT pg_current_snapshot()::text").scalar_one())
