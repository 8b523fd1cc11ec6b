"""issue 21 wallboard and reports: agent state history, DNC refusals, attempts by tenant and time

Revision ID: 21aa11b00007
Revises: 23aca1e00006
Create Date: 2026-12-06 15:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from opendialer.models.base import BigId, UTCDateTime

revision: str = "21aa11b00007"
down_revision: str | None = "23aca1e00006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AGENT_STATE = sa.Enum(
    "logged_out",
    "ready",
    "reserved",
    "preview",
    "on_call",
    "wrap_up",
    "paused",
    native_enum=False,
    length=32,
    name="agentstate",
)


def _fk(table: str, column: str, parent: str, ondelete: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{parent}.id"], name=f"fk_{table}_{column}_{parent}", ondelete=ondelete
    )


def upgrade() -> None:
    op.create_table(
        "agent_state_changes",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("tenant_id", BigId, nullable=False),
        sa.Column("user_id", BigId, nullable=False),
        sa.Column("state", AGENT_STATE, nullable=False),
        sa.Column("pause_reason", sa.String(100), nullable=True),
        sa.Column("campaign_id", BigId, nullable=True),
        sa.Column("at", UTCDateTime(), nullable=False),
        _fk("agent_state_changes", "tenant_id", "tenants", "CASCADE"),
        _fk("agent_state_changes", "user_id", "users", "CASCADE"),
        _fk("agent_state_changes", "campaign_id", "campaigns", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name="pk_agent_state_changes"),
    )
    op.create_index("ix_agent_state_changes_tenant_at", "agent_state_changes", ["tenant_id", "at"])
    op.create_index("ix_agent_state_changes_user_at", "agent_state_changes", ["user_id", "at"])
    op.create_table(
        "dnc_refusals",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("tenant_id", BigId, nullable=False),
        sa.Column("campaign_id", BigId, nullable=True),
        sa.Column("contact_id", BigId, nullable=True),
        sa.Column("e164", sa.String(32), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        _fk("dnc_refusals", "tenant_id", "tenants", "CASCADE"),
        _fk("dnc_refusals", "campaign_id", "campaigns", "SET NULL"),
        _fk("dnc_refusals", "contact_id", "contacts", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name="pk_dnc_refusals"),
    )
    op.create_index("ix_dnc_refusals_tenant_at", "dnc_refusals", ["tenant_id", "at"])
    op.create_index("ix_call_attempts_tenant_started", "call_attempts", ["tenant_id", "started_at"])


def downgrade() -> None:
    op.drop_index("ix_call_attempts_tenant_started", table_name="call_attempts")
    op.drop_table("dnc_refusals")
    op.drop_table("agent_state_changes")
