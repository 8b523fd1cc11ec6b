"""Campaign codes at rest: derived codes, old (hashed) codes, forged and replaced codes."""

from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from opendialer.campaigns.codes import CodeKey, new_code
from opendialer.crm.schemas import EndpointCreate
from opendialer.crm.service import create_endpoint
from opendialer.db import SessionMaker, unit_of_work
from opendialer.models import Campaign, CampaignStatus, OutboxMessage
from opendialer.scoping import Scope
from opendialer.security import hash_token
from opendialer.web.state import state_of
from tests.dialects.voicenter.conftest import BASE, Account, add_agent, call
from tests.dialects.voicenter.test_examples import targets

OLD_CODE = "cNnBe03V3A9LdNIRXVslapVNhEKG75GO"  # the shape codes had before they were derived
OK = {"ErrorCode": 0, "Description": "OK"}
INVALID = {"ErrorCode": 1, "Description": "Invalid campaign code"}


def _make_old(sessions: SessionMaker, campaign_id: int, code: str = OLD_CODE) -> None:
    """The campaign as migration 17c5ec7e0003 leaves one made before: its code's hash only."""
    with unit_of_work(sessions) as s:
        campaign = s.get_one(Campaign, campaign_id)
        campaign.code_salt, campaign.legacy_code_hash = None, hash_token(code)


def _code_methods(code: str) -> list[tuple[str, dict[str, Any]]]:
    """Every method that takes a campaign code, with a valid request for an agent campaign."""
    target = {"Campaign": code, "Target": "0501234567"}
    settings = {"setQueueForMonitoring": 5, "setQueueMaximumCallers": 3, "setCoefficient": 1.5}
    return [
        ("AddCall", target),
        ("UpdateCall", {**target, "CustomerName": "Dana"}),
        ("RemoveCall", target),
        ("AddCall", target),
        ("GetCampaignDetails", {"Campaign": code}),
        ("GetCampaignPendingCalls", {"Campaign": code}),
        ("ClearCampaignCalls", {"Campaign": code}),
        ("StartCampaign", {"Campaign": code}),
        ("StopCampaign", {"Campaign": code}),
        ("UpdateCampaignSettings", {"Campaign": code, **settings}),
        ("AddMember", {"Campaign": code, "Member": "SIPSIP1"}),
        ("GetMembersList", {"Campaign": code}),
        ("RemoveMember", {"Campaign": code, "Member": "SIPSIP1"}),
    ]


def test_an_old_code_opens_every_method_but_is_listed_as_null(
    client: TestClient, account: Account, sessions: SessionMaker
) -> None:
    add_agent(sessions, account.tenant_id, "SIPSIP1", "Walter Melon")
    _make_old(sessions, account.agent_id)
    for method, body in _code_methods(OLD_CODE):
        answer = call(client, method, body)
        assert (answer["ErrorCode"], answer["Description"]) == (0, "OK"), (method, answer)
    bulk = [{"Campaign": OLD_CODE, "Target": "0501234567"}]
    bulk.append({"Campaign": account.smart, "Target": "0501234568"})
    results = call(client, "AddCallsBulk", bulk)["AddResult"]
    assert [r["ErrorCode"] for r in results] == [0, 0]
    with unit_of_work(sessions) as s:
        assert len(targets(s, account.agent_id)) == 1 and len(targets(s, account.smart_id)) == 1
    listed = call(client, "GetCampaignList", Code=account.code)["Data"]
    assert [c["Code"] for c in listed] == [None, account.smart]
    details = call(client, "GetCampaignPendingCalls", {"Campaign": OLD_CODE})["Data"]
    assert details["Campaign"]["Code"] is None


def test_derived_codes_are_listed_and_open_every_method(
    client: TestClient, account: Account, sessions: SessionMaker
) -> None:
    add_agent(sessions, account.tenant_id, "SIPSIP1", "Walter Melon")
    listed = call(client, "GetCampaignList", Code=account.code)["Data"]
    assert [c["Code"] for c in listed] == [account.agent, account.smart]
    for method, body in _code_methods(account.agent):
        answer = call(client, method, body)
        assert (answer["ErrorCode"], answer["Description"]) == (0, "OK"), (method, answer)
    details = call(client, "GetCampaignDetails", {"Campaign": account.agent})["Data"]
    assert details["Code"] == account.agent


def test_forged_codes_are_refused(client: TestClient, account: Account) -> None:
    agent_id, signature = account.agent.split(".")
    smart_id = account.smart.split(".")[0]
    forged = [
        f"{smart_id}.{signature}",  # another campaign's id with this signature
        f"{agent_id}.{'A' * 32}",
        f"0{agent_id}.{signature}",  # the same id written differently
        hash_token(account.agent),  # what a database would hold if codes were hashed
    ]
    for code in forged:
        body = {"Campaign": code, "Target": "0501234567"}
        assert call(client, "AddCall", body) == INVALID, code
        assert call(client, "StartCampaign", {"Campaign": code}) == INVALID, code
        results = call(client, "AddCallsBulk", [body])["AddResult"]
        assert results[0]["ErrorCode"] == 1, code


def test_codes_are_made_with_the_server_secret(client: TestClient, account: Account) -> None:
    agent_id = int(account.agent.split(".")[0])
    salt = _salt(client, agent_id)
    other = CodeKey("another server's secret key, at least 32 characters").code(agent_id, salt)
    assert other is not None and other != account.agent
    assert call(client, "AddCall", {"Campaign": other, "Target": "0501234567"}) == INVALID


def _salt(client: TestClient, campaign_id: int) -> str:
    assert isinstance(client.app, FastAPI)
    sessions: SessionMaker = state_of(client.app).sessions
    with unit_of_work(sessions) as s:
        salt = s.get_one(Campaign, campaign_id).code_salt
    assert salt is not None
    return salt


def test_a_new_code_replaces_the_old_one(
    client: TestClient, account: Account, sessions: SessionMaker, code_key: CodeKey
) -> None:
    _make_old(sessions, account.smart_id)
    for old in (account.agent, OLD_CODE):
        campaign_id = account.agent_id if old == account.agent else account.smart_id
        with unit_of_work(sessions) as s:
            new = code_key.of(new_code(s, Scope.system(account.tenant_id), campaign_id))
        assert new is not None and new != old
        assert call(client, "AddCall", {"Campaign": old, "Target": "0501234567"}) == INVALID
        assert call(client, "AddCall", {"Campaign": new, "Target": "0501234567"}) == OK
        assert call(client, "GetCampaignDetails", {"Campaign": new})["Data"]["Code"] == new


def test_no_campaign_code_in_a_database_dump(
    client: TestClient, account: Account, sessions: SessionMaker, session: Session
) -> None:
    with unit_of_work(sessions) as s:
        body = EndpointCreate(name="crm", kind="webhook", url="https://crm.example/hook")
        create_endpoint(s, Scope.system(account.tenant_id), body)
    assert call(client, "StartCampaign", {"Campaign": account.agent}) == OK
    assert session.get_one(Campaign, account.agent_id).status is CampaignStatus.ENABLED
    dump = ""
    for table in ("campaigns", "outbox_messages", "tenants"):
        dump += str(session.execute(text(f"SELECT * FROM {table}")).all())
    assert session.query(OutboxMessage).count() == 1  # campaign.started, without the code
    for code in (account.agent, account.smart):
        assert code not in dump and code.split(".")[1] not in dump


def _raw(client: TestClient, method: str, body: str) -> Any:
    response = client.post(BASE + method, content=body.encode())
    assert response.status_code == 200, response.text
    return response.json()


def test_a_code_with_a_lone_surrogate_is_refused_as_malformed(
    client: TestClient, account: Account
) -> None:
    """JSON can carry ``"\\udcff"``: the shared body rule refuses it before any code is looked
    up (never the internal error it once was); ``hash_token`` is total all the same."""
    text = '"\\udcff"'
    target = f'{{"Campaign": {text}, "Target": "0501234567"}}'
    malformed = {"ErrorCode": -1, "Description": "Malformed JSON body"}
    assert _raw(client, "AddCall", target) == malformed
    assert _raw(client, "StartCampaign", f'{{"Campaign": {text}}}') == malformed
    assert _raw(client, "AddCallsBulk", f"[{target}]") == malformed
    assert _raw(client, "GetCampaignList", f'{{"Code": {text}}}') == malformed
    assert hash_token("\udcff") != hash_token("\udcfe")
