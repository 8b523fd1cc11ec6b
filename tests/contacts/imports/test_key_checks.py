"""The import's COPY without per-row foreign-key checks (PostgreSQL, session 15): the campaign
is locked as the checks would lock it, the new rows keep their keys by construction, a role that
may not skip the checks imports the same rows through the checked COPY, and the checks are back
on for everything after the COPY."""

import logging
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from opendialer.accounts.service import NewTenant
from opendialer.contacts.imports.importer import import_contacts
from opendialer.contacts.imports.schemas import (
    ImportFormat,
    ImportOptions,
    ImportReport,
    Outcome,
)
from opendialer.db import SessionMaker, is_sqlite, unit_of_work
from opendialer.models import Campaign
from tests.contacts.imports.test_importer import HEADER, new_campaign

ROWS = "".join(f"Muster;Anna;030 {1000000 + i};;{i}\n" for i in range(30)) + "Leer;Bob;abc;;x\n"
FILE = HEADER + ROWS + "Muster;Anna;030 1000000;;dup\n"
ORPHAN_CONTACTS = """
    SELECT count(*) FROM contacts c
    LEFT JOIN campaigns k ON k.id = c.campaign_id AND k.tenant_id = c.tenant_id
    WHERE k.id IS NULL"""
ORPHAN_PHONES = """
    SELECT count(*) FROM contact_phones p
    LEFT JOIN contacts c
      ON c.id = p.contact_id AND c.tenant_id = p.tenant_id AND c.campaign_id = p.campaign_id
    WHERE c.id IS NULL"""
STORED = """
    SELECT c.user_data, c.tenant_id, p.position, p.raw, p.e164, p.invalid
    FROM contacts c JOIN contact_phones p ON p.contact_id = c.id
    WHERE c.campaign_id = :campaign ORDER BY c.user_data, p.position"""


@pytest.fixture(autouse=True)
def _postgresql_only(database_url: str) -> None:
    if is_sqlite(database_url):
        pytest.skip("PostgreSQL's foreign-key checks")


@pytest.fixture
def campaign_id(sessions: SessionMaker, tenant: NewTenant) -> int:
    return new_campaign(sessions, tenant.tenant.id, "Spring")


def _import(session: Session, campaign_id: int, tmp_path: Path) -> ImportReport:
    path = tmp_path / "import.csv"
    path.write_text(FILE)
    with path.open("rb") as file:
        campaign = session.get_one(Campaign, campaign_id)
        options = ImportOptions(mapping={"Tel": "phone1", "UserData": "user_data"})
        return import_contacts(session, campaign, file, options, ImportFormat.CSV)


def _stored(session: Session, campaign_id: int) -> list[tuple[object, ...]]:
    rows = session.execute(text(STORED), {"campaign": campaign_id})
    return [tuple(row) for row in rows]


def test_the_unchecked_copy_keeps_every_key(
    sessions: SessionMaker,
    campaign_id: int,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, "opendialer.contacts.imports.writer")
    with unit_of_work(sessions) as session:
        report = _import(session, campaign_id, tmp_path)
    assert "key checks skipped" in caplog.text
    assert report.counts[Outcome.IMPORTED] == 30
    with sessions() as session:
        assert session.scalar(text(ORPHAN_CONTACTS)) == 0
        assert session.scalar(text(ORPHAN_PHONES)) == 0
        assert len(_stored(session, campaign_id)) == 30


def test_the_campaign_cannot_be_deleted_until_the_import_commits(
    sessions: SessionMaker, campaign_id: int, tmp_path: Path
) -> None:
    delete = text("DELETE FROM campaigns WHERE id = :id")
    with unit_of_work(sessions) as session:
        _import(session, campaign_id, tmp_path)
        with sessions() as other, pytest.raises(OperationalError, match="lock timeout"):
            other.execute(text("SET LOCAL lock_timeout = '200ms'"))
            other.execute(delete, {"id": campaign_id})
    with unit_of_work(sessions) as other:  # committed: now it goes, and takes the rows along
        other.execute(delete, {"id": campaign_id})
    with sessions() as session:
        assert session.scalar(text("SELECT count(*) FROM contacts")) == 0
        assert session.scalar(text("SELECT count(*) FROM contact_phones")) == 0


@pytest.fixture
def plain_role(sessions: SessionMaker) -> Iterator[str]:
    """A role that may write the tables but not set ``session_replication_role``."""
    name = f"imp_plain_{uuid.uuid4().hex[:8]}"
    with unit_of_work(sessions) as session:
        session.execute(text(f"CREATE ROLE {name}"))
        session.execute(text(f"GRANT ALL ON ALL TABLES IN SCHEMA public TO {name}"))
        session.execute(text(f"GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO {name}"))
    yield name
    with unit_of_work(sessions) as session:
        session.execute(text(f"DROP OWNED BY {name}"))
        session.execute(text(f"DROP ROLE {name}"))


def test_a_role_that_may_not_skip_the_checks_imports_the_same_rows_checked(
    sessions: SessionMaker,
    tenant: NewTenant,
    campaign_id: int,
    plain_role: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, "opendialer.contacts.imports.writer")
    checked = new_campaign(sessions, tenant.tenant.id, "Checked")
    with unit_of_work(sessions) as session:
        fast = _import(session, campaign_id, tmp_path)
    assert "key checks skipped" in caplog.text
    caplog.clear()
    with unit_of_work(sessions) as session:
        session.execute(text(f"SET LOCAL ROLE {plain_role}"))
        assert session.scalar(text("SELECT current_user")) == plain_role
        slow = _import(session, checked, tmp_path)
    assert "foreign keys checked row by row" in caplog.text
    assert "key checks skipped" not in caplog.text
    assert slow.counts == fast.counts
    assert list(slow.issues) == list(fast.issues)
    with sessions() as session:
        assert _stored(session, checked) == _stored(session, campaign_id)
        assert len(_stored(session, checked)) == 30


def test_the_checks_are_back_on_after_the_copy(
    sessions: SessionMaker, tenant: NewTenant, campaign_id: int, tmp_path: Path
) -> None:
    autumn = new_campaign(sessions, tenant.tenant.id, "Autumn")
    move = "UPDATE contacts SET campaign_id = :to WHERE campaign_id = :from"
    numbers = "SELECT count(*) FROM contact_phones WHERE campaign_id = :id"
    with unit_of_work(sessions) as session:
        _import(session, campaign_id, tmp_path)
        assert session.scalar(text("SHOW session_replication_role")) == "origin"
        session.execute(text(move), {"to": autumn, "from": campaign_id})
        assert session.scalar(text(numbers), {"id": autumn}) == 30  # the cascade fired
        assert session.scalar(text(numbers), {"id": campaign_id}) == 0
        with pytest.raises(IntegrityError, match="foreign key"), session.begin_nested():
            session.execute(text(move), {"to": campaign_id + 1000, "from": autumn})
