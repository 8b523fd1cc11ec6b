"""issue 17/24 throughput and import (placeholder: the line of work that owns it fills it in, or leaves it empty)

Revision ID: 24bb5eed000f
Revises: 19bb0c0e000e
Create Date: 2026-12-06 18:40:00.000000
"""

from collections.abc import Sequence

revision: str = "24bb5eed000f"
down_revision: str | None = "19bb0c0e000e"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
