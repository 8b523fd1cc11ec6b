"""issue 18/19: API keys carry a role (existing keys stay admin)

Revision ID: 18b0a5e00003
Revises: 19c0501e0002
Create Date: 2026-12-06 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "18b0a5e00003"
down_revision: str | None = "19c0501e0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ROLE = sa.Enum("admin", "supervisor", "agent", name="userrole", native_enum=False, length=32)


def upgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("role", _ROLE, nullable=False, server_default="admin"))


def downgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("role")
