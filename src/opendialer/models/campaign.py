"""Campaigns and what belongs to one: members, lists, result codes, retry rules, form fields."""

import enum
from datetime import datetime, time
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    Time,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from opendialer.media import figures as amd_figures
from opendialer.models.base import (
    Base,
    BigId,
    CallingRulesMixin,
    IdMixin,
    TimestampMixin,
    str_enum,
    tenant_fk,
)
from opendialer.models.call import CallOutcome

# Abandoned calls per live answer a campaign may cause (US TSR/TCPA, Ofcom: 3%).
DEFAULT_ABANDON_TARGET = 0.03


class DialMode(enum.StrEnum):
    PREVIEW = "preview"
    PROGRESSIVE = "progressive"
    PREDICTIVE = "predictive"


class CampaignStatus(enum.StrEnum):
    ENABLED = "enabled"
    DISABLED = "disabled"


class CallerIdStrategy(enum.StrEnum):
    """Which caller ID a call presents when its contact names none."""

    FIXED = "fixed"  # the campaign's caller_id
    ROTATION = "rotation"  # the pool's least recently used number
    LOCAL = "local"  # the pool's number of the callee's country and area, else the default


class OwnCallerIdCheck(enum.StrEnum):
    """What a contact's own caller ID must be (engine/caller_ids.py presents it first)."""

    OFF = "off"  # anything up to 32 characters, as before
    VALID = "valid"  # a valid E.164 number, not premium-rate, shared-cost or short
    POOL = "pool"  # valid, and one of the campaign's active caller-ID pool numbers


class ResultAction(enum.StrEnum):
    """What a result code does to the contact's number once an agent sets it."""

    RETRY = "retry"
    DONE = "done"
    INVALID_NUMBER = "invalid_number"
    ADD_TO_DNC = "add_to_dnc"
    REVOKE_CONSENT = "revoke_consent"  # the person withdrew consent: revoked, not called again


def _campaign_fk() -> Mapped[int]:
    return mapped_column(BigId, ForeignKey("campaigns.id", ondelete="CASCADE"), index=True)


class Campaign(IdMixin, TimestampMixin, CallingRulesMixin, Base):
    __tablename__ = "campaigns"
    __table_args__ = (
        UniqueConstraint("tenant_id", "name"),
        UniqueConstraint("id", "tenant_id"),  # the contacts' foreign key
    )

    tenant_id: Mapped[int] = tenant_fk()
    name: Mapped[str] = mapped_column(String(200))
    # The Voicenter campaign code is derived from the server secret, this salt and the id
    # (campaigns/codes.py), so no code is stored. A code made before that is kept as its
    # SHA-256 (its salt is null) and still authenticates.
    code_salt: Mapped[str | None] = mapped_column(String(32))
    legacy_code_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    description: Mapped[str | None] = mapped_column(String(1000))
    dial_mode: Mapped[DialMode] = mapped_column(str_enum(DialMode))
    status: Mapped[CampaignStatus] = mapped_column(
        str_enum(CampaignStatus), default=CampaignStatus.DISABLED
    )
    agent_group_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("agent_groups.id", ondelete="SET NULL")
    )
    # Pacing
    abandon_target: Mapped[float] = mapped_column(Float, default=DEFAULT_ABANDON_TARGET)
    pacing_coefficient: Mapped[float | None] = mapped_column(Float)
    monitored_queue: Mapped[int | None] = mapped_column(BigId)
    max_waiting_callers: Mapped[int | None]
    max_parallel_lines: Mapped[int | None]
    preview_seconds: Mapped[int] = mapped_column(Integer, default=5)
    ring_timeout_seconds: Mapped[int] = mapped_column(Integer, default=25)
    amd_enabled: Mapped[bool] = mapped_column(default=False)
    # Ofcom's reasoned estimate of people AMD takes for machines: the detector's measured rate
    # (bench/amd.py) unless the campaign sets its own.
    amd_false_positive_rate: Mapped[float] = mapped_column(
        Float, default=amd_figures.FALSE_POSITIVE_RATE
    )
    abandon_rolling_24h: Mapped[bool] = mapped_column(default=False, server_default=false())
    """Ofcom: the day's abandonment cap counts the rolling 24 h (else the calendar day in the
    campaign's time zone)."""
    record_calls: Mapped[bool] = mapped_column(default=False)
    abandon_announcement_uri: Mapped[str | None] = mapped_column(String(255))
    # Left on an answering machine after its beep (None: hang up on machines).
    machine_message_uri: Mapped[str | None] = mapped_column(String(255))
    caller_id: Mapped[str | None] = mapped_column(String(32))
    caller_id_strategy: Mapped[CallerIdStrategy] = mapped_column(
        str_enum(CallerIdStrategy),
        default=CallerIdStrategy.FIXED,
        server_default=CallerIdStrategy.FIXED.value,
    )
    own_caller_id_check: Mapped[OwnCallerIdCheck] = mapped_column(
        str_enum(OwnCallerIdCheck),
        default=OwnCallerIdCheck.OFF,
        server_default=OwnCallerIdCheck.OFF.value,
    )
    require_consent: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Calling window: the campaign's own hours in its time zone; the callee-local hours
    # (calling_hours_*) are checked in each number's own zone.
    timezone: Mapped[str] = mapped_column(String(64))
    calling_hours_start: Mapped[time] = mapped_column(Time, default=time(9, 0))
    calling_hours_end: Mapped[time] = mapped_column(Time, default=time(20, 0))
    calling_days: Mapped[list[Any]] = mapped_column(JSON, default=lambda: [1, 2, 3, 4, 5, 6])
    begin_at: Mapped[datetime | None]
    end_at: Mapped[datetime | None]
    # Default retry rule for outcomes without their own rule.
    max_tries_per_number: Mapped[int] = mapped_column(Integer, default=3)
    retry_delay_seconds: Mapped[int] = mapped_column(Integer, default=3600)
    language_id: Mapped[int] = mapped_column(Integer, default=1)
    # jtel DiallerCampaigns.UserData: free text for the owner's systems (set by clone).
    user_data: Mapped[str | None] = mapped_column(String(255))
    # Agent console: the call script ({field} placeholders filled from the contact), external
    # pages as [{"name", "url"}] URL templates, and the wrap-up time after which an agent is
    # made ready by themselves (None: they stay in wrap-up until they say ready).
    script: Mapped[str | None] = mapped_column(Text)
    modules: Mapped[list[Any] | None] = mapped_column(JSON)
    wrap_up_seconds: Mapped[int | None] = mapped_column(Integer)


class CampaignMember(Base):
    """An agent allowed to take this campaign's calls."""

    __tablename__ = "campaign_members"

    campaign_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[datetime]


class ContactList(IdMixin, TimestampMixin, Base):
    """mmDial-style list: a named batch of leads inside a campaign."""

    __tablename__ = "contact_lists"
    __table_args__ = (UniqueConstraint("campaign_id", "name"),)

    tenant_id: Mapped[int] = tenant_fk()
    campaign_id: Mapped[int] = _campaign_fk()
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(String(1000))
    active: Mapped[bool] = mapped_column(default=True)


class ResultCode(IdMixin, TimestampMixin, Base):
    __tablename__ = "result_codes"
    __table_args__ = (UniqueConstraint("campaign_id", "code"),)

    tenant_id: Mapped[int] = tenant_fk()
    campaign_id: Mapped[int] = _campaign_fk()
    code: Mapped[str] = mapped_column(String(64))
    text_en: Mapped[str] = mapped_column(String(200))
    text_de: Mapped[str] = mapped_column(String(200))
    type_id: Mapped[int] = mapped_column(Integer, default=1)
    is_success: Mapped[bool] = mapped_column(default=False)
    answering_machine: Mapped[bool] = mapped_column(default=False, server_default=false())
    """The agent reached an answering machine, not a person: pacing counts only people."""
    action: Mapped[ResultAction] = mapped_column(str_enum(ResultAction), default=ResultAction.DONE)
    retry_delay_seconds: Mapped[int | None]
    max_tries: Mapped[int | None]


class RetryRule(IdMixin, Base):
    """How a call outcome (busy, no answer, ...) affects the next try of that number."""

    __tablename__ = "retry_rules"
    __table_args__ = (UniqueConstraint("campaign_id", "outcome"),)

    campaign_id: Mapped[int] = _campaign_fk()
    outcome: Mapped[CallOutcome] = mapped_column(str_enum(CallOutcome))
    retry_delay_seconds: Mapped[int] = mapped_column(Integer, default=3600)
    max_tries: Mapped[int | None]
    mark_invalid: Mapped[bool] = mapped_column(default=False)
    add_to_dnc: Mapped[bool] = mapped_column(default=False)
    done: Mapped[bool] = mapped_column(default=False)


class FormField(IdMixin, Base):
    """An order-form field (mmDial "Auftragsformularfeld") defined per campaign."""

    __tablename__ = "form_fields"
    __table_args__ = (UniqueConstraint("campaign_id", "name"),)

    campaign_id: Mapped[int] = _campaign_fk()
    name: Mapped[str] = mapped_column(String(100))
    label: Mapped[str | None] = mapped_column(String(200))
    field_type: Mapped[str] = mapped_column(String(20), default="text")
    options: Mapped[list[Any] | None] = mapped_column(JSON)
    required: Mapped[bool] = mapped_column(default=False)
    position: Mapped[int] = mapped_column(Integer, default=0)


# The table itself, for plain Core statements (the engine's hot path).
CAMPAIGNS: Table = Campaign.__table__  # type: ignore[assignment]
