"""contacts: drop the tenant_id index the composite indexes cover

Every contact insert paid for an index that ix_contacts_tenant_user_data and
ix_contacts_tenant_external_id, which both start with tenant_id, already provide.

Revision ID: 890cf945e288
Revises: e04228fc0053
Create Date: 2026-11-23 05:30:46.306764
"""

from collections.abc import Sequence

from alembic import op

revision: str = "890cf945e288"
down_revision: str | None = "e04228fc0053"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_contacts_tenant_id", table_name="contacts")


def downgrade() -> None:
    op.create_index("ix_contacts_tenant_id", "contacts", ["tenant_id"])
