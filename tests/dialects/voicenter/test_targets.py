"""Targets: numbers, scheduling, DNC, removal, updates, clearing, bulk per-element results."""

from datetime import UTC, datetime

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from opendialer.db import SessionMaker, unit_of_work
from opendialer.models import CallAttempt, CampaignMember, Contact, ContactStatus, DncEntry
from tests.dialects.voicenter.conftest import Account, add_agent, call
from tests.dialects.voicenter.test_examples import targets

OK = {"ErrorCode": 0, "Description": "OK"}


def test_numbers_are_normalised_with_the_tenant_region(
    client: TestClient, account: Account, session: Session
) -> None:
    for number in ("0501234567", "972501234567", "+972 50-123-4567", "+4930123456"):
        assert call(client, "AddCall", {"Campaign": account.agent, "Target": number}) == OK
    phones = [t.phones[0].e164 for t in targets(session, account.agent_id)]
    assert phones == ["+972501234567"] * 3 + ["+4930123456"]


def test_invalid_and_missing_targets(
    client: TestClient, account: Account, session: Session
) -> None:
    for bad in ("12", "abc", "0" * 70, 12):
        answer = call(client, "AddCall", {"Campaign": account.agent, "Target": bad})
        assert answer == {"ErrorCode": -2, "Description": "Number is invalid"}, bad
    for missing in ({}, {"Target": ""}, {"Target": "  "}, {"Target": None}):
        answer = call(client, "AddCall", {"Campaign": account.agent, **missing})
        assert answer == {"ErrorCode": 2, "Description": "Target missing"}
    assert targets(session, account.agent_id) == []


def test_campaign_code_errors(client: TestClient, account: Account) -> None:
    for method in ("AddCall", "RemoveCall", "UpdateCall"):
        assert call(client, method, {"Target": "0501234567"}) == {
            "ErrorCode": 1,
            "Description": "Campaign code missing",
        }
        assert call(client, method, {"Campaign": "nope", "Target": "0501234567"}) == {
            "ErrorCode": 1,
            "Description": "Invalid campaign code",
        }


def test_account_code_does_not_open_campaign_methods(client: TestClient, account: Account) -> None:
    answer = call(client, "AddCall", {"Campaign": account.code, "Target": "0501234567"})
    assert answer["ErrorCode"] == 1
    assert call(client, "GetCampaignList", Code=account.agent)["ErrorCode"] == 1
    assert call(client, "GetCampaignList")["ErrorCode"] == 1


def test_originate_time_local_or_utc(
    client: TestClient, account: Account, session: Session
) -> None:
    base = {"Campaign": account.agent, "OriginateTime": 1602750000}  # 2020-10-15 08:20
    call(client, "AddCall", {**base, "Target": "0501234561", "IsDateLocal": "true"})
    call(client, "AddCall", {**base, "Target": "0501234562", "IsDateLocal": False})
    call(client, "AddCall", {**base, "Target": "0501234563"})  # V11: defaults to local
    local, utc, default = targets(session, account.agent_id)
    # 08:20 in Jerusalem (UTC+3 in October) is 05:20 UTC.
    assert local.next_try_at == datetime(2020, 10, 15, 5, 20, tzinfo=UTC)
    assert utc.next_try_at == datetime(2020, 10, 15, 8, 20, tzinfo=UTC)
    assert default.next_try_at == local.next_try_at
    assert (local.originate_is_local, utc.originate_is_local) == (True, False)


def test_without_originate_time_the_target_is_due_now(
    client: TestClient, account: Account, session: Session
) -> None:
    before = datetime.now(UTC)
    call(client, "AddCall", {"Campaign": account.agent, "Target": "0501234567"})
    (target,) = targets(session, account.agent_id)
    assert before <= target.next_try_at <= datetime.now(UTC)
    assert target.priority == 1 and target.ignore_dnc is False


def test_dnc_listed_target_is_accepted_and_flag_is_kept(
    client: TestClient, account: Account, session: Session
) -> None:
    session.add(DncEntry(tenant_id=account.tenant_id, e164="+972501234567"))
    session.commit()
    body = {"Campaign": account.agent, "Target": "0501234567"}
    assert call(client, "AddCall", body) == OK
    assert call(client, "AddCall", {**body, "IgnoreDncStatus": "true"}) == OK
    blocked, allowed = targets(session, account.agent_id)
    assert (blocked.ignore_dnc, allowed.ignore_dnc) == (False, True)


def test_remove_call_removes_every_occurrence_only_there(
    client: TestClient, account: Account, session: Session
) -> None:
    for number in ("0501234567", "972501234567", "0501234568"):
        call(client, "AddCall", {"Campaign": account.agent, "Target": number})
    call(client, "AddCall", {"Campaign": account.smart, "Target": "0501234567"})
    assert call(client, "RemoveCall", Campaign=account.agent, Target="+972501234567") == OK
    assert [t.phones[0].e164 for t in targets(session, account.agent_id)] == ["+972501234568"]
    assert len(targets(session, account.smart_id)) == 1
    assert call(client, "RemoveCall", Campaign=account.agent, Target="0509999999") == OK
    assert call(client, "RemoveCall", Campaign=account.agent, Target="12") == OK
    assert call(client, "RemoveCall", Campaign=account.agent) == {
        "ErrorCode": 2,
        "Description": "Target missing",
    }


def test_update_call_changes_only_supplied_fields_of_every_occurrence(
    client: TestClient, account: Account, session: Session
) -> None:
    first = {
        "Campaign": account.agent,
        "Target": "0501234567",
        "CustomerName": "Dana",
        "CallerID": "0722776772",
        "Priority": 5,
        "CustomData": {"var_a": 1, "var_b": 2},
    }
    call(client, "AddCall", first)
    call(client, "AddCall", {**first, "CustomerName": "Dani"})
    update = {"Campaign": account.agent, "Target": "972501234567", "Priority": 9}
    assert call(client, "UpdateCall", {**update, "CustomData": {"var_b": 3}}) == OK
    rows = targets(session, account.agent_id)
    assert [(t.name, t.caller_id, t.priority) for t in rows] == [
        ("Dana", "0722776772", 9),
        ("Dani", "0722776772", 9),
    ]
    assert all(t.custom_data == {"var_a": 1, "var_b": 3} for t in rows)


def test_update_call_adds_an_absent_target_and_validates(
    client: TestClient, account: Account, session: Session
) -> None:
    body = {"Campaign": account.agent, "Target": "0501234567", "Priority": 3}
    assert call(client, "UpdateCall", body) == OK
    (target,) = targets(session, account.agent_id)
    assert target.priority == 3 and target.status is ContactStatus.PENDING
    assert call(client, "UpdateCall", {**body, "Target": "12"}) == {
        "ErrorCode": -2,
        "Description": "Number is invalid",
    }
    assert call(client, "UpdateCall", {"Campaign": account.agent})["ErrorCode"] == 2


def test_clear_keeps_history_members_and_done_targets(
    client: TestClient, account: Account, session: Session, sessions: SessionMaker
) -> None:
    agent = add_agent(sessions, account.tenant_id, "SIPSIP1", "Walter Melon")
    call(client, "AddMember", Campaign=account.agent, Member="SIPSIP1")
    for number in ("0501234567", "0501234568", "0501234569"):
        call(client, "AddCall", {"Campaign": account.agent, "Target": number})
    with unit_of_work(sessions) as s:
        done, *_ = targets(s, account.agent_id)
        done.status = ContactStatus.DONE
        s.add(
            CallAttempt(
                tenant_id=account.tenant_id,
                campaign_id=account.agent_id,
                contact_id=done.id,
                b_number="+972501234567",
                started_at=datetime.now(UTC),
            )
        )
        history_contact = targets(s, account.agent_id)[1]
        s.add(
            CallAttempt(
                tenant_id=account.tenant_id,
                campaign_id=account.agent_id,
                contact_id=history_contact.id,
                b_number="+972501234568",
                started_at=datetime.now(UTC),
            )
        )
    assert call(client, "ClearCampaignCalls", Campaign=account.agent) == OK
    remaining = targets(session, account.agent_id)
    assert [t.status for t in remaining] == [ContactStatus.DONE]
    attempts = session.scalar(select(func.count()).select_from(CallAttempt))
    assert attempts == 2
    assert session.get(CampaignMember, (account.agent_id, agent)) is not None
    details = call(client, "GetCampaignDetails", Campaign=account.agent)["Data"]
    assert details["TotalPendingCalls"] == 0


def test_clear_with_an_invalid_code(client: TestClient, account: Account) -> None:
    for body in ({"Campaign": "nope"}, {}):
        assert call(client, "ClearCampaignCalls", body) == {
            "ErrorCode": 4,
            "Description": "Internal error occurred",
        }


def test_bulk_reports_each_element_in_order_and_mixes_campaigns(
    client: TestClient, account: Account, session: Session
) -> None:
    body = [
        {"Campaign": account.agent, "Target": "0501234567", "CustomData": {"var_x": 1}},
        {"Campaign": "nope", "Target": "0501234568"},
        {"Target": "0501234569"},
        {"Campaign": account.smart},
        {"Campaign": account.smart, "Target": "12"},
        {"Campaign": account.smart, "Target": "0501234570", "Priority": "high"},
        ["not", "an", "object"],
        {"campaign": account.smart, "target": "0501234571", "priority": "7"},
    ]
    answer = call(client, "AddCallsBulk", body)
    assert (answer["ErrorCode"], answer["Description"]) == (0, "OK")
    results = [(r["Target"], r["ErrorCode"], r["Description"]) for r in answer["AddResult"]]
    assert results == [
        ("0501234567", 0, "OK"),
        ("0501234568", 1, "Invalid campaign code"),
        ("0501234569", 1, "Campaign code missing"),
        ("", 2, "Target missing"),
        ("12", -2, "Number is invalid"),
        ("0501234570", -1, "Invalid Priority: must be an integer"),
        ("", -1, "Invalid target: each element must be a JSON object"),
        ("0501234571", 0, "OK"),
    ]
    assert answer["AddResult"][0]["CustomData"] == {"var_x": 1}
    assert [t.phones[0].raw for t in targets(session, account.agent_id)] == ["0501234567"]
    (smart,) = targets(session, account.smart_id)
    assert (smart.phones[0].raw, smart.priority) == ("0501234571", 7)


def test_bulk_of_ten_thousand(client: TestClient, account: Account, session: Session) -> None:
    body = [
        {"Campaign": account.smart, "Target": f"050{i:07d}", "Priority": i % 10}
        for i in range(10_000)
    ]
    answer = call(client, "AddCallsBulk", body)
    assert len(answer["AddResult"]) == 10_000
    assert all(r["ErrorCode"] == 0 for r in answer["AddResult"])
    assert [r["Target"] for r in answer["AddResult"][:2]] == ["0500000000", "0500000001"]
    count = session.scalar(
        select(func.count()).select_from(Contact).where(Contact.campaign_id == account.smart_id)
    )
    assert count == 10_000
    details = call(client, "GetCampaignDetails", Campaign=account.smart)["Data"]
    assert (details["TotalPendingCalls"], details["MaxPriority"], details["MinPriority"]) == (
        10_000,
        9,
        0,
    )
