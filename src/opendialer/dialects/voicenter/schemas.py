"""Voicenter request fields into domain values, and domain records into Voicenter shapes.

Field names are the vendor's, typos included (``Priorety`` in pending calls).
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from opendialer.contacts.queue import NewTarget, QueueSummary, TargetChanges
from opendialer.dialects.voicenter.errors import (
    INVALID_NUMBER,
    NUMBER_INVALID,
    TARGET_MISSING,
    VoicenterError,
)
from opendialer.dialects.voicenter.params import Params
from opendialer.models import Campaign, CampaignStatus, Contact, ContactStatus, DialMode, User
from opendialer.phones import international_digits, normalize

DEFAULT_PRIORITY = 1  # spec V18
PRIORITY_RANGE = (-1_000_000, 1_000_000)  # the contact's own limits
EPOCH_RANGE = (0, 253_370_764_799)  # up to 9998-12-31, the latest date every database keeps
NAME_LENGTH = 255
CALLER_ID_LENGTH = 32
AGENT_DIALER_MODES = (DialMode.PREVIEW, DialMode.PROGRESSIVE)


@dataclass(frozen=True, slots=True)
class CampaignRef:
    """What adding targets needs to know about their campaign."""

    id: int
    tenant_id: int
    region: str
    timezone: str
    own_caller_id_check: str = "off"  # campaigns' OwnCallerIdCheck


@dataclass(slots=True)
class TargetFields:
    """One target's request fields, read and checked; ``None`` = not supplied."""

    raw: str
    e164: str
    name: str | None = None
    caller_id: str | None = None
    priority: int | None = None
    custom_data: dict[str, Any] | None = None
    next_try_at: datetime | None = None
    originate_is_local: bool | None = None
    ignore_dnc: bool | None = None

    def new_target(self, campaign: CampaignRef) -> NewTarget:
        return NewTarget(
            tenant_id=campaign.tenant_id,
            campaign_id=campaign.id,
            raw=self.raw,
            e164=self.e164,
            name=self.name,
            caller_id=self.caller_id,
            priority=DEFAULT_PRIORITY if self.priority is None else self.priority,
            custom_data=self.custom_data or {},
            next_try_at=self.next_try_at,
            originate_is_local=self.originate_is_local,
            ignore_dnc=bool(self.ignore_dnc),
        )

    def changes(self) -> TargetChanges:
        return TargetChanges(
            name=self.name,
            caller_id=self.caller_id,
            priority=self.priority,
            custom_data=self.custom_data,
            next_try_at=self.next_try_at,
            originate_is_local=self.originate_is_local,
        )


def target_number(params: Params, region: str) -> tuple[str, str]:
    """(raw, E.164) of ``Target``: "Target missing" (2) or "Number is invalid" (-2)."""
    value = params.raw("Target")
    if value is None or (isinstance(value, str) and not value.strip()):
        raise VoicenterError(2, TARGET_MISSING)
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise VoicenterError(INVALID_NUMBER, NUMBER_INVALID)
    raw = str(value).strip()
    phone = normalize(raw, region)
    if phone.e164 is None:
        raise VoicenterError(INVALID_NUMBER, NUMBER_INVALID)
    return raw, phone.e164


def originate_at(epoch: int, is_local: bool, timezone: str) -> datetime:
    """``OriginateTime`` as a moment: local wall-clock seconds in the account's zone, or UTC."""
    wall = datetime.fromtimestamp(epoch, UTC)
    if not is_local:
        return wall
    return wall.replace(tzinfo=ZoneInfo(timezone)).astimezone(UTC)


def target_fields(params: Params, campaign: CampaignRef, *, dnc_flag: bool) -> TargetFields:
    raw, e164 = target_number(params, campaign.region)
    fields = TargetFields(
        raw=raw,
        e164=e164,
        name=params.text("CustomerName", NAME_LENGTH),
        caller_id=params.text("CallerID", CALLER_ID_LENGTH),
        priority=params.integer("Priority", *PRIORITY_RANGE),
        custom_data=params.custom_data(),
    )
    epoch = params.integer("OriginateTime", *EPOCH_RANGE)
    is_local = params.boolean("IsDateLocal")
    if epoch is not None:
        # IsDateLocal belongs with OriginateTime; without it the recommended "true" (V11).
        fields.originate_is_local = True if is_local is None else is_local
        fields.next_try_at = originate_at(epoch, fields.originate_is_local, campaign.timezone)
    if dnc_flag:
        fields.ignore_dnc = params.boolean("IgnoreDncStatus")
    return fields


# Responses ----------------------------------------------------------------------------------


def is_agent_dialer(campaign: Campaign) -> bool:
    """Agent dialer = agent first (progressive, preview); smart dialer = predictive."""
    return campaign.dial_mode in AGENT_DIALER_MODES


def status_name(campaign: Campaign) -> str:
    return "Enabled" if campaign.status is CampaignStatus.ENABLED else "Disabled"


def status_number(campaign: Campaign) -> int:
    return 1 if campaign.status is CampaignStatus.ENABLED else 2


def _priorities(summary: QueueSummary) -> dict[str, int]:
    """0 when the queue is empty (the fields are typed Integer)."""
    return {"MaxPriority": summary.max_priority or 0, "MinPriority": summary.min_priority or 0}


def campaign_item(campaign: Campaign, summary: QueueSummary, code: str | None) -> dict[str, Any]:
    """A campaign as GetCampaignList and GetCampaignDetails show it; ``code`` is null for a
    code made before codes were derived (it works but cannot be shown)."""
    return {
        "Name": campaign.name,
        "StatusName": status_name(campaign),
        "TotalPendingCalls": summary.queued,
        **_priorities(summary),
        "TotalAwaitingCalls": None if is_agent_dialer(campaign) else summary.due,
        "Code": code,
    }


def pending_campaign(campaign: Campaign, summary: QueueSummary, code: str | None) -> dict[str, Any]:
    return {
        "ID": campaign.id,
        "Name": campaign.name,
        "Status": status_number(campaign),
        "Code": code,
        "StatusName": status_name(campaign),
        "TotalPendingCalls": summary.queued,
        **_priorities(summary),
        "IsDynamic": 1 if is_agent_dialer(campaign) else 0,  # as documented (V15)
    }


def _iso_utc(moment: datetime) -> str:
    return (
        moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    )


def _plain_utc(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return (
        moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.") + f"{moment.microsecond // 1000:03d}"
    )


def _call_status(contact: Contact) -> dict[str, Any]:
    if contact.status is ContactStatus.IN_CALL:
        return {"Status": 2, "Description": "Call is in Queue on service"}
    return {"Status": 1, "Description": "Tosend"}


def _phone(contact: Contact) -> str:
    phone = contact.phones[0] if contact.phones else None
    if phone is None:
        return ""
    return international_digits(phone.e164) if phone.e164 else phone.raw


def pending_call(contact: Contact) -> dict[str, Any]:
    return {
        "CampaignID": contact.campaign_id,
        "CallID": str(contact.id),
        "Phone": _phone(contact),
        "CallStatus": _call_status(contact),
        "CallInserted": _iso_utc(contact.created_at),
        "CallerID": contact.caller_id or "",
        "CallerName": "",
        "CustomerName": contact.name or "",
        "Priorety": contact.priority,
        "LastCallDate": _plain_utc(contact.last_call_at),
        "CustomData": contact.custom_data or None,
    }


def member_code(user: User) -> str:
    return user.member_code or user.extension or user.username


def member_item(user: User) -> dict[str, str]:
    return {"Member": member_code(user), "DisplayName": user.display_name or user.username}
