"""issue 24/26 simulation: the dial queue sorted by priority again on SQLite; an index of due
personal callbacks

``24a5eed00009`` rebuilt ``contacts`` in batch mode on SQLite, which copies its indexes from
reflection, and SQLite's reflection does not report a column's sort order: the dial queue index
came back as ``(campaign_id, priority, next_try_at, id)``. Every claim (``ORDER BY priority
DESC, next_try_at, id``) then sorted all due contacts of the campaign: about 90 ms a claim with
20,000 contacts instead of well under 1 ms. PostgreSQL altered the table in place and kept it.

Personal callbacks were looked for by scanning the due contacts for a ``reserved_user_id``; a
partial index of the pending, unlocked ones with an agent makes that a look-up.

Revision ID: 26bb51a00010
Revises: 25bad170000c
Create Date: 2026-12-06 18:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "26bb51a00010"
down_revision: str | None = "25bad170000c"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DIAL_QUEUE_WHERE = sa.text("status = 'pending' AND NOT locked")
CALLBACKS_WHERE = sa.text("reserved_user_id IS NOT NULL AND status = 'pending' AND NOT locked")


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.drop_index("ix_contacts_dial_queue", table_name="contacts")
        op.create_index(
            "ix_contacts_dial_queue",
            "contacts",
            ["campaign_id", sa.literal_column("priority DESC"), "next_try_at", "id"],
            sqlite_where=DIAL_QUEUE_WHERE,
        )
    op.create_index(
        "ix_contacts_personal_callbacks",
        "contacts",
        ["campaign_id", "next_try_at"],
        sqlite_where=CALLBACKS_WHERE,
        postgresql_where=CALLBACKS_WHERE,
    )


def downgrade() -> None:
    op.drop_index("ix_contacts_personal_callbacks", table_name="contacts")
    # The dial queue keeps its sort order: the older revisions meant it so.
