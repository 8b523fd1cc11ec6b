"""Simultaneous identical creates store one thing, on every face and on both databases.

Each test sends the same create from many threads at once (released by a barrier) to a real
server over HTTP, then checks that every answer is a success in the face's vocabulary (or its
documented duplicate answer) and that the database holds exactly one row.
"""

import base64
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from opendialer.accounts.service import NewTenant
from opendialer.agents.schemas import GroupCreate
from opendialer.agents.service import create_group
from opendialer.campaigns.codes import CodeKey
from opendialer.campaigns.schemas import CampaignCreate
from opendialer.campaigns.service import create_campaign
from opendialer.config import Settings
from opendialer.db import SessionMaker, unit_of_work
from opendialer.dedupe import exclusive, insert_new, insert_new_keys, lock_key
from opendialer.models import (
    AcdEvent,
    AgentGroupMember,
    CampaignMember,
    Contact,
    ContactList,
    CrmCallLog,
    DncEntry,
    FormField,
    RetryRule,
    Tenant,
    User,
    UserRole,
)
from opendialer.scoping import Scope
from tests.conftest import make_tenant
from tests.live import serve, together

N = 12
NUMBER = "+4930901820"


@pytest.fixture(scope="module")
def live(settings: Settings) -> Iterator[str]:
    with serve(settings) as base_url:
        yield base_url


def _count(sessions: SessionMaker, model: Any, *where: Any) -> int:
    with unit_of_work(sessions) as s:
        return int(s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def _campaign(sessions: SessionMaker, tenant_id: int, mode: str = "progressive") -> Any:
    with unit_of_work(sessions) as s:
        data = CampaignCreate(name=f"C{mode}", dial_mode=mode, calling_days=[1, 2, 3, 4, 5, 6, 7])
        return create_campaign(s, Scope.system(s.get_one(Tenant, tenant_id).id), data)


def _code(settings: Settings, campaign: Any) -> str | None:
    """The campaign's Voicenter code as the live server makes it."""
    return CodeKey(settings.secret_key.get_secret_value()).of(campaign)


def _agent(sessions: SessionMaker, tenant_id: int, code: str = "SIPSIP1") -> int:
    with unit_of_work(sessions) as s:
        user = User(
            tenant_id=tenant_id, username=code.lower(), role=UserRole.AGENT, member_code=code
        )
        s.add(user)
        s.flush()
        return user.id


def _basic(tenant: NewTenant) -> dict[str, str]:
    token = f"{tenant.admin_user}@{tenant.tenant.id}:{tenant.admin_password}"
    return {"Authorization": "Basic " + base64.b64encode(token.encode()).decode()}


def _bearer(tenant: NewTenant) -> dict[str, str]:
    return {"Authorization": f"Bearer {tenant.api_key}"}


# The mechanisms ------------------------------------------------------------------------------


def test_lock_keys_are_stable_and_distinct() -> None:
    assert lock_key(("contacts", 1)) == lock_key(("contacts", 1))
    assert lock_key(("contacts", 1)) != lock_key(("contacts", 2))
    assert -(2**63) <= lock_key(("acd_events", 7)) < 2**63


def test_exclusive_keeps_a_second_holder_out_until_the_first_ends(
    database_url: str, sessions: SessionMaker, tenant: NewTenant
) -> None:
    """The second transaction reaches its look-up only after the first committed, and so
    sees the first one's row."""
    entered, seen = threading.Event(), []
    with unit_of_work(sessions) as first:
        exclusive(first, "contacts", tenant.tenant.id)

        def second() -> None:
            with unit_of_work(sessions) as other:
                entered.set()
                exclusive(other, "contacts", tenant.tenant.id)
                seen.append(_dnc_count(other))

        thread = threading.Thread(target=second)
        thread.start()
        assert entered.wait(10)
        first.add(DncEntry(tenant_id=tenant.tenant.id, e164=NUMBER))
        first.flush()
        assert seen == []  # still waiting: the first holder has not ended
    thread.join(30)
    assert seen == [1]


def _dnc_count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(DncEntry)) or 0)


def test_insert_new_skips_rows_already_stored(
    database_url: str, session: Session, tenant: NewTenant
) -> None:
    rows = [{"tenant_id": tenant.tenant.id, "e164": e164} for e164 in (NUMBER, "+4930901821")]
    assert insert_new(session, DncEntry, rows[:1], DncEntry.e164) == {NUMBER}
    assert insert_new(session, DncEntry, rows, DncEntry.e164) == {"+4930901821"}
    assert insert_new(session, DncEntry, [], DncEntry.e164) == set()
    assert _dnc_count(session) == 2


def test_insert_new_keys_inserts_the_new_keys_once_with_the_shared_values(
    database_url: str, session: Session, tenant: NewTenant
) -> None:
    shared = {"tenant_id": tenant.tenant.id, "campaign_id": None, "source": "t", "note": "n"}
    first = insert_new_keys(session, DncEntry, shared, DncEntry.e164, [NUMBER])
    keys = ["+4930901821", NUMBER, "+4930901821"]
    assert first == {NUMBER}
    assert insert_new_keys(session, DncEntry, shared, DncEntry.e164, keys) == {"+4930901821"}
    assert insert_new_keys(session, DncEntry, shared, DncEntry.e164, []) == set()
    entries = session.scalars(select(DncEntry).order_by(DncEntry.e164)).all()
    assert [(e.e164, e.source, e.note, e.campaign_id) for e in entries] == [
        (NUMBER, "t", "n", None),
        ("+4930901821", "t", "n", None),
    ]


# Contacts on each face -----------------------------------------------------------------------


def test_jtel_imports_with_overwrite_store_one_contact(
    live: str, sessions: SessionMaker, tenant: NewTenant
) -> None:
    campaign_id = _campaign(sessions, tenant.tenant.id).id
    body = {
        "DiallerCampaignsID": campaign_id,
        "UserData": "u-1",
        "Name": "M",
        "PhoneNumber1": NUMBER,
    }

    def send(client: httpx.Client) -> httpx.Response:
        url = "/jtel/dialler/contacts/import?overwriteDuplicates=true"
        return client.post(url, json=body, headers=_basic(tenant))

    answers = together(N, send, live)
    assert [a.status_code for a in answers] == [200] * N, [a.text for a in answers]
    ids = {a.json()["records"][0]["ID"] for a in answers}
    assert len(ids) == 1  # every request answers with the one contact
    assert _count(sessions, Contact, Contact.user_data == "u-1") == 1


def test_voicenter_update_calls_store_one_target(
    live: str, sessions: SessionMaker, settings: Settings
) -> None:
    israel = make_tenant(sessions, "Voicenter customer", region="IL")
    code = _code(settings, _campaign(sessions, israel.tenant.id))
    body = {"Campaign": code, "Target": "0501234567", "Name": "Dana"}

    def send(client: httpx.Client) -> httpx.Response:
        return client.post("/ForwardDialer/Dialer/UpdateCall", json=body)

    answers = together(N, send, live)
    assert [a.json()["ErrorCode"] for a in answers] == [0] * N, [a.text for a in answers]
    assert _count(sessions, Contact, Contact.tenant_id == israel.tenant.id) == 1


def test_mmdial_addleads_with_doublet_check_store_one_lead(
    live: str, sessions: SessionMaker, tenant: NewTenant
) -> None:
    campaign_id = _campaign(sessions, tenant.tenant.id, "preview").id
    with unit_of_work(sessions) as s:
        contact_list = ContactList(tenant_id=tenant.tenant.id, campaign_id=campaign_id, name="B1")
        s.add(contact_list)
        s.flush()
        list_id = contact_list.id
    form = {
        "campaign_id": str(campaign_id),
        "list_id": str(list_id),
        "country_phone_code": "49",
        "invalidcheck": "no",
        "doubletcheck_global": "no",
        "doubletcheck_campaign": "yes",
        "leaddata[phone]": "030 901820",
    }
    auth = (f"{tenant.admin_user}@{tenant.tenant.id}", tenant.admin_password)

    def send(client: httpx.Client) -> httpx.Response:
        return client.post("/mmdial/api/addlead", data=form, auth=auth)

    answers = [a.json() for a in together(N, send, live)]
    stats = [a["lead_stats"] for a in answers]
    assert sorted(s["success"] for s in stats) == [0] * (N - 1) + [1], answers
    assert all(s["success"] or s["doubleterror"] for s in stats), answers  # mmDial's "doublet"
    assert _count(sessions, Contact, Contact.campaign_id == campaign_id) == 1


def test_native_imports_skipping_duplicates_store_one_contact(
    live: str, sessions: SessionMaker, tenant: NewTenant
) -> None:
    campaign_id = _campaign(sessions, tenant.tenant.id).id
    line = b'{"name": "M", "phone1": "+4930901820"}\n'

    def send(client: httpx.Client) -> httpx.Response:
        url = f"/api/v1/campaigns/{campaign_id}/contacts:import?duplicates=skip"
        headers = {**_bearer(tenant), "Content-Type": "application/x-ndjson"}
        return client.post(url, content=line, headers=headers)

    answers = together(N, send, live)
    assert [a.status_code for a in answers] == [200] * N, [a.text for a in answers]
    assert _count(sessions, Contact, Contact.campaign_id == campaign_id) == 1


def test_minicrm_call_logs_store_one_entry(
    live: str, sessions: SessionMaker, tenant: NewTenant
) -> None:
    with unit_of_work(sessions) as s:
        s.add(User(tenant_id=tenant.tenant.id, username="anna", extension="001"))
    item = {"Date": "2024-05-01 08:00:00", "Number": NUMBER, "CallType": 1, "Duration": 5}
    body = {"ApiKey": tenant.calllog_api_key, "UserExtension": "001", "Data": [item]}

    def send(client: httpx.Client) -> httpx.Response:
        return client.post("/Api/CallLog", json=body)

    answers = together(N, send, live)
    assert [a.status_code for a in answers] == [200] * N, [a.text for a in answers]
    stored = sorted(a.json()["Processed"] + a.json()["NotFound"] for a in answers)
    assert stored == [0] * (N - 1) + [1]
    assert sum(a.json()["Exists"] for a in answers) == N - 1  # MiniCRM's duplicate answer
    assert _count(sessions, CrmCallLog, CrmCallLog.tenant_id == tenant.tenant.id) == 1


# Members, do-not-call, ACD events, users -----------------------------------------------------


def test_voicenter_add_members_add_one(
    live: str, sessions: SessionMaker, settings: Settings
) -> None:
    israel = make_tenant(sessions, "Voicenter customer", region="IL")
    campaign = _campaign(sessions, israel.tenant.id)
    _agent(sessions, israel.tenant.id)
    body = {"Campaign": _code(settings, campaign), "Member": "SIPSIP1"}

    def send(client: httpx.Client) -> httpx.Response:
        return client.post("/ForwardDialer/Dialer/AddMember", json=body)

    answers = [a.json() for a in together(N, send, live)]
    assert [a["ErrorCode"] for a in answers] == [0] * N, answers
    assert sum(a["Data"]["TotalAdded"] for a in answers) == 1
    assert _count(sessions, CampaignMember, CampaignMember.campaign_id == campaign.id) == 1


def test_native_campaign_and_group_member_adds_add_one(
    live: str, sessions: SessionMaker, tenant: NewTenant
) -> None:
    campaign_id = _campaign(sessions, tenant.tenant.id).id
    user_id = _agent(sessions, tenant.tenant.id)
    with unit_of_work(sessions) as s:
        group_id = create_group(s, Scope.system(tenant.tenant.id), GroupCreate(name="G")).id

    def member(client: httpx.Client) -> httpx.Response:
        url = f"/api/v1/campaigns/{campaign_id}/members"
        return client.post(url, json={"user_id": user_id}, headers=_bearer(tenant))

    def group_member(client: httpx.Client) -> httpx.Response:
        url = f"/api/v1/groups/{group_id}/members"
        return client.post(url, json={"user_id": user_id}, headers=_bearer(tenant))

    assert {a.status_code for a in together(N, member, live)} == {201}
    statuses = sorted(a.status_code for a in together(N, group_member, live))
    assert statuses == [200] * (N - 1) + [201]  # 201 joined, 200 already a member
    assert _count(sessions, CampaignMember, CampaignMember.campaign_id == campaign_id) == 1
    assert _count(sessions, AgentGroupMember, AgentGroupMember.group_id == group_id) == 1


def test_native_dnc_adds_add_one(live: str, sessions: SessionMaker, tenant: NewTenant) -> None:
    def send(client: httpx.Client) -> httpx.Response:
        return client.post("/api/v1/dnc", json={"numbers": [NUMBER]}, headers=_bearer(tenant))

    answers = together(N, send, live)
    assert [a.status_code for a in answers] == [200] * N, [a.text for a in answers]
    outcomes = sorted(a.json()["records"][0]["outcome"] for a in answers)
    assert outcomes == ["added"] + ["exists"] * (N - 1)
    assert _count(sessions, DncEntry, DncEntry.tenant_id == tenant.tenant.id) == 1


def test_jtel_acd_events_in_a_no_duplicates_group_make_one(
    live: str, sessions: SessionMaker, tenant: NewTenant
) -> None:
    with unit_of_work(sessions) as s:
        data = GroupCreate(name="Callbacks", no_duplicate_events=True)
        group_id = create_group(s, Scope.system(tenant.tenant.id), data).id
    body = {"AcdGroupsID": group_id, "AcdEventTypesID": 1, "Sender": NUMBER, "Subject": "Call"}

    def send(client: httpx.Client) -> httpx.Response:
        return client.post("/jtel/acd/events/create", json=body, headers=_basic(tenant))

    answers = together(N, send, live)
    assert [a.status_code for a in answers] == [200] * N, [a.text for a in answers]
    results = sorted(a.json()["records"][0]["Result_"] for a in answers)
    assert results == ["CREATED"] + ["UPDATED"] * (N - 1)
    assert _count(sessions, AcdEvent, AcdEvent.group_id == group_id) == 1


def test_users_with_one_member_code_store_one(
    live: str, sessions: SessionMaker, tenant: NewTenant
) -> None:
    def send(client: httpx.Client) -> httpx.Response:
        name = f"agent-{threading.get_ident()}"
        body = {"username": name, "role": "agent", "member_code": "SIPSIP9"}
        return client.post("/api/v1/users", json=body, headers=_bearer(tenant))

    answers = sorted(together(N, send, live), key=lambda a: a.status_code)
    assert [a.status_code for a in answers] == [201] + [409] * (N - 1), [a.text for a in answers]
    # The later requests get the service's own answer, as if they had found the first user.
    assert {a.json()["error"]["code"] for a in answers[1:]} == {"duplicate_member_code"}
    assert _count(sessions, User, User.member_code == "SIPSIP9") == 1


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/campaigns", {"name": "Spring", "dial_mode": "preview"}),
        ("/api/v1/groups", {"name": "Sales"}),
        ("/api/v1/users", {"username": "anna", "role": "agent"}),
    ],
)
def test_simultaneous_creates_of_one_name_make_one_and_name_the_duplicate(
    live: str, sessions: SessionMaker, tenant: NewTenant, path: str, body: dict[str, str]
) -> None:
    def send(client: httpx.Client) -> httpx.Response:
        return client.post(path, json=body, headers=_bearer(tenant))

    answers = sorted(together(N, send, live), key=lambda a: a.status_code)
    assert [a.status_code for a in answers] == [201] + [409] * (N - 1), [a.text for a in answers]
    assert len({a.json()["error"]["code"] for a in answers[1:]}) == 1
    assert all(a.json()["error"]["code"].startswith("duplicate_") for a in answers[1:])


def test_simultaneous_puts_of_one_form_field_and_retry_rule_all_succeed(
    live: str, sessions: SessionMaker, tenant: NewTenant
) -> None:
    campaign_id = _campaign(sessions, tenant.tenant.id).id
    base = f"/api/v1/campaigns/{campaign_id}"

    def field(client: httpx.Client) -> httpx.Response:
        body = {"name": "product", "label": "Product"}
        return client.put(f"{base}/form-fields", json=body, headers=_bearer(tenant))

    def rule(client: httpx.Client) -> httpx.Response:
        body = {"outcome": "busy", "retry_delay_seconds": 60}
        return client.put(f"{base}/retry-rules", json=body, headers=_bearer(tenant))

    for send in (field, rule):
        answers = together(N, send, live)
        assert [a.status_code for a in answers] == [200] * N, [a.text for a in answers]
        assert len({a.json()["id"] for a in answers}) == 1
    assert _count(sessions, FormField, FormField.campaign_id == campaign_id) == 1
    assert _count(sessions, RetryRule, RetryRule.campaign_id == campaign_id) == 1
