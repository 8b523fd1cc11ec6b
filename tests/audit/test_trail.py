"""The audit trail: a change through each face writes who, when, through which face and what
changed; the engine's own work writes nothing; the trail cannot be changed."""

import base64
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import delete, event, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from opendialer.accounts.service import NewTenant
from opendialer.audit.context import acting_through, bulk_run
from opendialer.audit.recorder import AUDITED, NOT_AUDITED, TrailIsReadOnly, insert_named
from opendialer.audit.service import purge_expired
from opendialer.campaigns.codes import CodeKey
from opendialer.config import Settings
from opendialer.db import SessionMaker, unit_of_work
from opendialer.engine.selection import claim_next
from opendialer.models import ApiKey, AuditEntry, Base, Campaign, LoginSession, User, UserRole
from opendialer.models.contact import CONTACTS
from tests.console.browser import form_login, make_agent
from tests.engine.helpers import NOW
from tests.factories import make_campaign, make_contact


def _trail(api: TestClient, **filters: Any) -> list[dict[str, Any]]:
    response = api.get("/api/v1/audit", params=filters)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def _admin_id(sessions: SessionMaker, tenant: NewTenant) -> int:
    with unit_of_work(sessions) as session:
        stmt = select(User.id).where(User.tenant_id == tenant.tenant.id, User.username == "admin")
        return session.scalars(stmt).one()


def _key_id(sessions: SessionMaker, tenant: NewTenant) -> int:
    with unit_of_work(sessions) as session:
        return session.scalars(select(ApiKey.id).where(ApiKey.tenant_id == tenant.tenant.id)).one()


def test_every_table_is_audited_or_reviewed_as_not_configuration() -> None:
    tables = set(Base.metadata.tables)
    assert set(AUDITED) | set(NOT_AUDITED) == tables
    assert not set(AUDITED) & set(NOT_AUDITED)


def test_native_changes_say_who_when_and_before_and_after(
    api: TestClient, sessions: SessionMaker, tenant: NewTenant
) -> None:
    before = datetime.now(UTC)
    made = api.post("/api/v1/campaigns", json={"name": "Spring", "dial_mode": "preview"})
    campaign_id = str(made.json()["id"])
    changes = {"name": "Summer", "max_tries_per_number": 9}
    assert api.patch(f"/api/v1/campaigns/{campaign_id}", json=changes).status_code == 200
    rows = _trail(api, entity="campaigns", entity_id=campaign_id)
    assert [r["action"] for r in rows] == ["create", "update"]
    created, changed = rows
    key_id = _key_id(sessions, tenant)
    for row in rows:
        assert (row["face"], row["api_key_id"], row["user_id"]) == ("native", key_id, None)
        assert before <= datetime.fromisoformat(row["at"]) <= datetime.now(UTC)
    assert created["changes"]["name"] == [None, "Spring"]
    tries = created["changes"]["max_tries_per_number"][1]
    assert changed["changes"] == {"name": ["Spring", "Summer"], "max_tries_per_number": [tries, 9]}


def test_a_native_contact_create_names_the_contact_and_each_number(
    api: TestClient, sessions: SessionMaker, tenant: NewTenant
) -> None:
    with unit_of_work(sessions) as session:
        campaign_id = make_campaign(session, tenant.tenant.id, "Create").id
    body = {"phones": ["030 1234567", "what"], "name": "Dana", "custom_data": {"lead": 7}}
    made = api.post(f"/api/v1/campaigns/{campaign_id}/contacts", json=body)
    assert made.status_code == 201, made.text
    contact = made.json()
    (row,) = _trail(api, entity="contacts", entity_id=str(contact["id"]))
    assert (row["face"], row["action"]) == ("native", "create")
    assert row["api_key_id"] == _key_id(sessions, tenant)
    changes = row["changes"]
    assert changes["id"] == [None, contact["id"]]
    assert changes["name"] == [None, "Dana"] and changes["custom_data"] == [None, {"lead": 7}]
    assert changes["status"] == [None, "pending"] and changes["locked"] == [None, False]
    assert {"created_at", "next_try_at", "campaign_id", "tenant_id"} <= set(changes)
    assert not {"updated_at", "tries", "next_phone_position"} & set(changes)  # not audited
    phones = {p["changes"]["position"][1]: p for p in _trail(api, entity="contact_phones")}
    assert sorted(phones) == [1, 2]
    for position, e164 in ((1, "+49301234567"), (2, None)):
        phone = phones[position]
        assert phone["action"] == "create" and phone["entity_id"] != "*"
        assert phone["changes"]["id"] == [None, int(phone["entity_id"])]
        assert phone["changes"]["contact_id"] == [None, contact["id"]]
        assert phone["changes"]["position"] == [None, position]
        assert phone["changes"].get("e164") == (None if e164 is None else [None, e164])
        assert phone["changes"]["invalid"] == [None, e164 is None]
        assert "tries" not in phone["changes"]


def test_named_inserts_in_a_bulk_run_only_count_their_rows(
    sessions: SessionMaker, tenant: NewTenant
) -> None:
    with unit_of_work(sessions) as session:
        campaign_id = make_campaign(session, tenant.tenant.id, "Bulk").id
    owner = {"tenant_id": tenant.tenant.id, "campaign_id": campaign_id}
    with acting_through("native"), bulk_run() as run, unit_of_work(sessions) as session:
        rows = [{**owner, "name": f"N{i}"} for i in range(3)]
        inserted = insert_named(session.connection(), CONTACTS, rows)
        assert insert_named(session.connection(), CONTACTS, []) == []
    assert [row["name"] for row in inserted] == ["N0", "N1", "N2"]
    assert len({row["id"] for row in inserted}) == 3
    assert run.counts == {"contacts.create": 3}
    with unit_of_work(sessions) as session:
        assert session.scalar(select(func.count()).select_from(AuditEntry)) == 0


def test_secrets_are_never_copied_into_the_trail(api: TestClient) -> None:
    made = api.post("/api/v1/api-keys", json={"name": "robot", "role": "agent"})
    assert made.status_code == 201, made.text
    (row,) = _trail(api, entity="api_keys", entity_id=str(made.json()["id"]))
    assert row["changes"]["key_hash"] == [None, "[secret]"]
    assert row["changes"]["role"] == [None, "agent"]
    assert made.json()["key"] not in str(row)


def test_the_console_is_audited_as_the_signed_in_user(
    app: FastAPI, api: TestClient, sessions: SessionMaker, tenant: NewTenant
) -> None:
    boss = make_agent(sessions, tenant.tenant.id, "boss", role=UserRole.ADMIN)
    with TestClient(app, base_url="https://testserver", raise_server_exceptions=False) as web:
        assert form_login(web, "boss").status_code == 303
        with unit_of_work(sessions) as session:
            stmt = select(LoginSession.csrf_token).where(LoginSession.user_id == boss)
            csrf = session.scalars(stmt).one()
        made = web.post(
            "/api/v1/campaigns",
            json={"name": "From the console", "dial_mode": "preview"},
            headers={"X-CSRF-Token": csrf},
        )
        assert made.status_code == 201, made.text
    (row,) = _trail(api, entity="campaigns", entity_id=str(made.json()["id"]))
    assert (row["face"], row["user_id"], row["api_key_id"]) == ("console", boss, None)
    assert _trail(api, face="console", user_id=boss) == [row]


def test_jtel_changes_name_the_basic_auth_user(
    app: FastAPI, api: TestClient, sessions: SessionMaker, tenant: NewTenant
) -> None:
    with unit_of_work(sessions) as session:
        make_campaign(session, tenant.tenant.id, "Campaign 1000")
    token = f"{tenant.admin_user}@{tenant.tenant.id}:{tenant.admin_password}"
    headers = {"Authorization": "Basic " + base64.b64encode(token.encode()).decode()}
    with TestClient(app, headers=headers, raise_server_exceptions=False) as jtel:
        body = {"source": "Campaign 1000", "destination": "Clone"}
        answer = jtel.post("/jtel/dialler/campaigns/clone", json=body)
        assert answer.status_code == 200, answer.text
    clone_id = str(answer.json()["records"][0]["ID"])
    rows = _trail(api, entity="campaigns", entity_id=clone_id)
    assert rows and rows[0]["action"] == "create"
    assert {(r["face"], r["user_id"]) for r in rows} == {("jtel", _admin_id(sessions, tenant))}
    assert rows[0]["changes"]["name"] == [None, "Clone"]


def test_mmdial_dnc_additions_are_one_row_with_the_numbers(
    app: FastAPI, api: TestClient, sessions: SessionMaker, tenant: NewTenant
) -> None:
    with TestClient(app, raise_server_exceptions=False) as mm:
        mm.auth = (f"{tenant.admin_user}@{tenant.tenant.id}", tenant.admin_password)
        answer = mm.get("/mmdial/api/dncadd", params={"number": "030 1234567,089 7654321"})
        assert answer.json()["status"] == "ok", answer.text
    (row,) = _trail(api, entity="dnc_entries")
    assert (row["face"], row["user_id"], row["action"]) == (
        "mmdial",
        _admin_id(sessions, tenant),
        "bulk_create",
    )
    assert row["changes"]["rows"] is None  # INSERT ... RETURNING: counted as its caller reads
    # INSERT ... SELECT from the numbers: the values it was given name them
    assert "+49301234567" in str(row["changes"]) and "+49897654321" in str(row["changes"])


def test_voicenter_targets_name_the_campaign_code(
    client: TestClient,
    api: TestClient,
    sessions: SessionMaker,
    tenant: NewTenant,
    settings: Settings,
) -> None:
    with unit_of_work(sessions) as session:
        campaign = make_campaign(session, tenant.tenant.id, "V")
        code = CodeKey(settings.secret_key.get_secret_value()).of(campaign)
        assert code is not None
    body = {"Campaign": code, "Target": "030 7654321", "Name": "Dana"}
    answer = client.post("/ForwardDialer/Dialer/AddCall", json=body)
    assert answer.json()["ErrorCode"] == 0, answer.text
    rows = _trail(api, face="voicenter")
    assert {r["entity"] for r in rows} == {"contacts", "contact_phones"}
    for row in rows:
        assert row["credential"] is not None and row["credential"].startswith("voicenter:")
        assert code not in row["credential"]  # a prefix, never the whole code
        assert (row["user_id"], row["api_key_id"], row["action"]) == (None, None, "bulk_create")


def test_the_engine_and_direct_sessions_write_no_rows(
    session: Session, tenant: NewTenant, sessions: SessionMaker
) -> None:
    campaign = make_campaign(session, tenant.tenant.id, calling_days=[1, 2, 3, 4, 5, 6, 7])
    make_contact(session, campaign, "+4930123456")
    session.commit()
    with unit_of_work(sessions) as work:
        claim_next(work, work.get_one(Campaign, campaign.id), NOW, "engine")
    assert session.scalar(select(func.count()).select_from(AuditEntry)) == 0


def test_the_trail_cannot_be_changed(api: TestClient, app: FastAPI, sessions: SessionMaker) -> None:
    api.post("/api/v1/campaigns", json={"name": "X", "dial_mode": "preview"})
    with unit_of_work(sessions) as session:
        row = session.scalars(select(AuditEntry)).first()
        assert row is not None
        row.action = "forged"
        with pytest.raises(TrailIsReadOnly):
            session.flush()
        session.rollback()
    for statement in (update(AuditEntry).values(action="forged"), delete(AuditEntry)):
        with unit_of_work(sessions) as session, pytest.raises(TrailIsReadOnly):
            session.execute(statement)
    with unit_of_work(sessions) as session:
        assert session.scalars(select(AuditEntry.action)).all() == ["create"]
    methods = {
        method
        for route in app.routes
        if getattr(route, "path", "").startswith("/api/v1/audit")
        for method in getattr(route, "methods", ())
    }
    assert methods <= {"GET", "HEAD"}


def test_the_retention_purge_deletes_only_old_rows(api: TestClient, sessions: SessionMaker) -> None:
    api.post("/api/v1/campaigns", json={"name": "X", "dial_mode": "preview"})
    now = datetime.now(UTC)
    with unit_of_work(sessions) as session:
        assert purge_expired(session, now, 30) == 0
    with unit_of_work(sessions) as session:
        assert purge_expired(session, now + timedelta(days=31), 30) == 1
        assert session.scalar(select(func.count()).select_from(AuditEntry)) == 0


def test_filters_and_their_errors(api: TestClient, other_api: TestClient) -> None:
    first = api.post("/api/v1/campaigns", json={"name": "A", "dial_mode": "preview"}).json()
    api.post("/api/v1/campaigns", json={"name": "B", "dial_mode": "preview"})
    rows = _trail(api, entity="campaigns")
    assert len(rows) == 2
    assert _trail(api, entity="campaigns", entity_id=str(first["id"])) == rows[:1]
    at = datetime.fromisoformat(rows[1]["at"])
    assert _trail(api, since=at.isoformat()) == [r for r in rows if r["at"] >= rows[1]["at"]]
    assert _trail(api, until=at.isoformat()) == [r for r in rows if r["at"] < rows[1]["at"]]
    assert _trail(api, face="jtel") == []
    page = api.get("/api/v1/audit", params={"limit": 1}).json()
    assert len(page["items"]) == 1 and page["next_cursor"] is not None
    assert _trail(other_api) == []  # the other tenant's trail is its own
    for bad in (
        {"entity": "nope"},
        {"face": "fax"},
        {"since": "2026-01-01T00:00:00"},  # no zone
        {"since": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"},
    ):
        answer = api.get("/api/v1/audit", params=bad)
        assert answer.status_code in (400, 422), (bad, answer.text)
        assert "error" in answer.json()


@contextmanager
def _audit_inserts(sessions: SessionMaker) -> Iterator[list[int]]:
    """How many rows each INSERT into the trail carried (for the block's length)."""
    seen: list[int] = []

    def count(_conn: object, _cursor: object, statement: str, params: Any, *_: object) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO AUDIT_ENTRIES"):
            seen.append(len(params) if isinstance(params, list) else 1)

    engine = sessions.kw["bind"]
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def test_a_transactions_rows_go_in_one_insert_at_commit_and_rolled_back_ones_never(
    sessions: SessionMaker, tenant: NewTenant
) -> None:
    tenant_id = tenant.tenant.id
    rename = update(Campaign).where(Campaign.name == "Kept")
    with acting_through("native") as context, _audit_inserts(sessions) as seen:
        context.tenant_id = tenant_id
        with unit_of_work(sessions) as session:
            kept = make_campaign(session, tenant_id, name="Kept")
            session.flush()
            session.execute(rename.values(description="Bulk"))
            assert seen == []  # nothing written before the commit
        assert len(seen) == 1  # the create's rows and the bulk update's, in one statement
        with unit_of_work(sessions) as session:
            with pytest.raises(IntegrityError), session.begin_nested():
                make_campaign(session, tenant_id, name="Rolled back")
                session.flush()
                session.add(Campaign(tenant_id=tenant_id, name=None))  # NOT NULL: refused
                session.flush()
            session.execute(rename.values(description="After"))
        with pytest.raises(RuntimeError), unit_of_work(sessions) as session:
            make_campaign(session, tenant_id, name="Never")
            session.flush()
            raise RuntimeError("rolled back")
    with unit_of_work(sessions, writes=False) as session:
        rows = session.execute(select(AuditEntry.entity, AuditEntry.entity_id, AuditEntry.action))
        written = rows.all()
    assert sum(seen) == len(written)
    campaigns = [
        (entity_id, action) for entity, entity_id, action in written if entity == "campaigns"
    ]
    assert campaigns == [(str(kept.id), action) for action in ("create", *["bulk_update"] * 2)]
