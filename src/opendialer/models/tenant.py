"""Tenants (accounts), their API keys and their users (admins, supervisors, agents)."""

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Table, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from opendialer.models.base import (
    Base,
    BigId,
    CallingRulesMixin,
    IdMixin,
    TimestampMixin,
    str_enum,
    tenant_fk,
)


class Tenant(IdMixin, TimestampMixin, CallingRulesMixin, Base):
    __tablename__ = "tenants"

    name: Mapped[str] = mapped_column(String(200))
    # Voicenter's account "Code" (authenticates GetCampaignList only): its SHA-256, like API keys.
    account_code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    default_region: Mapped[str] = mapped_column(String(2))
    timezone: Mapped[str] = mapped_column(String(64))
    # MiniCRM-style call-log key, kept apart from the API keys; stored hashed.
    calllog_key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    calllog_allowed_ips: Mapped[list[Any]] = mapped_column(JSON, default=list)
    # Signed links (recordings, exports) use a key derived from this; +1 voids all older links.
    link_key_generation: Mapped[int] = mapped_column(default=0, server_default="0")
    # Reasons an agent may give for a pause (agent console); None: the built-in list.
    pause_reasons: Mapped[list[Any] | None] = mapped_column(JSON)
    # Scheduled DNC import (dnc/schedule.py): the file that replaces the tenant-wide list.
    dnc_import_path: Mapped[str | None] = mapped_column(String(1000))
    dnc_import_every_minutes: Mapped[int | None]
    dnc_import_last_at: Mapped[datetime | None]
    dnc_import_last_result: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class UserRole(enum.StrEnum):
    ADMIN = "admin"
    SUPERVISOR = "supervisor"
    AGENT = "agent"


class ApiKey(IdMixin, Base):
    __tablename__ = "api_keys"

    tenant_id: Mapped[int] = tenant_fk()
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    role: Mapped[UserRole] = mapped_column(
        str_enum(UserRole), default=UserRole.ADMIN, server_default=UserRole.ADMIN.value
    )


class User(IdMixin, TimestampMixin, Base):
    """A person who signs in; agents also carry the fields the telephony side needs."""

    __tablename__ = "users"
    __table_args__ = (
        UniqueConstraint("tenant_id", "username"),
        UniqueConstraint("tenant_id", "extension"),
        Index(
            "uq_users_tenant_member_code",
            "tenant_id",
            "member_code",
            unique=True,
            sqlite_where=text("member_code IS NOT NULL"),
            postgresql_where=text("member_code IS NOT NULL"),
        ),
    )

    tenant_id: Mapped[int] = tenant_fk()
    username: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str | None] = mapped_column(String(200))
    role: Mapped[UserRole] = mapped_column(str_enum(UserRole), default=UserRole.AGENT)
    display_name: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(200))
    extension: Mapped[str | None] = mapped_column(String(50))
    sip_uri: Mapped[str | None] = mapped_column(String(255))
    # Voicenter "Member" code (the agent's SIP user); unique per tenant when set.
    member_code: Mapped[str | None] = mapped_column(String(100))
    active: Mapped[bool] = mapped_column(default=True)


class AgentGroup(IdMixin, TimestampMixin, Base):
    """An ACD / agent group: routes ACD events and serves campaigns."""

    __tablename__ = "agent_groups"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    tenant_id: Mapped[int] = tenant_fk()
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(String(1000))
    # jtel: creating an ACD event that duplicates an open one answers with the existing event.
    no_duplicate_events: Mapped[bool] = mapped_column(default=False)


class AgentGroupMember(Base):
    __tablename__ = "agent_group_members"

    group_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("agent_groups.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class AuthFailure(IdMixin, Base):
    """One failed credential check (audit): never the secret, only a name or a short prefix."""

    __tablename__ = "auth_failures"

    occurred_at: Mapped[datetime] = mapped_column(index=True)
    face: Mapped[str] = mapped_column(String(20))
    credential: Mapped[str] = mapped_column(String(100))
    address: Mapped[str | None] = mapped_column(String(64))
    locked: Mapped[bool] = mapped_column(default=False)


class LoginSession(IdMixin, Base):
    """A person signed in through the login page or the token endpoint.

    Only the SHA-256 of the token is stored; the CSRF token guards every state-changing request
    made with the session cookie. A session unused for ``login_idle_minutes`` has expired.
    """

    __tablename__ = "login_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    tenant_id: Mapped[int] = tenant_fk()
    user_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]

    user: Mapped[User] = relationship(lazy="joined")


TENANTS: Table = Tenant.__table__  # type: ignore[assignment]
