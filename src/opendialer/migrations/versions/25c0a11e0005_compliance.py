"""issue 25 caller IDs, holidays, frequency caps, consent and audit (placeholder: the line of work
that owns it fills it in, or leaves it empty)

Revision ID: 25c0a11e0005
Revises: 20aed1a00004
Create Date: 2026-12-06 12:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from opendialer.models.base import BigId, UTCDateTime

revision: str = "25c0a11e0005"
down_revision: str | None = "20aed1a00004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CALLER_ID_STRATEGY = sa.Enum(
    "fixed", "rotation", "local", native_enum=False, length=32, name="calleridstrategy"
)


def _campaign_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("caller_id_strategy", CALLER_ID_STRATEGY, nullable=False, server_default="fixed"),
        sa.Column("holiday_calendars", sa.JSON(), nullable=False, server_default=sa.text("'[]'")),
        sa.Column("closed_dates", sa.JSON(), nullable=False, server_default=sa.text("'[]'")),
        sa.Column("max_attempts_per_number", sa.Integer(), nullable=True),
        sa.Column("max_attempts_per_contact", sa.Integer(), nullable=True),
        sa.Column("max_conversations", sa.Integer(), nullable=True),
        sa.Column("cap_window_hours", sa.Integer(), nullable=False, server_default="168"),
        sa.Column("require_consent", sa.Boolean(), nullable=False, server_default=sa.false()),
    ]


def _owned_table(name: str, parent: str, *columns: sa.Column[object]) -> None:
    """A table with an id, its tenant and its parent (contacts or campaigns), both cascading."""
    parent_column = parent.removesuffix("s") + "_id"
    op.create_table(
        name,
        sa.Column("id", BigId, primary_key=True),
        sa.Column("tenant_id", BigId, nullable=False),
        sa.Column(parent_column, BigId, nullable=False),
        *columns,
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=f"fk_{name}_tenant_id_tenants", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            [parent_column],
            [f"{parent}.id"],
            name=f"fk_{name}_{parent_column}_{parent}",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=f"pk_{name}"),
    )
    op.create_index(f"ix_{name}_tenant_id", name, ["tenant_id"])


def _create_caller_ids() -> None:
    _owned_table(
        "caller_id_numbers",
        "campaigns",
        sa.Column("e164", sa.String(20), nullable=False),
        sa.Column("retired_at", UTCDateTime(), nullable=True),
        sa.Column("last_used_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("campaign_id", "e164", name="uq_caller_id_numbers_campaign_id_e164"),
    )
    op.create_index("ix_caller_id_numbers_campaign_id", "caller_id_numbers", ["campaign_id"])


def _create_consents() -> None:
    _owned_table(
        "consents",
        "contacts",
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("source", sa.String(100), nullable=False),
        sa.Column("given_at", UTCDateTime(), nullable=False),
        sa.Column("text", sa.String(2000), nullable=True),
        sa.Column("reference", sa.String(255), nullable=True),
        sa.Column("expires_at", UTCDateTime(), nullable=True),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_consents_contact_id", "consents", ["contact_id", "channel"])


HOLD_REASON = sa.Enum(
    "number_cap",
    "contact_cap",
    "conversation_cap",
    "no_consent",
    native_enum=False,
    length=32,
    name="holdreason",
)


def _create_holds() -> None:
    _owned_table(
        "contact_holds",
        "contacts",
        sa.Column("e164", sa.String(20), nullable=True),
        sa.Column("reason", HOLD_REASON, nullable=False),
        sa.Column("until", UTCDateTime(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_contact_holds_contact_id", "contact_holds", ["contact_id", "created_at"])


def upgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        for column in _campaign_columns():
            batch.add_column(column)
    with op.batch_alter_table("dnc_entries") as batch:
        batch.add_column(sa.Column("expires_at", UTCDateTime(), nullable=True))
    op.create_index(
        "ix_call_attempts_tenant_number_started",
        "call_attempts",
        ["tenant_id", "b_number", "started_at"],
    )
    _create_caller_ids()
    _create_consents()
    _create_holds()


def downgrade() -> None:
    op.drop_table("contact_holds")
    op.drop_table("consents")
    op.drop_table("caller_id_numbers")
    op.drop_index("ix_call_attempts_tenant_number_started", table_name="call_attempts")
    with op.batch_alter_table("dnc_entries") as batch:
        batch.drop_column("expires_at")
    with op.batch_alter_table("campaigns") as batch:
        for column in reversed(_campaign_columns()):
            batch.drop_column(column.name)
