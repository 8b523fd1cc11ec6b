"""The HTTP requests a batch of claimed outbox messages turns into, built at delivery time.

A call's body is read from its attempt when it is sent, not when it is enqueued, so a
recording written later in the same transaction (or afterwards) still becomes the
``ReferenceId``.
"""

import hashlib
import hmac
import json
import re
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from opendialer.config import Settings
from opendialer.crm.service import CALL_FINISHED
from opendialer.models import (
    CallAttempt,
    CrmEndpoint,
    EndpointKind,
    OutboxMessage,
    Recording,
    User,
    UserExtensionPolicy,
)
from opendialer.recordings.service import download_url as recording_download_url
from opendialer.security import same_secret

MINICRM_DATE_FORMAT = "%Y-%m-%d %H:%M:%S"
MAX_BATCH_ITEMS = 100  # MiniCRM documents no limit; its spec advises a few hundred at most
SIGNATURE_HEADER = "X-Opendialer-Signature"
DELIVERY_HEADER = "X-Opendialer-Delivery"


class Unsendable(Exception):
    """The message can never be sent as it is (a configuration gap): dead-letter it."""


@dataclass
class Outgoing:
    endpoint_id: int
    url: str
    body: bytes
    headers: dict[str, str]
    message_ids: list[int]


@dataclass
class Plan:
    requests: list[Outgoing] = field(default_factory=list)
    unsendable: dict[int, str] = field(default_factory=dict)  # message id -> reason


def plan_requests(session: Session, settings: Settings, messages: list[OutboxMessage]) -> Plan:
    plan = Plan()
    by_endpoint: dict[int, list[OutboxMessage]] = defaultdict(list)
    for message in messages:
        by_endpoint[message.endpoint_id].append(message)
    for endpoint_id, group in by_endpoint.items():
        endpoint = session.get(CrmEndpoint, endpoint_id)
        if endpoint is None:
            plan.unsendable.update({m.id: "the endpoint was deleted" for m in group})
        elif endpoint.kind is EndpointKind.MINICRM_CALLLOG:
            _plan_minicrm(session, endpoint, group, plan)
        else:
            for message in group:
                try:
                    plan.requests.append(_webhook_request(session, settings, endpoint, message))
                except Unsendable as exc:
                    plan.unsendable[message.id] = str(exc)
    return plan


# MiniCRM call logs ------------------------------------------------------------------------


def _attempt(session: Session, message: OutboxMessage) -> CallAttempt:
    attempt = session.get(CallAttempt, message.call_attempt_id) if message.call_attempt_id else None
    if attempt is None:
        raise Unsendable("the call attempt no longer exists")
    return attempt


def _recording(session: Session, attempt: CallAttempt) -> Recording | None:
    return session.scalar(
        select(Recording)
        .where(Recording.call_attempt_id == attempt.id, Recording.deleted_at.is_(None))
        .order_by(Recording.id.desc())
        .limit(1)
    )


def _extension(session: Session, endpoint: CrmEndpoint, attempt: CallAttempt) -> str:
    if endpoint.user_extension_policy is UserExtensionPolicy.AGENT and attempt.user_id:
        user = session.get(User, attempt.user_id)
        if user is not None and user.extension:
            return user.extension
    if endpoint.default_user_extension:
        return endpoint.default_user_extension
    raise Unsendable(
        "no UserExtension: the agent has no extension and the endpoint no default_user_extension"
    )


def talk_seconds(attempt: CallAttempt) -> int:
    """Seconds from the answer to the hang-up; 0 for an unanswered call."""
    start = attempt.connected_at or attempt.answered_at
    if start is None or attempt.ended_at is None:
        return 0
    return max(0, round((attempt.ended_at - start).total_seconds()))


def minicrm_call_type(attempt: CallAttempt) -> int:
    """0 outgoing, 1 incoming (answered), 2 missed (an incoming call nobody answered)."""
    if attempt.outbound:
        return 0
    return 1 if attempt.answered_at is not None else 2


def minicrm_item(attempt: CallAttempt, recording: Recording | None) -> dict[str, Any]:
    item: dict[str, Any] = {
        "Date": _utc(attempt.started_at).strftime(MINICRM_DATE_FORMAT),
        "Number": attempt.b_number,
        "CallType": minicrm_call_type(attempt),
        "Duration": talk_seconds(attempt),
    }
    if recording is not None:
        item["ReferenceId"] = str(recording.id)
    return item


def _plan_minicrm(
    session: Session, endpoint: CrmEndpoint, messages: list[OutboxMessage], plan: Plan
) -> None:
    by_extension: dict[str, list[tuple[int, dict[str, Any]]]] = defaultdict(list)
    for message in messages:
        try:
            attempt = _attempt(session, message)
            item = minicrm_item(attempt, _recording(session, attempt))
            by_extension[_extension(session, endpoint, attempt)].append((message.id, item))
        except Unsendable as exc:
            plan.unsendable[message.id] = str(exc)
    for extension, entries in by_extension.items():
        for start in range(0, len(entries), MAX_BATCH_ITEMS):
            chunk = entries[start : start + MAX_BATCH_ITEMS]
            body = {
                "ApiKey": endpoint.api_key,
                "UserExtension": extension,
                "Data": [item for _, item in chunk],
            }
            ids = [message_id for message_id, _ in chunk]
            headers = {"Content-Type": "application/json"}
            plan.requests.append(Outgoing(endpoint.id, endpoint.url, _json(body), headers, ids))


# Generic webhooks -----------------------------------------------------------------------


def call_event_data(session: Session, settings: Settings, attempt: CallAttempt) -> dict[str, Any]:
    recording = _recording(session, attempt)
    user = session.get(User, attempt.user_id) if attempt.user_id else None
    return {
        "call_attempt_id": attempt.id,
        "campaign_id": attempt.campaign_id,
        "contact_id": attempt.contact_id,
        "user_id": attempt.user_id,
        "user_extension": user.extension if user else None,
        "number": attempt.b_number,
        "outbound": attempt.outbound,
        "outcome": attempt.outcome.value if attempt.outcome else None,
        "started_at": _iso(attempt.started_at),
        "answered_at": _iso(attempt.answered_at),
        "connected_at": _iso(attempt.connected_at),
        "ended_at": _iso(attempt.ended_at),
        "duration_seconds": talk_seconds(attempt),
        "sip_status": attempt.sip_status,
        "cause_code": attempt.cause_code,
        "result_code_id": attempt.result_code_id,
        "recording": None
        if recording is None
        else {
            "id": recording.id,
            "url": recording_download_url(settings, recording, settings.public_base_url),
        },
    }


def _webhook_request(
    session: Session, settings: Settings, endpoint: CrmEndpoint, message: OutboxMessage
) -> Outgoing:
    if message.event_type == CALL_FINISHED:
        data = call_event_data(session, settings, _attempt(session, message))
    else:
        data = message.payload
    body = _json(
        {
            "id": message.delivery_id,
            "type": message.event_type,
            "created_at": _iso(message.created_at),
            "data": data,
        }
    )
    headers = {
        "Content-Type": "application/json",
        "X-Opendialer-Event": message.event_type,
        DELIVERY_HEADER: message.delivery_id,
        SIGNATURE_HEADER: sign_body(endpoint.secret, body, int(time.time())),
    }
    return Outgoing(endpoint.id, endpoint.url, body, headers, [message.id])


def sign_body(secret: str, body: bytes, timestamp: int) -> str:
    """``t=<unix time>,v1=<hex HMAC-SHA256 of "<t>." + body>``: the time stops replays."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify_signature(secret: str, body: bytes, header: str, now: float, tolerance: float) -> bool:
    """What a receiver does (documented in docs/webhooks.md); used by the tests."""
    parts = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    if not re.fullmatch(r"[0-9]{1,12}", parts.get("t", "")) or "v1" not in parts:
        return False
    timestamp = int(parts["t"])
    if abs(now - timestamp) > tolerance:
        return False
    expected = sign_body(secret, body, timestamp).split("v1=", 1)[1]
    return same_secret(expected, parts["v1"])


def _json(value: dict[str, Any]) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()
