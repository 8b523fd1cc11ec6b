"""Campaign methods: list and details from the live queue, start/stop, members."""

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from opendialer.campaigns.codes import CodeKey
from opendialer.db import SessionMaker, unit_of_work
from opendialer.models import Campaign, CampaignStatus, ContactStatus, DialMode, User, UserRole
from tests.conftest import make_tenant
from tests.dialects.voicenter.conftest import Account, add_agent, add_campaign, call
from tests.dialects.voicenter.test_examples import targets


def test_list_shows_only_the_account_campaigns_with_live_counts(
    client: TestClient, account: Account, sessions: SessionMaker, code_key: CodeKey
) -> None:
    other = make_tenant(sessions, "Other", region="IL")
    add_campaign(sessions, other.tenant.id, "Theirs", DialMode.PREDICTIVE, code_key)
    call(client, "StartCampaign", Campaign=account.smart)
    future = 4_102_444_800  # 2100-01-01
    for priority in (3, 8):
        call(
            client,
            "AddCall",
            {"Campaign": account.smart, "Target": "0501234567", "Priority": priority},
        )
    body = {"Campaign": account.smart, "Target": "0501234568", "OriginateTime": future}
    call(client, "AddCall", {**body, "IsDateLocal": "false"})
    with unit_of_work(sessions) as s:  # one target is being dialled right now
        targets(s, account.smart_id)[0].status = ContactStatus.IN_CALL
    data = call(client, "GetCampaignList", Code=account.code)["Data"]
    assert [c["Name"] for c in data] == ["Campaign1", "Campaign2"]
    agent, smart = data
    assert agent["TotalAwaitingCalls"] is None and agent["StatusName"] == "Disabled"
    assert (smart["StatusName"], smart["TotalPendingCalls"], smart["TotalAwaitingCalls"]) == (
        "Enabled",
        3,  # every queued target, the scheduled and the in-call one too
        1,  # only the one ready to dial now
    )
    assert (smart["MaxPriority"], smart["MinPriority"]) == (8, 1)


def test_pending_calls_show_in_call_targets_and_smart_is_not_dynamic(
    client: TestClient, account: Account, sessions: SessionMaker
) -> None:
    call(
        client,
        "AddCall",
        {"Campaign": account.smart, "Target": "0501234567", "CallerID": "035551234"},
    )
    with unit_of_work(sessions) as s:
        targets(s, account.smart_id)[0].status = ContactStatus.IN_CALL
    data = call(client, "GetCampaignPendingCalls", {"Campaign": account.smart})["Data"]
    assert data["Campaign"]["IsDynamic"] == 0 and data["Campaign"]["Status"] == 2
    (only,) = data["Calls"]
    assert only["CallStatus"] == {"Status": 2, "Description": "Call is in Queue on service"}
    assert only["CallerID"] == "035551234"


def test_start_and_stop_are_idempotent(
    client: TestClient, account: Account, session: Session
) -> None:
    for method, status in (
        ("StartCampaign", CampaignStatus.ENABLED),
        ("StartCampaign", CampaignStatus.ENABLED),
        ("StopCampaign", CampaignStatus.DISABLED),
        ("StopCampaign", CampaignStatus.DISABLED),
    ):
        assert call(client, method, {"Campaign": account.agent}) == {
            "ErrorCode": 0,
            "Description": "OK",
        }
        session.expire_all()
        assert session.get_one(Campaign, account.agent_id).status is status
    assert call(client, "StartCampaign", {}) == {
        "ErrorCode": 1,
        "Description": "Invalid campaign code",
    }


def test_details_with_an_invalid_code(client: TestClient, account: Account) -> None:
    answer = call(client, "GetCampaignDetails", Campaign="nope")
    assert answer["ErrorCode"] != 0 and answer["Description"] != "OK"
    assert "Data" not in answer


def test_member_rules(client: TestClient, account: Account, sessions: SessionMaker) -> None:
    add_agent(sessions, account.tenant_id, "SIPSIP1", "Walter Melon")
    admin = add_agent(sessions, account.tenant_id, "ADMIN01", "Boss")
    with unit_of_work(sessions) as s:
        s.get_one(User, admin).role = UserRole.ADMIN
    agent = {"Campaign": account.agent}
    assert call(client, "AddMember", {**agent, "Member": "SIPSIP1"})["Data"] == {"TotalAdded": 1}
    assert call(client, "AddMember", {**agent, "Member": "SIPSIP1"})["Data"] == {"TotalAdded": 0}
    assert call(client, "AddMember", agent) == {
        "Data": {"TotalAdded": -1},
        "ErrorCode": 2,
        "Description": "Member missing",
    }
    for member in ("NOBODY", "ADMIN01", 12.5):
        answer = call(client, "AddMember", {**agent, "Member": member})
        assert answer["ErrorCode"] == 2 and answer["Data"] == {"TotalAdded": -1}
    smart = call(client, "AddMember", {"Campaign": account.smart, "Member": "SIPSIP1"})
    assert smart["ErrorCode"] == 2 and smart["Data"] == {"TotalAdded": -1}
    assert call(client, "AddMember", {"Campaign": "nope", "Member": "SIPSIP1"}) == {
        "Data": {"TotalAdded": -1},
        "ErrorCode": 1,
        "Description": "Invalid campaign code",
    }
    assert call(client, "RemoveMember", {"Campaign": "nope", "Member": "SIPSIP1"}) == {
        "Data": {"TotalRemoved": 0},
        "ErrorCode": 1,
        "Description": "Invalid campaign code",
    }
    assert call(client, "RemoveMember", agent)["Description"] == "Member missing"
    assert call(client, "RemoveMember", {**agent, "Member": "SIPSIP1"})["Data"] == {
        "TotalRemoved": 1
    }
    assert call(client, "RemoveMember", {**agent, "Member": "SIPSIP1"}) == {
        "Data": {"TotalRemoved": 0},
        "ErrorCode": 0,
        "Description": "OK",
    }
