"""Changes made through the command line are audited: face ``cli``, the operating-system user
as the actor; every command is audited or reviewed as changing nothing worth a row."""

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from sqlalchemy import select
from typer.testing import CliRunner

from opendialer.accounts.service import NewTenant
from opendialer.audit.context import AUDITED_MARK, os_user
from opendialer.cli import app
from opendialer.config import get_settings
from opendialer.db import SessionMaker, unit_of_work
from opendialer.models import AuditEntry, DncEntry
from tests.factories import make_campaign

runner = CliRunner()

# Commands that write no audited change, and why.
REVIEWED = {
    "serve": "serves: the requests it answers are audited by their faces",
    "demo": "a demo database of simulated data",
    "simulate": "simulates in a scratch database",
    "housekeeping": "retention and the operator's schedules; the DNC schedule audits itself",
    "db upgrade": "the schema, not its data",
    "db downgrade": "the schema, not its data",
    "db current": "reads",
    "db history": "reads",
}


@pytest.fixture
def cli_database(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("OPENDIALER_DATABASE_URL", database_url)
    get_settings.cache_clear()
    yield database_url
    get_settings.cache_clear()


def _trail(sessions: SessionMaker) -> list[AuditEntry]:
    with unit_of_work(sessions) as session:
        rows = session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
        session.expunge_all()
        return list(rows)


def _commands(group: typer.Typer, prefix: str = "") -> Iterator[tuple[str, object]]:
    """Each command's name and the function it runs, as registered with Typer."""
    for info in group.registered_commands:
        callback = info.callback
        assert callback is not None
        yield f"{prefix}{info.name or callback.__name__}", callback
    for sub in group.registered_groups:
        assert sub.typer_instance is not None
        yield from _commands(sub.typer_instance, f"{prefix}{sub.name} ")


def test_every_command_is_audited_or_reviewed() -> None:
    commands = dict(_commands(app))
    audited = {name for name, callback in commands.items() if getattr(callback, AUDITED_MARK, 0)}
    assert {"tenant create", "import", "dnc replace"} <= audited
    assert audited.isdisjoint(REVIEWED)
    assert set(commands) == audited | set(REVIEWED)


def test_tenant_create_names_the_os_user(cli_database: str, sessions: SessionMaker) -> None:
    result = runner.invoke(app, ["tenant", "create", "--name", "Acme", "--json"])
    assert result.exit_code == 0, result.output
    tenant_id = json.loads(result.stdout)["tenant_id"]
    rows = _trail(sessions)
    assert {(r.face, r.credential, r.tenant_id) for r in rows} == {("cli", os_user(), tenant_id)}
    assert {(r.entity, r.action) for r in rows} >= {
        ("tenants", "create"),
        ("api_keys", "create"),
        ("users", "create"),
    }


def test_an_import_is_one_row_naming_the_os_user(
    cli_database: str, sessions: SessionMaker, tenant: NewTenant, tmp_path: Path
) -> None:
    with unit_of_work(sessions) as session:
        make_campaign(session, tenant.tenant.id, "Spring")
    leads = tmp_path / "leads.csv"
    leads.write_text("name,phone1\nMüller,030 1234567\nWeber,030 7654321\n")
    args = ["import", str(leads), "--campaign", "Spring", "--tenant", str(tenant.tenant.id)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    [row] = _trail(sessions)
    assert (row.face, row.credential, row.tenant_id, row.action) == (
        "cli",
        os_user(),
        tenant.tenant.id,
        "import",
    )
    assert row.changes["outcomes"]["imported"] == 2


def test_dnc_replace_from_a_file(
    cli_database: str, sessions: SessionMaker, tenant: NewTenant, tmp_path: Path
) -> None:
    numbers = tmp_path / "dnc.csv"
    numbers.write_text("number,note\n030 1234567,x\n# a comment\n\n+49 30 7654321\nnone\n")
    args = ["dnc", "replace", str(numbers), "--tenant", str(tenant.tenant.id)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    outcome = json.loads(result.stdout)
    assert outcome["counts"]["added"] == 2
    assert outcome["invalid_lines"] == [1, 6]
    with unit_of_work(sessions) as session:
        listed = set(session.scalars(select(DncEntry.e164)))
    assert listed == {"+49301234567", "+49307654321"}
    [row] = _trail(sessions)
    assert (row.face, row.credential, row.action) == ("cli", os_user(), "replace")
    empty = tmp_path / "empty.csv"
    empty.write_text("number\nnone\n")
    refused = runner.invoke(app, ["dnc", "replace", str(empty), "--tenant", str(tenant.tenant.id)])
    assert refused.exit_code == 1
    assert "the list is unchanged" in refused.output
    with unit_of_work(sessions) as session:
        assert set(session.scalars(select(DncEntry.e164))) == listed
