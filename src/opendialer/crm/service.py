"""The CRM outbox: endpoints, enqueueing events in the caller's transaction, claiming due
deliveries, recording their results with exponential back-off, the dead letters, retriggering.

Every function takes a session and flushes; the caller (a request, the engine's unit of work or
the sender) owns the transaction. Events are written in the same transaction as what caused
them, so a rolled-back outcome sends nothing and a committed one is never lost.
"""

import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any, NamedTuple, Protocol

from sqlalchemy import ColumnElement, Select, and_, bindparam, or_, select, update
from sqlalchemy.orm import Session

from opendialer.crm.schemas import EndpointCreate, EndpointUpdate
from opendialer.db import transaction_memo
from opendialer.errors import BadRequest
from opendialer.models import (
    Campaign,
    CrmEndpoint,
    EndpointKind,
    OutboxMessage,
    OutboxStatus,
)
from opendialer.scoping import Scope, get_owned

CALL_FINISHED = "call.finished"
CONTACT_DONE = "contact.done"
CAMPAIGN_STARTED = "campaign.started"
CAMPAIGN_STOPPED = "campaign.stopped"
ENDPOINTS_READ = "opendialer_crm_endpoints"  # transaction memo: the endpoints read, by tenant
EVENT_TYPES = (CALL_FINISHED, CONTACT_DONE, CAMPAIGN_STARTED, CAMPAIGN_STOPPED)
# A MiniCRM endpoint only understands call logs.
KIND_EVENTS = {EndpointKind.MINICRM_CALLLOG: (CALL_FINISHED,), EndpointKind.WEBHOOK: EVENT_TYPES}


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    base_seconds: float = 10.0
    max_seconds: float = 3600.0
    max_attempts: int = 10

    def delay(self, attempts: int) -> timedelta:
        """Back-off after the ``attempts``-th failure: base, 2·base, 4·base, ... up to the cap."""
        seconds = self.base_seconds * 2 ** max(0, attempts - 1)
        return timedelta(seconds=min(seconds, self.max_seconds))


# Endpoints ---------------------------------------------------------------------------------


def create_endpoint(session: Session, scope: Scope, body: EndpointCreate) -> CrmEndpoint:
    endpoint = CrmEndpoint(
        tenant_id=scope.tenant_id,
        secret=body.secret or secrets.token_urlsafe(32),
        **body.model_dump(exclude={"secret"}),
    )
    _check_endpoint(endpoint)
    session.add(endpoint)
    session.flush()
    _forget_endpoints(session)
    return endpoint


def update_endpoint(
    session: Session, scope: Scope, endpoint_id: int, body: EndpointUpdate
) -> CrmEndpoint:
    endpoint = get_endpoint(session, scope, endpoint_id)
    for name, value in body.model_dump(exclude_unset=True).items():
        setattr(endpoint, name, value)
    _check_endpoint(endpoint)
    session.flush()
    _forget_endpoints(session)
    return endpoint


def _check_endpoint(endpoint: CrmEndpoint) -> None:
    if endpoint.kind is EndpointKind.MINICRM_CALLLOG and not endpoint.api_key:
        raise BadRequest("A minicrm_calllog endpoint needs the api_key to send", code="no_api_key")
    allowed = KIND_EVENTS[endpoint.kind]
    unknown = [e for e in endpoint.events if e not in allowed]
    if unknown:
        raise BadRequest(
            f"Events {unknown} are not sent to {endpoint.kind.value} endpoints",
            code="unknown_event",
            details={"allowed": list(allowed)},
        )


def get_endpoint(session: Session, scope: Scope, endpoint_id: int) -> CrmEndpoint:
    return get_owned(session, CrmEndpoint, scope, endpoint_id, "crm_endpoint")


def endpoints_query(scope: Scope) -> Select[CrmEndpoint]:
    return select(CrmEndpoint).where(CrmEndpoint.tenant_id == scope.tenant_id)


def delete_endpoint(session: Session, scope: Scope, endpoint_id: int) -> None:
    session.delete(get_endpoint(session, scope, endpoint_id))
    session.flush()
    _forget_endpoints(session)


# Enqueueing (called by the engine and the services, inside their transaction) ---------------


class _Subscriber(NamedTuple):
    id: int
    kind: EndpointKind
    events: list[Any]
    batch_interval_seconds: int


@cache
def _active_endpoints_statement() -> Select[Any]:
    return select(*(CrmEndpoint.__table__.c[name] for name in _Subscriber._fields)).where(
        CrmEndpoint.__table__.c.tenant_id == bindparam("tenant_id"),
        CrmEndpoint.__table__.c.active.is_(True),
    )


def _active_endpoints(session: Session, scope: Scope) -> list[_Subscriber]:
    """The tenant's active endpoints (a few columns, not ORM objects), read once per transaction:
    an attempt's end enqueues its call and often its contact. This module's changes to an
    endpoint drop what was read."""
    tenant_id = scope.tenant_id
    memo = transaction_memo(session)
    if memo is not None and tenant_id in memo.get(ENDPOINTS_READ, {}):
        read: list[_Subscriber] = memo[ENDPOINTS_READ][tenant_id]
        return read
    rows = session.execute(_active_endpoints_statement(), {"tenant_id": tenant_id})
    endpoints = [_Subscriber(*row) for row in rows]
    if (memo := transaction_memo(session)) is not None:
        memo.setdefault(ENDPOINTS_READ, {})[tenant_id] = endpoints
    return endpoints


def _forget_endpoints(session: Session) -> None:
    if (memo := transaction_memo(session)) is not None:
        memo.pop(ENDPOINTS_READ, None)


def _subscribed(session: Session, scope: Scope, event_type: str) -> list[_Subscriber]:
    """The tenant's active endpoints that take ``event_type``."""
    endpoints = _active_endpoints(session, scope)
    return [
        e
        for e in endpoints
        if event_type in KIND_EVENTS[e.kind] and (not e.events or event_type in e.events)
    ]


def _due_at(endpoint: _Subscriber, at: datetime) -> datetime:
    """Batched endpoints collect a window's events and send them together at its end."""
    interval = endpoint.batch_interval_seconds
    if interval <= 0:
        return at
    epoch = at.timestamp()
    window_end = (int(epoch // interval) + 1) * interval
    return at + timedelta(seconds=window_end - epoch)


def _enqueue(
    session: Session,
    scope: Scope,
    event_type: str,
    at: datetime,
    payload: dict[str, Any],
    attempt_id: int | None = None,
) -> list[OutboxMessage]:
    messages = [
        OutboxMessage(
            tenant_id=scope.tenant_id,
            endpoint_id=endpoint.id,
            event_type=event_type,
            call_attempt_id=attempt_id,
            payload=payload,
            delivery_id=uuid.uuid4().hex,
            status=OutboxStatus.PENDING,
            attempts=0,
            next_attempt_at=_due_at(endpoint, at),
            created_at=at,
        )
        for endpoint in _subscribed(session, scope, event_type)
    ]
    session.add_all(messages)
    return messages


def enqueue_call_finished(
    session: Session, scope: Scope, attempt_id: int, at: datetime
) -> list[OutboxMessage]:
    """One delivery per subscribed endpoint; the body is built when it is sent."""
    return _enqueue(session, scope, CALL_FINISHED, at, {}, attempt_id)


class DoneContact(Protocol):
    """What a finished contact's message says (an ORM ``Contact`` or the engine's plain row)."""

    @property
    def id(self) -> int: ...
    @property
    def tenant_id(self) -> int: ...
    @property
    def campaign_id(self) -> int: ...
    @property
    def external_id(self) -> str | None: ...
    @property
    def user_data(self) -> str | None: ...
    @property
    def tries(self) -> int: ...
    @property
    def result_code_id(self) -> int | None: ...


def enqueue_contact_done(
    session: Session, contact: DoneContact, at: datetime
) -> list[OutboxMessage]:
    payload = {
        "contact_id": contact.id,
        "campaign_id": contact.campaign_id,
        "external_id": contact.external_id,
        "user_data": contact.user_data,
        "tries": contact.tries,
        "result_code_id": contact.result_code_id,
        "done_at": at.isoformat(),
    }
    return _enqueue(session, Scope.system(contact.tenant_id), CONTACT_DONE, at, payload)


def enqueue_campaign_status(
    session: Session, campaign: Campaign, started: bool, at: datetime
) -> list[OutboxMessage]:
    payload = {
        "campaign_id": campaign.id,
        "name": campaign.name,
        "status": campaign.status.value,
        "at": at.isoformat(),
    }
    event_type = CAMPAIGN_STARTED if started else CAMPAIGN_STOPPED
    return _enqueue(session, Scope.system(campaign.tenant_id), event_type, at, payload)


# Claiming and results (called by the sender) --------------------------------------------


def _claimable(now: datetime) -> ColumnElement[bool]:
    """Due pending messages, and deliveries whose sender died before recording a result."""
    return or_(
        and_(OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.next_attempt_at <= now),
        and_(OutboxMessage.status == OutboxStatus.DELIVERING, OutboxMessage.locked_until <= now),
    )


def claim_due(session: Session, now: datetime, limit: int, lease: timedelta) -> list[OutboxMessage]:
    """Mark up to ``limit`` due messages as being delivered until ``now + lease``.

    PostgreSQL skips rows another sender holds; the conditional UPDATE makes the claim safe
    on SQLite too (a row someone else claimed in between no longer matches).
    """
    candidates = session.scalars(
        select(OutboxMessage.id)
        .where(_claimable(now))
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    if not candidates:
        return []
    claimed = session.scalars(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(candidates), _claimable(now))
        .values(
            status=OutboxStatus.DELIVERING,
            locked_until=now + lease,
            attempts=OutboxMessage.attempts + 1,
        )
        .returning(OutboxMessage.id)
        .execution_options(synchronize_session=False)
    ).all()
    stmt = select(OutboxMessage).where(OutboxMessage.id.in_(claimed)).order_by(OutboxMessage.id)
    return list(session.scalars(stmt.execution_options(populate_existing=True)))


def mark_delivered(
    session: Session, message_ids: Sequence[int], now: datetime, status_code: int | None
) -> None:
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(message_ids))
        .values(
            status=OutboxStatus.DELIVERED,
            delivered_at=now,
            locked_until=None,
            last_status_code=status_code,
            last_error=None,
        )
        .execution_options(synchronize_session=False)
    )


def mark_failed(
    session: Session,
    message_ids: Sequence[int],
    now: datetime,
    error: str,
    status_code: int | None,
    policy: RetryPolicy,
    *,
    permanent: bool = False,
) -> None:
    """Retry later with back-off, or dead-letter after ``policy.max_attempts`` attempts."""
    messages = session.scalars(select(OutboxMessage).where(OutboxMessage.id.in_(message_ids)))
    for message in messages:
        message.last_error = error[:2000]
        message.last_status_code = status_code
        message.locked_until = None
        if permanent or message.attempts >= policy.max_attempts:
            message.status = OutboxStatus.DEAD
        else:
            message.status = OutboxStatus.PENDING
            message.next_attempt_at = now + policy.delay(message.attempts)
    session.flush()


# Native API: listing and retriggering ---------------------------------------------------


def outbox_query(
    scope: Scope, status: OutboxStatus | None = None, endpoint_id: int | None = None
) -> Select[OutboxMessage]:
    stmt = select(OutboxMessage).where(OutboxMessage.tenant_id == scope.tenant_id)
    if status is not None:
        stmt = stmt.where(OutboxMessage.status == status)
    if endpoint_id is not None:
        stmt = stmt.where(OutboxMessage.endpoint_id == endpoint_id)
    return stmt


def retrigger(
    session: Session,
    scope: Scope,
    now: datetime,
    *,
    message_ids: Sequence[int] | None = None,
    endpoint_id: int | None = None,
) -> list[OutboxMessage]:
    """Send dead (or still pending) messages again now, with a fresh set of attempts.

    Without ``message_ids`` every dead message (of ``endpoint_id``, if given) is retriggered.
    Delivered messages are sent again only when named explicitly.
    """
    stmt = outbox_query(scope, endpoint_id=endpoint_id)
    if message_ids is None:
        stmt = stmt.where(OutboxMessage.status == OutboxStatus.DEAD)
    else:
        stmt = stmt.where(
            OutboxMessage.id.in_(message_ids), OutboxMessage.status != OutboxStatus.DELIVERING
        )
    messages = list(session.scalars(stmt.order_by(OutboxMessage.id)))
    for message in messages:
        message.status = OutboxStatus.PENDING
        message.attempts = 0
        message.next_attempt_at = now
        message.locked_until = None
    session.flush()
    return messages
