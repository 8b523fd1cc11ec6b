"""Request and response bodies for consent, holds and caller-ID pools."""

from datetime import datetime
from typing import Annotated

from pydantic import AwareDatetime, Field

from opendialer.models import HoldReason
from opendialer.schemas import InputModel, OutputModel


class ConsentCreate(InputModel):
    channel: Annotated[str, Field(min_length=1, max_length=20)] = "phone"
    source: Annotated[str, Field(min_length=1, max_length=100)]
    given_at: AwareDatetime
    text: Annotated[str, Field(max_length=2000)] | None = None
    reference: Annotated[str, Field(max_length=255)] | None = None
    expires_at: AwareDatetime | None = None


class ConsentRead(OutputModel):
    id: int
    contact_id: int
    channel: str
    source: str
    given_at: datetime
    text: str | None
    reference: str | None
    expires_at: datetime | None
    revoked_at: datetime | None
    created_at: datetime


class HoldRead(OutputModel):
    id: int
    contact_id: int
    e164: str | None
    reason: HoldReason
    until: datetime
    created_at: datetime


class CallerIdCreate(InputModel):
    number: Annotated[str, Field(min_length=1, max_length=64)]


class CallerIdRead(OutputModel):
    id: int
    campaign_id: int
    e164: str
    retired_at: datetime | None
    last_used_at: datetime | None
    created_at: datetime
