"""ACD event vocabulary (types, statuses) and the native request/response bodies."""

import enum
from datetime import datetime
from typing import Annotated

from pydantic import Field

from opendialer.contacts.schemas import Id, Moment, NoNul, Str1000, Text
from opendialer.schemas import InputModel, OutputModel

MIN_PRIORITY, MAX_PRIORITY = 0, 200


class AcdEventType(enum.IntEnum):
    """jtel AcdEventTypes; the seed lost the numbers, these follow the vendor's old list."""

    VOICE_MAIL = 1
    FAX = 2
    CALLBACK = 3
    SMS = 4
    EMAIL = 5
    TICKET = 6


class AcdStatus(enum.IntEnum):
    """jtel AcdEventStatus, with the vendor's sparse numbers."""

    ENTER_SYSTEM = 0
    DISTRIBUTE = 1
    TRANSPORT_SMTP = 2
    TRANSPORT_TO_GROUP = 4
    TRANSPORT_AGENT = 10
    NEW = 20
    SEEN = 30
    REMIND = 40
    CHAT_CLOSED = 98
    DONE = 99
    ERROR = 100


STATUS_SHORT_TEXT = {
    AcdStatus.ENTER_SYSTEM: "EnterSystem",
    AcdStatus.DISTRIBUTE: "Distribute",
    AcdStatus.TRANSPORT_SMTP: "TransportSMTP",
    AcdStatus.TRANSPORT_TO_GROUP: "TransportToGroup",
    AcdStatus.TRANSPORT_AGENT: "TransportAgent",
    AcdStatus.NEW: "New",
    AcdStatus.SEEN: "Seen",
    AcdStatus.REMIND: "Remind",
    AcdStatus.CHAT_CLOSED: "ChatClosed",
    AcdStatus.DONE: "Done",
    AcdStatus.ERROR: "Error",
}
TYPE_SHORT_TEXT = {
    AcdEventType.VOICE_MAIL: "VoiceMail",
    AcdEventType.FAX: "Fax",
    AcdEventType.CALLBACK: "Callback",
    AcdEventType.SMS: "SMS",
    AcdEventType.EMAIL: "Email",
    AcdEventType.TICKET: "Ticket",
}
CLOSED_STATUSES = frozenset({AcdStatus.CHAT_CLOSED, AcdStatus.DONE, AcdStatus.ERROR})
Priority = Annotated[int, Field(ge=MIN_PRIORITY, le=MAX_PRIORITY)]


class AcdEventCreate(InputModel):
    """A new event. ``appointment_at`` absent: distribute now."""

    type_id: AcdEventType
    group_id: Id
    user_id: Id | None = None
    contact_id: Id | None = Field(
        default=None, description="A callback to this contact is dialled from its campaign"
    )
    campaign_id: Id | None = Field(
        default=None, description="The campaign that dials a callback to the sender"
    )
    sender: Text
    receiver: Text | None = None
    subject: Annotated[str, Field(min_length=1, max_length=500), NoNul]
    body: Annotated[str, Field(max_length=100_000), NoNul] | None = None
    crm_url: Str1000 | None = None
    user_data: Text | None = None
    priority: Priority = 50
    appointment_at: Moment | None = None


class AcdEventRead(OutputModel):
    id: int
    type_id: int
    status_id: int
    group_id: int
    user_id: int | None
    contact_id: int | None
    campaign_id: int | None
    sender: str | None
    receiver: str | None
    subject: str | None
    body: str | None
    crm_url: str | None
    user_data: str | None
    priority: int
    appointment_at: datetime | None
    offered_user_id: int | None
    offered_at: datetime | None
    done_at: datetime | None
    comment: str | None
    created_at: datetime
    updated_at: datetime


class AcdEventCreated(AcdEventRead):
    created: bool = Field(description="False: the group allows no duplicates; this is the old one")
