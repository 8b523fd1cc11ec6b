"""issue 25 caller IDs, holidays, frequency caps, consent and audit (placeholder: the line of work
that owns it fills it in, or leaves it empty)

Revision ID: 25c0a11e0005
Revises: 20aed1a00004
Create Date: 2026-12-06 12:45:00.000000
"""

from collections.abc import Sequence

revision: str = "25c0a11e0005"
down_revision: str | None = "20aed1a00004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
