"""duplicate guards: a user's Voicenter member code is unique in its tenant

The other things simultaneous requests could create twice are guarded without a schema change:
campaign and group members and do-not-call entries already have unique keys (the services now
insert them with ON CONFLICT DO NOTHING), and contacts, whose duplicate rules depend on each
request's options, are created under a lock (``opendialer.dedupe.exclusive``).

Existing data: where several users of a tenant share a member code, the oldest user (lowest
id) keeps it and the others' member code is cleared (they still answer to their extension or
username in Voicenter's member methods). Downgrading drops the index and restores nothing.

Revision ID: 17b0d0b1e002
Revises: 17a1ea5e0001
Create Date: 2026-12-06 09:15:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "17b0d0b1e002"
down_revision: str | None = "17a1ea5e0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "uq_users_tenant_member_code"
SET = sa.text("member_code IS NOT NULL")
KEEP_OLDEST = sa.text(
    "UPDATE users SET member_code = NULL WHERE member_code IS NOT NULL AND EXISTS"
    " (SELECT 1 FROM users AS older WHERE older.tenant_id = users.tenant_id"
    " AND older.member_code = users.member_code AND older.id < users.id)"
)


def upgrade() -> None:
    op.execute(KEEP_OLDEST)
    op.create_index(
        INDEX,
        "users",
        ["tenant_id", "member_code"],
        unique=True,
        sqlite_where=SET,
        postgresql_where=SET,
    )


def downgrade() -> None:
    op.drop_index(INDEX, table_name="users")
