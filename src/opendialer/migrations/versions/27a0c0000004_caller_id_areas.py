"""issue 25: a caller-ID pool number keeps its area (country and area, from phonenumbers), so
that local presence picks and marks the number in one statement

Revision ID: 27a0c0000004
Revises: 27a0c0000001
Create Date: 2026-12-07 02:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from opendialer.phones import area_key

revision: str = "27a0c0000004"
down_revision: str | None = "27a0c0000001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("caller_id_numbers") as batch:
        batch.add_column(sa.Column("area", sa.String(200), nullable=True))
    pool = sa.table("caller_id_numbers", sa.column("id"), sa.column("e164"), sa.column("area"))
    connection = op.get_bind()
    for number_id, e164 in connection.execute(sa.select(pool.c.id, pool.c.e164)).all():
        connection.execute(pool.update().where(pool.c.id == number_id).values(area=area_key(e164)))


def downgrade() -> None:
    with op.batch_alter_table("caller_id_numbers") as batch:
        batch.drop_column("area")
