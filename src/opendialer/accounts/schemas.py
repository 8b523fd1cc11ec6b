"""Request and response bodies for the tenant and its API keys."""

from datetime import datetime
from ipaddress import ip_network
from typing import Annotated, Any

from pydantic import AfterValidator, Field

from opendialer.compliance.schemas import CallingRules
from opendialer.models import UserRole
from opendialer.schemas import InputModel, OutputModel, TimeZoneName


def _check_network(value: str) -> str:
    try:
        return str(ip_network(value, strict=False))
    except ValueError as exc:
        raise ValueError(f"{value!r} is not an IP address or network") from exc


IpNetwork = Annotated[str, AfterValidator(_check_network)]


class TenantRead(OutputModel):
    id: int
    name: str
    default_region: str
    timezone: str
    calllog_allowed_ips: list[str]
    link_key_generation: int = Field(
        description="Signed links carry a key of this generation; rotating it voids older ones"
    )
    pause_reasons: list[str] | None = Field(
        description="Reasons an agent may pause with; null: break, lunch, training, meeting"
    )
    holiday_calendars: list[str] = Field(description="Kept by every campaign, besides its own")
    closed_dates: list[str] = Field(description="Closed for every campaign, besides its own")
    max_attempts_per_number: int | None
    max_attempts_per_contact: int | None
    max_conversations: int | None
    cap_window_hours: int
    dnc_import_path: str | None
    dnc_import_every_minutes: int | None
    dnc_import_last_at: datetime | None
    dnc_import_last_result: dict[str, Any] | None = Field(
        description="The last scheduled DNC import: its counts, or its error"
    )
    created_at: datetime


PauseReason = Annotated[str, Field(min_length=1, max_length=100)]


class TenantUpdate(CallingRules):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    default_region: str | None = Field(default=None, pattern="^[A-Za-z]{2}$")
    timezone: TimeZoneName | None = None
    calllog_allowed_ips: list[IpNetwork] | None = Field(
        default=None, description="Networks allowed to post call logs; empty allows all"
    )
    pause_reasons: list[PauseReason] | None = Field(
        default=None, min_length=1, max_length=30, description="Reasons agents may pause with"
    )
    dnc_import_path: str | None = Field(
        default=None,
        min_length=1,
        max_length=255,
        pattern=r"^[A-Za-z0-9_-][A-Za-z0-9._-]*$",
        description="A file name in the server's OPENDIALER_DNC_IMPORT_DIR that replaces the "
        "tenant-wide DNC list on a schedule (one number per line, or CSV with the number "
        "first); null: no scheduled import",
    )
    dnc_import_every_minutes: int | None = Field(
        default=None, ge=5, le=60 * 24 * 31, description="How often the file is read"
    )


class AccountCode(OutputModel):
    account_code: str = Field(description="Shown once; only its hash is stored")


class ApiKeyCreate(InputModel):
    name: str = Field(min_length=1, max_length=100)
    role: UserRole = Field(
        default=UserRole.ADMIN, description="What the key may do: agent < supervisor < admin"
    )


class ApiKeyRead(OutputModel):
    id: int
    name: str
    prefix: str
    role: UserRole
    created_at: datetime
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyRead):
    key: str = Field(description="Shown once; only its hash is stored")
