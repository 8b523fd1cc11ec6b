"""Declarative base, shared column types and mixins."""

import enum
from collections.abc import Callable
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
        return None if value is None else _naive_utc(value)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)

    # On SQLite the decorator's step and DATETIME's text conversion are one function each way
    # (every statement of the engine binds a few times, and each step is a Python call): the
    # same text, the same values (tests/models/test_base.py compares them with the composed
    # pair). PostgreSQL's driver takes and gives datetimes: the decorator's steps alone.

    def bind_processor(self, dialect: Dialect) -> Callable[[datetime | None], Any] | None:
        if not _sqlite_text(dialect):
            return super().bind_processor(dialect)
        return _to_sqlite_text

    def result_processor(
        self, dialect: Dialect, coltype: object
    ) -> Callable[[Any], datetime | None] | None:
        if not _sqlite_text(dialect):
            return super().result_processor(dialect, coltype)
        return _from_sqlite_text


def _sqlite_text(dialect: Dialect) -> bool:
    """SQLite with its DATETIME stored as text (unless the engine asked for native datetimes)."""
    return dialect.name == "sqlite" and not getattr(dialect, "native_datetime", False)


def _naive_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("naive datetime given where an aware one is required")
    return value.astimezone(UTC).replace(tzinfo=None)


def _to_sqlite_text(value: datetime | None) -> str | None:
    """``process_bind_param``, then DATETIME's default storage format (year to microsecond)."""
    return None if value is None else _naive_utc(value).isoformat(" ", "microseconds")


def _from_sqlite_text(value: str | None) -> datetime | None:
    """DATETIME's text parsed (``datetime.fromisoformat``, as SQLAlchemy does), then
    ``process_result_value``."""
    return None if value is None else datetime.fromisoformat(value).replace(tzinfo=UTC)


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
