"""Every request and response example of spec 003, run against the app.

The placeholder codes ("XXXX...") are replaced by real account and campaign codes; GET URLs are
the spec's, with the unencoded space in "John Doe" encoded as a client must.
"""

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from opendialer.models import Campaign, Contact
from tests.dialects.voicenter.conftest import BASE, Account, add_agent, call

HOST = "https://api.voicenter.com"


def get_url(client: TestClient, url: str, code: str) -> dict[str, Any]:
    """A spec GET URL with its placeholder code replaced, sent as written."""
    path = url.removeprefix(HOST).replace(" ", "%20")
    head, _, query = path.partition("?")
    params = [p.split("=", 1) for p in query.split("&")]
    query = "&".join(f"{k}={code if v.startswith('XXXX') else v}" for k, v in params)
    response = client.get(f"{head}?{query}")
    assert response.status_code == 200
    answer: dict[str, Any] = response.json()
    return answer


def targets(session: Session, campaign_id: int) -> list[Contact]:
    stmt = select(Contact).where(Contact.campaign_id == campaign_id).order_by(Contact.id)
    return list(session.scalars(stmt))


def test_get_campaign_list_examples(client: TestClient, account: Account) -> None:
    by_get = get_url(client, f"{HOST}{BASE}GetCampaignList?Code=XXXXXXXXXXXXX", account.code)
    by_post = call(client, "GetCampaignList", {"Code": account.code})
    assert by_get == by_post
    assert by_get["ErrorCode"] == 0 and by_get["Description"] == "OK"
    assert [c["Code"] for c in by_get["Data"]] == [account.agent, account.smart]
    example_keys = [
        *("Name", "StatusName", "TotalPendingCalls", "MaxPriority", "MinPriority"),
        *("TotalAwaitingCalls", "Code"),
    ]
    assert all(list(item) == example_keys for item in by_get["Data"])


def test_add_call_examples(client: TestClient, account: Account, session: Session) -> None:
    url = (
        f"{HOST}{BASE}AddCall?Campaign=XXXXXXXXXXXXXXXXXXXXX&Target=0501234567"
        "&CustomerName=John Doe&Priority=42&var_leadID=1234567"
    )
    assert get_url(client, url, account.agent) == {"ErrorCode": 0, "Description": "OK"}
    body = {
        "Campaign": account.agent,
        "Target": "0501234567",
        "CustomerName": "John Doe",
        "CallerID": "0722776772",
        "Priority": 42,
        "OriginateTime": 1602750000,
        "IsDateLocal": "true",
        "IgnoreDncStatus": "true",
        "CustomData": {"var_LeadID": 1234567, "var_LeadCampaign": "Facebook"},
    }
    assert call(client, "AddCall", body) == {"ErrorCode": 0, "Description": "OK"}
    by_get, by_post = targets(session, account.agent_id)
    assert (by_get.name, by_get.priority, by_get.custom_data) == (
        "John Doe",
        42,
        {"var_leadID": "1234567"},
    )
    assert by_get.phones[0].e164 == by_post.phones[0].e164 == "+972501234567"
    assert by_post.custom_data == {"var_LeadID": 1234567, "var_LeadCampaign": "Facebook"}
    assert (by_post.caller_id, by_post.ignore_dnc, by_post.originate_is_local) == (
        "0722776772",
        True,
        True,
    )


def test_add_calls_bulk_example(client: TestClient, account: Account) -> None:
    body = [
        {
            "Campaign": account.agent,
            "Target": "0501234567",
            "CustomerName": "John Doe",
            "CallerID": "0722776772",
            "Priority": 42,
            "OriginateTime": 1602750000,
            "IsDateLocal": "true",
            "IgnoreDncStatus": "true",
            "CustomData": {"var_LeadID": 1234567, "var_LeadCampaign": "Facebook"},
        },
        {"Campaign": account.agent, "Target": "0501234568"},
    ]
    assert call(client, "AddCallsBulk", body) == {
        "AddResult": [
            {
                "Target": "0501234567",
                "ErrorCode": 0,
                "Description": "OK",
                "CustomData": {"var_LeadID": 1234567, "var_LeadCampaign": "Facebook"},
            },
            {"Target": "0501234568", "ErrorCode": 0, "Description": "OK", "CustomData": {}},
        ],
        "ErrorCode": 0,
        "Description": "OK",
    }


def test_remove_call_examples(client: TestClient, account: Account, session: Session) -> None:
    for _ in range(2):
        call(client, "AddCall", {"Campaign": account.agent, "Target": "0501234567"})
    url = f"{HOST}{BASE}RemoveCall?Campaign=XXXXXXXXXXXXXXXXXXXXXXXXXXXXX&Target=0501234567"
    assert get_url(client, url, account.agent) == {"ErrorCode": 0, "Description": "OK"}
    assert targets(session, account.agent_id) == []
    body = {"Campaign": account.agent, "Target": "0501234567"}
    assert call(client, "RemoveCall", body) == {"ErrorCode": 0, "Description": "OK"}


def test_clear_campaign_calls_examples(
    client: TestClient, account: Account, session: Session
) -> None:
    call(client, "AddCall", {"Campaign": account.agent, "Target": "0501234567"})
    url = f"{HOST}{BASE}ClearCampaignCalls?Campaign=XXXXXXXXXXXXXXXXXXXXXXXXXXXXX"
    # The spec's "example response" copies the request (V8): success is the usual OK.
    assert get_url(client, url, account.agent) == {"ErrorCode": 0, "Description": "OK"}
    assert targets(session, account.agent_id) == []
    assert call(client, "ClearCampaignCalls", {"Campaign": account.agent})["ErrorCode"] == 0


def test_members_examples(client: TestClient, account: Account, sessions: Any) -> None:
    add_agent(sessions, account.tenant_id, "SIPSIP1", "Walter Melon")
    add_agent(sessions, account.tenant_id, "SIPSIP2", "John Doe")
    url = f"{HOST}{BASE}AddMember?campaign=XXXXXXXXXXXXXXXXXXXXXXXXXXXXX&member=SIPSIP1"
    added = get_url(client, url, account.agent)
    assert added == {"Data": {"TotalAdded": 1}, "ErrorCode": 0, "Description": "OK"}
    body = {"Campaign": account.agent, "Member": "SIPSIP2"}
    assert call(client, "AddMember", body)["Data"] == {"TotalAdded": 1}
    expected = {
        "Data": [
            {"Member": "SIPSIP1", "DisplayName": "Walter Melon"},
            {"Member": "SIPSIP2", "DisplayName": "John Doe"},
        ],
        "ErrorCode": 0,
        "Description": "OK",
    }
    url = f"{HOST}{BASE}GetMembersList?Campaign=XXXXXXXXXXXXXXXXXXXXXXXXXXXXX"
    assert get_url(client, url, account.agent) == expected
    # The POST example's code has a leading space (V4): trimmed.
    assert call(client, "GetMembersList", {"Campaign": " " + account.agent}) == expected
    url = f"{HOST}{BASE}RemoveMember?campaign=XXXXXXXXXXXXXXXXXXXXXXXXXXXXX&member=SIPSIP1"
    removed = get_url(client, url, account.agent)
    assert removed == {"Data": {"TotalRemoved": 1}, "ErrorCode": 0, "Description": "OK"}
    body = {"Campaign": account.agent, "Member": "SIPSIP2"}
    assert call(client, "RemoveMember", body)["Data"] == {"TotalRemoved": 1}
    assert call(client, "GetMembersList", Campaign=account.agent)["Data"] == []


def test_stop_and_start_examples(client: TestClient, account: Account) -> None:
    for method in ("StopCampaign", "StartCampaign"):
        # The source's example responses show the error case.
        assert call(client, method, {"Campaign": "XXXXXXXXXXXXXXXX"}) == {
            "ErrorCode": 1,
            "Description": "Invalid campaign code",
        }
    url = f"{HOST}{BASE}StartCampaign?campaign=XXXXXXXXXXXXXXXXXXXXXXXXXXXXX"
    assert get_url(client, url, account.agent) == {"ErrorCode": 0, "Description": "OK"}
    assert call(client, "GetCampaignDetails", Campaign=account.agent)["Data"]["StatusName"] == (
        "Enabled"
    )
    url = f"{HOST}{BASE}StopCampaign?campaign=XXXXXXXXXXXXXXXXXXXXXXXXXXXXX"
    assert get_url(client, url, account.agent) == {"ErrorCode": 0, "Description": "OK"}
    assert call(client, "GetCampaignDetails", Campaign=account.agent)["Data"]["StatusName"] == (
        "Disabled"
    )


def test_pending_calls_example(client: TestClient, account: Account) -> None:
    call(client, "StartCampaign", Campaign=account.agent)
    numbers = ["972770648812", "972527903511", "972722776772", "972776048812"]
    numbers += ["972722776772"] * 3
    for number in numbers:
        call(client, "AddCall", {"Campaign": account.agent, "Target": number})
    answer = call(client, "GetCampaignPendingCalls", {"Campaign": account.agent})
    assert (answer["ErrorCode"], answer["Description"]) == (0, "OK")
    campaign = answer["Data"]["Campaign"]
    assert campaign == {
        "ID": account.agent_id,
        "Name": "Campaign1",
        "Status": 1,
        "Code": account.agent,
        "StatusName": "Enabled",
        "TotalPendingCalls": 7,
        "MaxPriority": 1,
        "MinPriority": 1,
        "IsDynamic": 1,
    }
    calls = answer["Data"]["Calls"]
    assert [c["Phone"] for c in calls] == numbers[::-1]  # newest first, as in the example
    ids = [int(c["CallID"]) for c in calls]
    assert ids == sorted(ids, reverse=True)
    first = calls[0]
    assert list(first) == [
        *("CampaignID", "CallID", "Phone", "CallStatus", "CallInserted", "CallerID"),
        *("CallerName", "CustomerName", "Priorety", "LastCallDate", "CustomData"),
    ]
    assert first["CallStatus"] == {"Status": 1, "Description": "Tosend"}
    assert first["CampaignID"] == account.agent_id and first["Priorety"] == 1
    assert first["LastCallDate"] is None and first["CustomData"] is None
    assert first["CallInserted"].endswith("Z") and len(first["CallInserted"]) == 24


def test_update_call_examples(client: TestClient, account: Account, session: Session) -> None:
    url = (
        f"{HOST}{BASE}UpdateCall?Campaign=XXXXXXXXXXXXXXXXXXXXX&Target=0501234567"
        "&CustomerName=John Doe&Priority=42&var_leadID=1234567"
    )
    assert get_url(client, url, account.agent) == {"ErrorCode": 0, "Description": "OK"}
    body = {
        "Campaign": account.agent,
        "Target": "0501234567",
        "CustomerName": "John Doe",
        "CallerID": "0722776772",
        "Priority": 42,
        "OriginateTime": 1602750000,
        "IsDateLocal": "true",
        "CustomData": {"var_LeadID": 1234567, "var_LeadCampaign": "Facebook"},
    }
    assert call(client, "UpdateCall", body) == {"ErrorCode": 0, "Description": "OK"}
    (target,) = targets(session, account.agent_id)  # added by the GET, updated by the POST
    assert target.caller_id == "0722776772" and target.priority == 42
    assert target.custom_data == {
        "var_leadID": "1234567",
        "var_LeadID": 1234567,
        "var_LeadCampaign": "Facebook",
    }


def test_campaign_details_examples(client: TestClient, account: Account) -> None:
    call(client, "StartCampaign", Campaign=account.smart)
    for _ in range(23):
        call(client, "AddCall", {"Campaign": account.smart, "Target": "0501234567"})
    url = f"{HOST}{BASE}GetCampaignDetails?Campaign=XXXXXXXXXXXXXXXXXXXXX"
    expected = {
        "Data": {
            "Name": "Campaign2",
            "StatusName": "Enabled",
            "TotalPendingCalls": 23,
            "MaxPriority": 1,
            "MinPriority": 1,
            "TotalAwaitingCalls": 23,
            "Code": account.smart,
        },
        "ErrorCode": 0,
        "Description": "OK",
    }
    assert get_url(client, url, account.smart) == expected
    assert call(client, "GetCampaignDetails", {"Campaign": account.smart}) == expected


def test_settings_example(client: TestClient, account: Account, session: Session) -> None:
    body = {
        "Campaign": account.smart,
        "setQueueForMonitoring": 123456789,
        "setQueueMaximumCallers": 1,
        "setCoefficient": 2,
    }
    # The source's " ErrorCode" (leading space) is read as ErrorCode (V4).
    assert call(client, "UpdateCampaignSettings", body) == {"ErrorCode": 0, "Description": "OK"}
    campaign = session.get_one(Campaign, account.smart_id)
    assert (campaign.monitored_queue, campaign.max_waiting_callers) == (123456789, 1)
    assert campaign.pacing_coefficient == 2.0
