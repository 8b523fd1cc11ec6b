"""Request and response bodies of the native CRM API: endpoints, the outbox, call logs."""

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AnyHttpUrl, Field

from opendialer.models import EndpointKind, OutboxStatus, UserExtensionPolicy
from opendialer.schemas import InputModel, OutputModel

RECORDING_PLACEHOLDER = "{%RefereceId%}"  # sic: MiniCRM spells it without the "n"

EventName = Literal["call.finished", "contact.done", "campaign.started", "campaign.stopped"]


def _http_url(value: str) -> str:
    AnyHttpUrl(value)  # raises ValueError on anything but an http(s) URL
    return value


def _recording_template(value: str) -> str:
    if RECORDING_PLACEHOLDER not in value:
        raise ValueError(f"the template must contain {RECORDING_PLACEHOLDER}")
    _http_url(value.replace(RECORDING_PLACEHOLDER, "x"))
    return value


HttpUrl = Annotated[str, Field(max_length=2000), AfterValidator(_http_url)]
RecordingTemplate = Annotated[str, Field(max_length=2000), AfterValidator(_recording_template)]


class EndpointFields(InputModel):
    user_extension_policy: UserExtensionPolicy = UserExtensionPolicy.AGENT
    default_user_extension: str | None = Field(
        default=None,
        max_length=64,
        description="Sent when no agent took the call (or always, with policy 'fixed')",
    )
    batch_interval_seconds: int = Field(
        default=0, ge=0, le=86_400, description="0 sends each call at once; else one batch each N s"
    )
    recording_url_template: RecordingTemplate | None = Field(
        default=None,
        description="Where the CRM fetches recordings, with {%RefereceId%}; default: this server",
    )
    events: list[EventName] = Field(default_factory=list, description="Empty: every event")
    active: bool = True


class EndpointCreate(EndpointFields):
    name: str = Field(min_length=1, max_length=200)
    kind: EndpointKind
    url: HttpUrl
    api_key: str | None = Field(default=None, max_length=255, description="MiniCRM VOIP key")
    secret: str | None = Field(
        default=None, min_length=16, max_length=255, description="HMAC key; generated if omitted"
    )


class EndpointUpdate(InputModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    url: HttpUrl | None = None
    api_key: str | None = Field(default=None, max_length=255)
    secret: str | None = Field(default=None, min_length=16, max_length=255)
    user_extension_policy: UserExtensionPolicy | None = None
    default_user_extension: str | None = Field(default=None, max_length=64)
    batch_interval_seconds: int | None = Field(default=None, ge=0, le=86_400)
    recording_url_template: RecordingTemplate | None = None
    events: list[EventName] | None = None
    active: bool | None = None


class EndpointRead(OutputModel):
    id: int
    name: str
    kind: EndpointKind
    url: str
    api_key: str | None
    secret: str
    user_extension_policy: UserExtensionPolicy
    default_user_extension: str | None
    batch_interval_seconds: int
    recording_url_template: str | None = Field(
        description="Give this to the CRM; it resolves to a signed recording download link"
    )
    events: list[str]
    active: bool
    created_at: datetime
    updated_at: datetime


class OutboxMessageRead(OutputModel):
    id: int
    endpoint_id: int
    event_type: str
    call_attempt_id: int | None
    payload: dict[str, Any]
    delivery_id: str
    status: OutboxStatus
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    last_status_code: int | None
    created_at: datetime
    delivered_at: datetime | None


class RetriggerBody(InputModel):
    message_ids: list[Annotated[int, Field(ge=1)]] | None = Field(
        default=None, max_length=10_000, description="Omit to retrigger every dead message"
    )
    endpoint_id: int | None = Field(default=None, ge=1)


class RetriggerResult(OutputModel):
    retriggered: int
    message_ids: list[int]


class CallLogRead(OutputModel):
    """One call a PBX reported through POST /Api/CallLog."""

    id: int
    user_id: int | None
    contact_id: int | None
    user_extension: str
    number: str
    e164: str | None
    call_type: int
    duration_seconds: int
    occurred_at: datetime
    reference_id: str | None
    created_at: datetime
