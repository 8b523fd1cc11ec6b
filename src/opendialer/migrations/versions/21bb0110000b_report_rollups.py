"""issue 21 report rollups: closed attempts and agent state seconds per quarter hour, the
per-tenant watermark they are complete up to, and each agent's state at that watermark

Revision ID: 21bb0110000b
Revises: 22b0f0e0000a
Create Date: 2026-12-06 18:40:00.000000
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from opendialer.models.base import BigId, UTCDateTime

revision: str = "21bb0110000b"
down_revision: str | None = "22b0f0e0000a"
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


def _state_columns(table: str) -> list[Any]:
    return [
        sa.Column("tenant_id", BigId, nullable=False),
        sa.Column("user_id", BigId, nullable=False),
        sa.Column("state", AGENT_STATE, nullable=False),
        sa.Column("pause_reason", sa.String(100), nullable=True),
        sa.Column("campaign_id", BigId, nullable=True),
        _fk(table, "tenant_id", "tenants", "CASCADE"),
        _fk(table, "user_id", "users", "CASCADE"),
        _fk(table, "campaign_id", "campaigns", "SET NULL"),
    ]


def upgrade() -> None:
    op.create_table(
        "report_watermarks",
        sa.Column("tenant_id", BigId, nullable=False),
        sa.Column("rolled_until", UTCDateTime(), nullable=False),
        _fk("report_watermarks", "tenant_id", "tenants", "CASCADE"),
        sa.PrimaryKeyConstraint("tenant_id", name="pk_report_watermarks"),
    )
    counts = ("attempts", "live", "machines", "abandoned", "connects", "outside_hours")
    op.create_table(
        "attempt_quarters",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("tenant_id", BigId, nullable=False),
        sa.Column("campaign_id", BigId, nullable=False),
        sa.Column("user_id", BigId, nullable=True),
        sa.Column("quarter", UTCDateTime(), nullable=False),
        *[sa.Column(name, sa.Integer(), nullable=False) for name in counts],
        _fk("attempt_quarters", "tenant_id", "tenants", "CASCADE"),
        _fk("attempt_quarters", "campaign_id", "campaigns", "CASCADE"),
        _fk("attempt_quarters", "user_id", "users", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name="pk_attempt_quarters"),
    )
    op.create_index(
        "ix_attempt_quarters_tenant_quarter", "attempt_quarters", ["tenant_id", "quarter"]
    )
    op.create_table(
        "agent_state_quarters",
        sa.Column("id", BigId, primary_key=True),
        *_state_columns("agent_state_quarters"),
        sa.Column("quarter", UTCDateTime(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_agent_state_quarters"),
    )
    op.create_index(
        "ix_agent_state_quarters_tenant_quarter", "agent_state_quarters", ["tenant_id", "quarter"]
    )
    op.create_table(
        "agent_state_marks",
        *_state_columns("agent_state_marks"),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name="pk_agent_state_marks"),
    )
    op.create_index("ix_agent_state_marks_tenant_id", "agent_state_marks", ["tenant_id"])


def downgrade() -> None:
    op.drop_table("agent_state_marks")
    op.drop_table("agent_state_quarters")
    op.drop_table("attempt_quarters")
    op.drop_table("report_watermarks")
