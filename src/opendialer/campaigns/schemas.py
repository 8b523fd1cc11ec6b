"""Request and response bodies for campaigns and their parts."""

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, Field, field_validator

from opendialer.compliance.schemas import CallingRules
from opendialer.models import (
    CallerIdStrategy,
    CallOutcome,
    OwnCallerIdCheck,
    ResultAction,
)
from opendialer.models import CampaignStatus as CampaignStatus
from opendialer.models import DialMode as DialMode
from opendialer.schemas import InputModel, LocalTime, OutputModel, TimeZoneName

Name = Annotated[str, Field(min_length=1, max_length=200)]
WeekDays = Annotated[list[int], Field(min_length=0, max_length=7)]


class CampaignModule(InputModel):
    """An external page shown to the agent beside the contact (mmDial "Kampagnen Module")."""

    name: str = Field(min_length=1, max_length=100)
    url: str = Field(
        min_length=8,
        max_length=2000,
        pattern=r"^https?://",
        description="URL template; {field} placeholders are filled from the contact, "
        "e.g. https://crm.example/lead?id={external_id}",
    )
    open_in: Literal["frame", "tab"] = "frame"


class ComplianceSettings(CallingRules):
    """Holidays, frequency caps, consent and caller-ID choice (docs/compliance.md)."""

    caller_id_strategy: CallerIdStrategy | None = None
    own_caller_id_check: OwnCallerIdCheck | None = Field(
        default=None,
        description="A contact's own caller ID: off, valid (E.164, not premium or short), "
        "or pool (valid and in the campaign's pool)",
    )
    require_consent: bool | None = None


class CampaignSettings(ComplianceSettings):
    """Every optional campaign setting; shared by create and update."""

    description: str | None = Field(default=None, max_length=1000)
    status: CampaignStatus | None = None
    agent_group_id: int | None = None
    abandon_target: float | None = Field(default=None, gt=0, le=1)
    pacing_coefficient: float | None = Field(default=None, ge=1)
    monitored_queue: int | None = None
    max_waiting_callers: int | None = Field(default=None, ge=1)
    max_parallel_lines: int | None = Field(default=None, ge=1)
    preview_seconds: int | None = Field(default=None, ge=0, le=3600)
    ring_timeout_seconds: int | None = Field(default=None, ge=1, le=300)
    amd_enabled: bool | None = None
    amd_false_positive_rate: float | None = Field(
        default=None,
        ge=0,
        lt=1,
        description="Reasoned estimate of the share of people AMD takes for a machine (Ofcom): "
        "they count as abandoned, so pacing spends budget on them. Used only with AMD on. "
        "Default: the detector's rate measured by bench/amd.py (0.008).",
    )
    abandon_rolling_24h: bool | None = Field(
        default=None,
        description="Count the day's abandonment cap over the rolling 24 hours (Ofcom) instead "
        "of the calendar day in the campaign's time zone.",
    )
    record_calls: bool | None = None
    abandon_announcement_uri: str | None = Field(default=None, max_length=255)
    machine_message_uri: str | None = Field(
        default=None,
        max_length=255,
        description="With AMD: the message left on an answering machine after its beep "
        "(a WAV file path or file: URI, or a sip: URI); unset: machines are hung up",
    )
    caller_id: str | None = Field(default=None, max_length=32)
    timezone: TimeZoneName | None = None
    calling_hours_start: LocalTime | None = None
    calling_hours_end: LocalTime | None = None
    calling_days: WeekDays | None = Field(default=None, description="ISO weekdays, 1 = Monday")
    begin_at: AwareDatetime | None = None
    end_at: AwareDatetime | None = None
    max_tries_per_number: int | None = Field(default=None, ge=1, le=1000)
    retry_delay_seconds: int | None = Field(default=None, ge=0)
    language_id: int | None = Field(default=None, ge=1, le=2)
    script: str | None = Field(
        default=None,
        max_length=20_000,
        description="The agent's call script; {field} placeholders are filled from the contact",
    )
    modules: list[CampaignModule] | None = Field(
        default=None, max_length=20, description="External pages shown beside the contact"
    )
    wrap_up_seconds: int | None = Field(
        default=None,
        ge=0,
        le=86_400,
        description="An agent in wrap-up is made ready after this long; null: they stay in "
        "wrap-up until they say ready",
    )

    @field_validator("calling_days")
    @classmethod
    def _weekdays(cls, days: list[int] | None) -> list[int] | None:
        if days is not None and any(d < 1 or d > 7 for d in days):
            raise ValueError("weekdays are 1 (Monday) to 7 (Sunday)")
        return sorted(set(days)) if days is not None else None


class CampaignCreate(CampaignSettings):
    name: Name
    dial_mode: DialMode


class CampaignUpdate(CampaignSettings):
    name: Name | None = None
    dial_mode: DialMode | None = None


class CampaignRead(OutputModel):
    id: int
    name: str
    code: str | None = Field(
        default=None,
        description="Voicenter campaign code, derived from the server secret (not stored). "
        "null for a code made before codes were derived: it still works but cannot be shown; "
        "POST /campaigns/{id}:new-code replaces it.",
    )
    description: str | None
    dial_mode: DialMode
    status: CampaignStatus
    agent_group_id: int | None
    abandon_target: float
    pacing_coefficient: float | None
    monitored_queue: int | None
    max_waiting_callers: int | None
    max_parallel_lines: int | None
    preview_seconds: int
    ring_timeout_seconds: int
    amd_enabled: bool
    amd_false_positive_rate: float
    abandon_rolling_24h: bool
    record_calls: bool
    abandon_announcement_uri: str | None
    machine_message_uri: str | None
    caller_id: str | None
    timezone: str
    calling_hours_start: LocalTime
    calling_hours_end: LocalTime
    calling_days: list[int]
    begin_at: datetime | None
    end_at: datetime | None
    max_tries_per_number: int
    retry_delay_seconds: int
    language_id: int
    script: str | None
    modules: list[CampaignModule] | None
    wrap_up_seconds: int | None
    caller_id_strategy: CallerIdStrategy
    own_caller_id_check: OwnCallerIdCheck
    holiday_calendars: list[str]
    closed_dates: list[str]
    max_attempts_per_number: int | None
    max_attempts_per_contact: int | None
    max_conversations: int | None
    cap_window_hours: int
    require_consent: bool
    created_at: datetime
    updated_at: datetime


class ResultCodeFields(InputModel):
    text_en: str | None = Field(default=None, min_length=1, max_length=200)
    text_de: str | None = Field(default=None, min_length=1, max_length=200)
    type_id: int | None = None
    is_success: bool | None = None
    answering_machine: bool | None = Field(
        default=None,
        description="The agent reached an answering machine: pacing counts only people, so "
        "this code tells it which live answers were none (campaigns without AMD).",
    )
    action: ResultAction | None = None
    retry_delay_seconds: int | None = Field(default=None, ge=0)
    max_tries: int | None = Field(default=None, ge=1)


class ResultCodeCreate(ResultCodeFields):
    code: Annotated[str, Field(min_length=1, max_length=64)]
    text_en: Annotated[str, Field(min_length=1, max_length=200)]


class ResultCodeUpdate(ResultCodeFields):
    code: Annotated[str, Field(min_length=1, max_length=64)] | None = None


class ResultCodeRead(OutputModel):
    id: int
    campaign_id: int
    code: str
    text_en: str
    text_de: str
    type_id: int
    is_success: bool
    answering_machine: bool
    action: ResultAction
    retry_delay_seconds: int | None
    max_tries: int | None


class RetryRuleWrite(InputModel):
    outcome: CallOutcome
    retry_delay_seconds: int = Field(default=3600, ge=0)
    max_tries: int | None = Field(default=None, ge=1)
    mark_invalid: bool = False
    add_to_dnc: bool = False
    done: bool = False


class RetryRuleRead(OutputModel):
    id: int
    outcome: CallOutcome
    retry_delay_seconds: int
    max_tries: int | None
    mark_invalid: bool
    add_to_dnc: bool
    done: bool


class FormFieldWrite(InputModel):
    name: Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_\-]+$")]
    label: str | None = Field(default=None, max_length=200)
    field_type: Annotated[str, Field(pattern="^(text|number|date|select|checkbox)$")] = "text"
    options: list[str] | None = None
    required: bool = False
    position: int = 0


class FormFieldRead(OutputModel):
    id: int
    campaign_id: int
    name: str
    label: str | None
    field_type: str
    options: list[str] | None
    required: bool
    position: int


class MemberAdd(InputModel):
    user_id: int = Field(ge=1)


class MemberRead(OutputModel):
    user_id: int
    campaign_id: int
    created_at: datetime


class ListCreate(InputModel):
    name: Name
    description: str | None = Field(default=None, max_length=1000)
    active: bool = True


class ListUpdate(InputModel):
    name: Name | None = None
    description: str | None = Field(default=None, max_length=1000)
    active: bool | None = None


class ListRead(OutputModel):
    id: int
    campaign_id: int
    name: str
    description: str | None
    active: bool
    created_at: datetime
