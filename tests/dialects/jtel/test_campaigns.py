"""jtel Dialler Campaigns (spec 001 §4)."""

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from opendialer.accounts.service import NewTenant
from opendialer.campaigns.schemas import FormFieldWrite, RetryRuleWrite
from opendialer.campaigns.service import add_member, put_form_field, put_retry_rule
from opendialer.db import SessionMaker, unit_of_work
from opendialer.models import (
    Campaign,
    CampaignMember,
    CampaignStatus,
    Contact,
    FormField,
    ResultCode,
    RetryRule,
    User,
    UserRole,
)
from tests.dialects.jtel.helpers import campaign, import_body, result_code

EXAMPLE_CAMPAIGN_FIELDS = [
    "ContactPreviewTime",
    "nMaxParallelLines",
    "bCloseContactsOnIncomingCallsMatchCallerID",
    "dtTo",
    "LanguagesID",
    "bCallerIDActive",
    "Name",
    "ClientsID",
    "AbortOnNoTelNumberResultCodesID",
    "IncomingCallResultCodesID",
]


def test_list_get_and_get_by_name_examples(
    jtel: TestClient, sessions: SessionMaker, tenant: NewTenant
) -> None:
    with unit_of_work(sessions) as session:
        c1000 = campaign(session, tenant, "Campaign 1000").id
        campaign(session, tenant, "Another campaign 2000")
        campaign(session, tenant, "Outbound")
    everything = jtel.get("/dialler/campaigns").json()
    assert everything["count"] == 3 and everything["orderBy"] == "Name"
    assert everything["filter"] == "" and everything["limitPageSize"] == -1
    assert everything["status"] == 200 and everything["ascending"] is True
    names = [r["Name"] for r in everything["records"]]
    assert names == sorted(names)
    one = jtel.get(f"/dialler/campaigns/{c1000}").json()
    assert one["count"] == 1 and one["status"] == 200
    record = one["records"][0]
    assert all(field in record for field in EXAMPLE_CAMPAIGN_FIELDS)
    assert record["Name"] == "Campaign 1000" and record["ContactPreviewTime"] == 5
    assert record["LanguagesID"] == 2 and record["ClientsID"] == tenant.tenant.id
    partial = jtel.get("/dialler/campaigns/campaign", params={"name": "CAMPAIGN"}).json()
    assert sorted(r["Name"] for r in partial["records"]) == [
        "Another campaign 2000",
        "Campaign 1000",
    ]
    assert partial["count"] == 2 and partial["status"] == 200
    assert jtel.get("/dialler/campaigns/campaign?name=zzz").json()["count"] == 0
    assert jtel.get("/dialler/campaigns/campaign?name=").status_code == 400
    assert jtel.get("/dialler/campaigns/campaign").status_code == 400
    assert jtel.get("/dialler/campaigns/9999").status_code == 404


def test_result_codes_in_english_and_german(
    jtel: TestClient, sessions: SessionMaker, tenant: NewTenant
) -> None:
    with unit_of_work(sessions) as session:
        camp = campaign(session, tenant)
        result_code(session, camp, "sale", "Sale", "Verkauf")
        result_code(session, camp, "noint", "Not interested", "Kein Interesse")
        camp_id = camp.id
    path = f"/dialler/campaigns/campaign/{camp_id}/resultCodes"
    english = jtel.get(path, params={"languagesID": 1}).json()
    assert english["status"] == 200 and english["count"] == 2
    assert [r["Name"] for r in english["records"]] == ["Sale", "Not interested"]
    german = jtel.get(path, params={"languagesID": 2}).json()
    assert [r["Name"] for r in german["records"]] == ["Verkauf", "Kein Interesse"]
    assert german["records"][0]["DiallerCampaignsID"] == camp_id
    assert german["records"][0]["DiallerResultCodesTypesID"] == 3
    assert jtel.get(path).json()["records"][0]["Name"] == "Sale"  # default English
    assert jtel.get(path, params={"languagesID": 3}).status_code == 400
    assert jtel.get(path, params={"languagesID": "de"}).status_code == 400
    assert jtel.get("/dialler/campaigns/campaign/9999/resultCodes").status_code == 404


def test_clone_example_copies_everything_but_contacts(
    jtel: TestClient, sessions: SessionMaker, tenant: NewTenant
) -> None:
    with unit_of_work(sessions) as session:
        source = campaign(session, tenant, "Campaign 1000")
        source.max_tries_per_number, source.status = 7, CampaignStatus.ENABLED
        result_code(session, source, "sale", "Sale", "Verkauf")
        put_retry_rule(session, source, RetryRuleWrite(outcome="busy", retry_delay_seconds=60))
        put_form_field(session, source, FormFieldWrite(name="product"))
        agent = User(tenant_id=tenant.tenant.id, username="a1", role=UserRole.AGENT)
        session.add(agent)
        session.flush()
        add_member(session, source, agent.id)
        source_id = source.id
    assert jtel.post("/dialler/contacts/import", json=import_body(source_id)).status_code == 200
    body = {
        "source": "Campaign 1000",
        "destination": "My New Campaign",
        "userData": "UserData Field Contents",
    }
    response = jtel.post("/dialler/campaigns/clone", json=body)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["count"] == 1 and answer["status"] == 200
    clone = answer["records"][0]
    assert clone["Name"] == "My New Campaign" and clone["UserData"] == "UserData Field Contents"
    assert clone["ID"] != source_id and clone["nMaxTriesPerNumber"] == 7
    assert clone["bEnabled"] is False
    with unit_of_work(sessions) as session:
        for model in (ResultCode, RetryRule, FormField, CampaignMember):
            copied = session.scalar(
                select(func.count()).select_from(model).where(model.campaign_id == clone["ID"])
            )
            assert copied == 1, model
        contacts = session.scalar(
            select(func.count()).select_from(Contact).where(Contact.campaign_id == clone["ID"])
        )
        assert contacts == 0
    assert jtel.post("/dialler/campaigns/clone", json=body).status_code == 409
    unknown = jtel.post(
        "/dialler/campaigns/clone", json={**body, "source": "Nope", "destination": "X"}
    )
    assert unknown.status_code == 404 and unknown.json()["status"] == 404
    for bad in (
        {"source": "Campaign 1000"},
        {"destination": "Y"},
        {"source": 1, "destination": "Z"},
    ):
        response = jtel.post("/dialler/campaigns/clone", json=bad)
        assert response.status_code == 400 and response.json()["status"] == 400
    with unit_of_work(sessions) as session:
        assert session.scalar(select(func.count()).select_from(Campaign)) == 2


def test_delete_by_id_and_by_exact_name(
    jtel: TestClient, other_jtel: TestClient, sessions: SessionMaker, tenant: NewTenant
) -> None:
    with unit_of_work(sessions) as session:
        first = campaign(session, tenant, "First").id
        campaign(session, tenant, "Second")
    assert jtel.post("/dialler/contacts/import", json=import_body(first)).status_code == 200
    assert other_jtel.delete(f"/dialler/campaigns/campaign/{first}").status_code == 404
    assert jtel.delete(f"/dialler/campaigns/campaign/{first}").json() == {"status": 200}
    assert jtel.delete(f"/dialler/campaigns/campaign/{first}").status_code == 404
    assert jtel.delete("/dialler/campaigns/campaign?name=Sec").status_code == 404  # exact only
    assert jtel.delete("/dialler/campaigns/campaign?name=Second").json() == {"status": 200}
    with unit_of_work(sessions) as session:
        assert session.scalar(select(func.count()).select_from(Campaign)) == 0
        assert session.scalar(select(func.count()).select_from(Contact)) == 0


def test_other_tenants_campaigns_are_invisible(
    jtel: TestClient, other_jtel: TestClient, sessions: SessionMaker, tenant: NewTenant
) -> None:
    with unit_of_work(sessions) as session:
        camp_id = campaign(session, tenant, "Mine").id
    assert other_jtel.get("/dialler/campaigns").json()["count"] == 0
    assert other_jtel.get(f"/dialler/campaigns/{camp_id}").status_code == 404
    assert other_jtel.get("/dialler/campaigns/campaign?name=Mine").json()["count"] == 0
    clone = other_jtel.post("/dialler/campaigns/clone", json={"source": "Mine", "destination": "X"})
    assert clone.status_code == 404
    assert jtel.get(f"/dialler/campaigns/{camp_id}").status_code == 200
