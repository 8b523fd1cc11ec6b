"""The tenant's rules as a claim keeps them from one transaction to the next.

Every claim decides with its tenant's calendars, closed dates and caps (``TenantRules``), but
they change seldom. So each database connection keeps the rules it last read with their
version (the tenant's ``updated_at``, set by every change of the row, ORM or Core), and the
claim reads only the version, as one more column of the statement that finds its candidates:
the same version, the same rules; another, the rules are read again. A rollback restores a
version with the rules it had, so a kept copy never outlives what it describes.

The copy is kept on the connection (``Connection.info``, its DBAPI connection's, kept across
check-outs): one thread uses a connection at a time, so nothing is shared between threads.
"""

from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Connection, ScalarSelect, Select, bindparam, select

from opendialer.engine.compliance import TenantRules
from opendialer.models.tenant import TENANTS

KEPT = "opendialer_kept_tenant_rules"
RULE_COLUMNS = (
    "holiday_calendars",
    "closed_dates",
    "max_attempts_per_number",
    "max_attempts_per_contact",
    "max_conversations",
    "cap_window_hours",
)


@dataclass(frozen=True, slots=True)
class KeptRules:
    version: datetime
    rules: TenantRules


@cache
def _rules_statement() -> Select[Any]:
    tenant = TENANTS.c
    return select(tenant.updated_at, *(tenant[name] for name in RULE_COLUMNS)).where(
        tenant.id == bindparam("tenant_id")
    )


@cache
def version_column() -> ScalarSelect[Any]:
    """The tenant's version, for a statement with a ``tenant_id`` parameter to return."""
    tenant = TENANTS.c
    return select(tenant.updated_at).where(tenant.id == bindparam("tenant_id")).scalar_subquery()


def _kept(conn: Connection) -> dict[int, KeptRules]:
    kept: dict[int, KeptRules] = conn.info.setdefault(KEPT, {})
    return kept


def kept_rules(conn: Connection, tenant_id: int) -> KeptRules:
    """The rules this connection last read (read now if it has none)."""
    return _kept(conn).get(tenant_id) or read_rules(conn, tenant_id)


def read_rules(conn: Connection, tenant_id: int) -> KeptRules:
    """The tenant's rules as of this transaction, kept for the next."""
    version, calendars, closed, per_number, per_contact, conversations, window = conn.execute(
        _rules_statement(), {"tenant_id": tenant_id}
    ).one()
    rules = TenantRules(
        tuple(calendars or ()), tuple(closed or ()), per_number, per_contact, conversations, window
    )
    kept = _kept(conn)[tenant_id] = KeptRules(version, rules)
    return kept


def current_rules(
    conn: Connection, tenant_id: int, kept: KeptRules, version: datetime | None
) -> KeptRules:
    """``kept`` while ``version`` (read in this transaction) is still its version, else the
    rules read again."""
    return kept if version == kept.version else read_rules(conn, tenant_id)
