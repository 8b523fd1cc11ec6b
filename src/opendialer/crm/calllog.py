"""Call logs a PBX posts (MiniCRM "Call log API"): who may post, which user and contact a call
belongs to, and storing each call exactly once.

The dialect validates the vendor body into :class:`CallLogItem`s; the rules live here, so a
native endpoint could post call logs through the same functions.
"""

import enum
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from ipaddress import ip_address, ip_network
from typing import Any

from sqlalchemy import Insert, Select, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from opendialer.errors import Forbidden, NotFound, Unauthorized
from opendialer.models import ContactPhone, CrmCallLog, Tenant, User
from opendialer.phones import e164_or_none, normalize
from opendialer.scoping import Credential, Scope, tenant_of
from opendialer.security import hash_token

CHUNK = 500  # ids per IN (...) list: well under every database's parameter limit


class CallType(enum.IntEnum):
    OUTGOING = 0
    INCOMING = 1
    MISSED = 2


class ItemOutcome(enum.StrEnum):
    PROCESSED = "processed"  # stored and added to a contact's call-log history
    NOT_FOUND = "not_found"  # stored, but the number matches no contact
    EXISTS = "exists"  # an exact repeat of a stored call: not stored again


@dataclass(frozen=True, slots=True)
class CallLogItem:
    number: str
    call_type: CallType
    duration_seconds: int
    occurred_at: datetime  # aware, UTC
    reference_id: str | None = None


class UnknownExtension(NotFound):
    code = "unknown_user_extension"


# Who is posting ---------------------------------------------------------------------------


def tenant_for_calllog_key(session: Session, key: str) -> Tenant:
    tenant = session.scalar(select(Tenant).where(Tenant.calllog_key_hash == hash_token(key)))
    if tenant is None:
        raise Unauthorized("Invalid ApiKey (use the tenant's call-log key)", code="invalid_api_key")
    return tenant


def calllog_key_scope(tenant: Tenant) -> Scope:
    """The scope of a request authenticated by the tenant's call-log key."""
    return Scope.of_credential(tenant.id, Credential.CALL_LOG_KEY, tenant.id)


def ip_allowed(tenant: Tenant, client_ip: str | None) -> bool:
    """An empty allow-list admits everyone; otherwise the sender must be in one of its networks."""
    networks = tenant.calllog_allowed_ips or []
    if not networks:
        return True
    try:
        address = ip_address(client_ip or "")
    except ValueError:
        return False
    return any(address in ip_network(str(n), strict=False) for n in networks)


def check_sender_ip(tenant: Tenant, client_ip: str | None) -> None:
    if not ip_allowed(tenant, client_ip):
        raise Forbidden(
            f"IP address {client_ip} is not allowed to post call logs", code="ip_denied"
        )


def find_user(session: Session, scope: Scope, extension: str) -> User:
    """The user with this extension (compared as text, "001" is not "1"), or whose extension is
    the same phone number as ``extension`` when the PBX sends full numbers."""
    tenant = tenant_of(session, scope)
    users = session.scalars(
        select(User).where(User.tenant_id == tenant.id, User.extension.is_not(None))
    ).all()
    exact = [u for u in users if u.extension == extension]
    if exact:
        return exact[0]
    e164 = e164_or_none(extension, tenant.default_region)
    if e164 is not None:
        region = tenant.default_region
        same = [u for u in users if u.extension and e164_or_none(u.extension, region) == e164]
        if same:
            return same[0]
    raise UnknownExtension("user_extension", extension)


# Storing ----------------------------------------------------------------------------------


def dedupe_key(user_id: int, number_key: str, item: CallLogItem) -> str:
    """Same user, number, type, start and duration: the same call."""
    parts = (str(user_id), number_key, str(int(item.call_type)), item.occurred_at.isoformat())
    text = "\x1f".join((*parts, str(item.duration_seconds)))
    return hashlib.sha256(text.encode()).hexdigest()


def _chunks(values: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]


def contacts_by_number(session: Session, scope: Scope, numbers: Iterable[str]) -> dict[str, int]:
    """E.164 -> the newest contact holding it at any of its six positions."""
    found: dict[str, int] = {}
    for chunk in _chunks(sorted(set(numbers))):
        rows = session.execute(
            select(ContactPhone.e164, func.max(ContactPhone.contact_id))
            .where(ContactPhone.tenant_id == scope.tenant_id, ContactPhone.e164.in_(chunk))
            .group_by(ContactPhone.e164)
        )
        found.update({str(e164): int(contact_id) for e164, contact_id in rows})
    return found


def _existing_keys(session: Session, scope: Scope, keys: Sequence[str]) -> set[str]:
    existing: set[str] = set()
    for chunk in _chunks(keys):
        existing.update(
            session.scalars(
                select(CrmCallLog.dedupe_key).where(
                    CrmCallLog.tenant_id == scope.tenant_id, CrmCallLog.dedupe_key.in_(chunk)
                )
            )
        )
    return existing


def _insert_new(session: Session, rows: list[dict[str, Any]]) -> set[str]:
    """Insert, skipping rows a concurrent request stored meanwhile; the keys actually stored."""
    if not rows:
        return set()
    insert: Insert
    if session.get_bind().dialect.name == "postgresql":
        insert = postgresql.insert(CrmCallLog).on_conflict_do_nothing()
    else:
        insert = sqlite.insert(CrmCallLog).on_conflict_do_nothing()
    stored: set[str] = set()
    for start in range(0, len(rows), CHUNK):
        result = session.execute(
            insert.returning(CrmCallLog.dedupe_key), rows[start : start + CHUNK]
        )
        stored.update(result.scalars())
    return stored


def store_call_logs(
    session: Session, scope: Scope, user: User, extension: str, items: Sequence[CallLogItem]
) -> list[ItemOutcome]:
    """Store each new call once; one outcome per item, in order."""
    tenant = tenant_of(session, scope)
    region = tenant.default_region
    e164s = [normalize(item.number, region).e164 for item in items]
    contacts = contacts_by_number(session, scope, (e for e in e164s if e))
    keys = [
        dedupe_key(user.id, e164 or item.number.strip(), item)
        for item, e164 in zip(items, e164s, strict=True)
    ]
    existing = _existing_keys(session, scope, keys)
    rows: dict[str, dict[str, Any]] = {}
    for item, e164, key in zip(items, e164s, keys, strict=True):
        if key in existing or key in rows:
            continue
        rows[key] = {
            "tenant_id": tenant.id,
            "user_id": user.id,
            "contact_id": contacts.get(e164) if e164 else None,
            "user_extension": extension,
            "number": item.number,
            "e164": e164,
            "call_type": int(item.call_type),
            "duration_seconds": item.duration_seconds,
            "occurred_at": item.occurred_at,
            "reference_id": item.reference_id,
            "dedupe_key": key,
        }
    stored = _insert_new(session, list(rows.values()))
    outcomes: list[ItemOutcome] = []
    for key in keys:
        row = rows.pop(key, None) if key in stored else None
        if row is None:
            outcomes.append(ItemOutcome.EXISTS)
        elif row["contact_id"] is None:
            outcomes.append(ItemOutcome.NOT_FOUND)
        else:
            outcomes.append(ItemOutcome.PROCESSED)
    return outcomes


# Reading (native API) ---------------------------------------------------------------------


def call_logs_query(
    scope: Scope, contact_id: int | None = None, unmatched: bool | None = None
) -> Select[CrmCallLog]:
    stmt = select(CrmCallLog).where(CrmCallLog.tenant_id == scope.tenant_id)
    if contact_id is not None:
        stmt = stmt.where(CrmCallLog.contact_id == contact_id)
    if unmatched is True:
        stmt = stmt.where(CrmCallLog.contact_id.is_(None))
    elif unmatched is False:
        stmt = stmt.where(CrmCallLog.contact_id.is_not(None))
    return stmt
