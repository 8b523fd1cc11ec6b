"""Declarative base, shared column types and mixins."""

import enum
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Dialect,
    Enum,
    ForeignKey,
    Integer,
    MetaData,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only auto-increments an "INTEGER PRIMARY KEY"; PostgreSQL gets 64-bit ids.
BigId = BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores naive UTC, returns aware UTC, on every database."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where an aware one is required")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


def str_enum(enum_cls: type[enum.StrEnum]) -> Enum:
    """Enums stored as plain strings with a CHECK constraint: easy to migrate on both databases."""
    return Enum(
        enum_cls,
        native_enum=False,
        length=32,
        values_callable=lambda cls: [m.value for m in cls],
        validate_strings=True,
        name=enum_cls.__name__.lower(),
    )


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON(), list[Any]: JSON()}


class IdMixin:
    id: Mapped[int] = mapped_column(BigId, primary_key=True)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class CallingRulesMixin:
    """What a campaign and its tenant both keep (engine/compliance.py): public holidays kept
    ("DE", "US-CA") in the callee's region, closed dates ("2026-12-24"), and frequency caps over
    a rolling window, counted across the tenant's campaigns. The tenant's hold for every
    campaign besides the campaign's own: days off add up, and each cap holds."""

    holiday_calendars: Mapped[list[Any]] = mapped_column(
        JSON, default=list, server_default=text("'[]'")
    )
    closed_dates: Mapped[list[Any]] = mapped_column(JSON, default=list, server_default=text("'[]'"))
    max_attempts_per_number: Mapped[int | None]
    max_attempts_per_contact: Mapped[int | None]
    max_conversations: Mapped[int | None]
    cap_window_hours: Mapped[int] = mapped_column(Integer, default=168, server_default="168")


def tenant_fk(*, index: bool = True) -> Mapped[int]:
    """The owning tenant; ``index=False`` where a composite index already starts with it."""
    return mapped_column(BigId, ForeignKey("tenants.id", ondelete="CASCADE"), index=index)
