"""issue 24: one foreign key per imported row instead of two (contacts) and three (phones)

PostgreSQL checks every foreign key of every new row on its own (a locking look-up of the parent
row); a million-row import made 8 million of those checks and spent most of its time there.

- campaigns: unique (id, tenant_id), the target of the contacts' key;
- contacts: the keys to tenants and campaigns become one key (campaign_id, tenant_id) to
  campaigns (the contact's tenant is its campaign's, now guaranteed); unique
  (id, tenant_id, campaign_id), the target of the phones' key;
- contact_phones: the keys to contacts, tenants and campaigns become one key
  (contact_id, tenant_id, campaign_id) to contacts, ON UPDATE CASCADE: the denormalised copies
  cannot disagree with their contact, and follow it when it moves to another campaign.

Deleting a tenant still deletes its campaigns, their contacts and their numbers (cascades).

Revision ID: 24a5eed00009
Revises: 21ad1a100008
Create Date: 2026-12-06 15:30:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "24a5eed00009"
down_revision: str | None = "21ad1a100008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CASCADE = "CASCADE"


def upgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        batch.create_unique_constraint("uq_campaigns_id_tenant_id", ["id", "tenant_id"])
    with op.batch_alter_table("contacts") as batch:
        batch.drop_constraint("fk_contacts_tenant_id_tenants", type_="foreignkey")
        batch.drop_constraint("fk_contacts_campaign_id_campaigns", type_="foreignkey")
        batch.create_foreign_key(
            "fk_contacts_campaign_id_campaigns",
            "campaigns",
            ["campaign_id", "tenant_id"],
            ["id", "tenant_id"],
            ondelete=CASCADE,
        )
        batch.create_unique_constraint(
            "uq_contacts_id_tenant_id_campaign_id", ["id", "tenant_id", "campaign_id"]
        )
    with op.batch_alter_table("contact_phones") as batch:
        batch.drop_constraint("fk_contact_phones_contact_id_contacts", type_="foreignkey")
        batch.drop_constraint("fk_contact_phones_tenant_id_tenants", type_="foreignkey")
        batch.drop_constraint("fk_contact_phones_campaign_id_campaigns", type_="foreignkey")
        batch.create_foreign_key(
            "fk_contact_phones_contact_id_contacts",
            "contacts",
            ["contact_id", "tenant_id", "campaign_id"],
            ["id", "tenant_id", "campaign_id"],
            ondelete=CASCADE,
            onupdate=CASCADE,
        )


def downgrade() -> None:
    with op.batch_alter_table("contact_phones") as batch:
        batch.drop_constraint("fk_contact_phones_contact_id_contacts", type_="foreignkey")
        batch.create_foreign_key(
            "fk_contact_phones_contact_id_contacts",
            "contacts",
            ["contact_id"],
            ["id"],
            ondelete=CASCADE,
        )
        batch.create_foreign_key(
            "fk_contact_phones_tenant_id_tenants",
            "tenants",
            ["tenant_id"],
            ["id"],
            ondelete=CASCADE,
        )
        batch.create_foreign_key(
            "fk_contact_phones_campaign_id_campaigns",
            "campaigns",
            ["campaign_id"],
            ["id"],
            ondelete=CASCADE,
        )
    with op.batch_alter_table("contacts") as batch:
        batch.drop_constraint("uq_contacts_id_tenant_id_campaign_id", type_="unique")
        batch.drop_constraint("fk_contacts_campaign_id_campaigns", type_="foreignkey")
        batch.create_foreign_key(
            "fk_contacts_campaign_id_campaigns",
            "campaigns",
            ["campaign_id"],
            ["id"],
            ondelete=CASCADE,
        )
        batch.create_foreign_key(
            "fk_contacts_tenant_id_tenants", "tenants", ["tenant_id"], ["id"], ondelete=CASCADE
        )
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_constraint("uq_campaigns_id_tenant_id", type_="unique")
