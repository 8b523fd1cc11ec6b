"""mmDial: auth, getfieldsbycampaign, addlist, addlead, editlead, the lead and agent look-ups."""

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from opendialer.accounts.service import NewTenant
from opendialer.models import Contact, ContactStatus, ResultCode, User, UserRole
from opendialer.security import hash_password
from tests.dialects.mmdial.helpers import add_lead, add_list, campaign, lead_form

STATS = ("success", "error", "sqlerror", "formaterror", "doubleterror", "invaliderror")


def test_wrong_credentials_get_401(app: FastAPI, tenant: NewTenant) -> None:
    with TestClient(app, raise_server_exceptions=False) as client:
        anonymous = client.get("/mmdial/api/dncget")
        wrong = client.get("/mmdial/api/dncget", auth=(tenant.admin_user, "not-the-password"))
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"].startswith("Basic")
    assert wrong.status_code == 401
    assert wrong.json()["status"] == "error"


def test_agents_are_not_admins(app: FastAPI, tenant: NewTenant, session: Session) -> None:
    agent = User(
        tenant_id=tenant.tenant.id,
        username="agent7",
        role=UserRole.AGENT,
        password_hash=hash_password("pw"),
    )
    session.add(agent)
    session.commit()
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/mmdial/api/dncget", auth=("agent7", "pw"))
    assert response.status_code == 403


def test_getfieldsbycampaign(mm: TestClient, api: TestClient) -> None:
    campaign_id = campaign(api, fields=("product", "contract_no"))
    body = mm.get("getfieldsbycampaign", params={"campaign_id": campaign_id}).json()
    assert [f["name"] for f in body["fields"]] == ["product", "contract_no"]
    unknown = mm.get("getfieldsbycampaign", params={"campaign_id": 999999}).json()
    assert unknown["fields"] == [] and unknown["status"] == "error"
    assert "999999" in unknown["reason"]


def test_addlist(mm: TestClient, api: TestClient, other_api: TestClient) -> None:
    campaign_id = campaign(api)
    list_id = add_list(mm, campaign_id, "Spring mailing")
    lists = api.get("/api/v1/lists", params={"campaign_id": campaign_id}).json()["items"]
    assert [(x["id"], x["name"]) for x in lists] == [(list_id, "Spring mailing")]
    missing = mm.post("addlist", data={"campaignID": str(campaign_id)}).json()
    assert missing["status"] == "error" and "description" in missing["reason"]
    foreign = campaign(other_api, "Theirs")
    other = mm.post("addlist", data={"campaignID": str(foreign), "description": "x"}).json()
    assert other["status"] == "error"
    twice = mm.post(
        "addlist", data={"campaignID": str(campaign_id), "description": "Spring mailing"}
    )
    assert twice.json()["status"] == "error"


def test_addlead_inserts_through_the_importer(mm: TestClient, api: TestClient) -> None:
    campaign_id = campaign(api)
    list_id = add_list(mm, campaign_id)
    body = add_lead(
        mm,
        campaign_id,
        list_id,
        first_name="Max",
        last_name="Mustermann",
        phone="030 1234567",
        alt_phone="0171 2345678",
        plz="10115",
        ort="Berlin",
        leadid_external="CRM-4711",
        birthdate="02.03.1980",
        **{"formfields.product": "Basic"},
    )
    assert body["lead_stats"]["success"] == 1
    assert body["lead_stats"]["error"] == 0
    assert set(STATS) <= set(body["lead_stats"])
    found = mm.get("getleadbypexternalid", params={"leadid": "CRM-4711"}).json()
    assert found["status"] == "found"
    [lead] = found["lead_data"]
    assert lead["leadid"] == body["leadid"]
    assert (lead["first_name"], lead["last_name"], lead["ort"]) == ("Max", "Mustermann", "Berlin")
    assert (lead["phone"], lead["alt_phone"], lead["list_id"]) == (
        "030 1234567",
        "0171 2345678",
        list_id,
    )
    assert lead["status"] == "pending"
    assert found["formdata"] == [{"product": "Basic"}]
    native = api.get(f"/api/v1/contacts/{body['leadid']}").json()
    assert [p["e164"] for p in native["phones"]] == ["+49301234567", "+491712345678"]


def test_addlead_country_phone_code_reads_national_numbers(mm: TestClient, api: TestClient) -> None:
    campaign_id = campaign(api)
    list_id = add_list(mm, campaign_id)
    form = lead_form(campaign_id, list_id, {"phone": "01 5123456"}, country_phone_code="43")
    body = mm.post("addlead", data=form).json()
    assert body["lead_stats"]["success"] == 1
    phones = api.get(f"/api/v1/contacts/{body['leadid']}").json()["phones"]
    assert phones[0]["e164"] == "+4315123456"
    bad = mm.post("addlead", data=lead_form(campaign_id, list_id, {}, country_phone_code="999"))
    assert bad.json()["status"] == "error" and "country_phone_code" in bad.json()["reason"]


def test_addlead_doublet_checks(mm: TestClient, api: TestClient) -> None:
    first, second = campaign(api, "A"), campaign(api, "B")
    list_a, list_b = add_list(mm, first), add_list(mm, second)
    assert add_lead(mm, first, list_a, phone="0301234567")["lead_stats"]["success"] == 1

    def again(campaign_id: int, list_id: int, **checks: str) -> dict[str, int]:
        form = lead_form(campaign_id, list_id, {"phone": "+49 30 1234567"}, **checks)
        stats: dict[str, int] = mm.post("addlead", data=form).json()["lead_stats"]
        return stats

    in_campaign = again(first, list_a, doubletcheck_campaign="yes")
    assert (in_campaign["doubleterror"], in_campaign["success"], in_campaign["error"]) == (1, 0, 1)
    assert again(second, list_b, doubletcheck_campaign="yes")["success"] == 1
    assert again(second, list_b, doubletcheck_global="yes")["doubleterror"] == 1
    assert again(first, list_a)["success"] == 1  # no check: a second lead with the number


def test_addlead_invalid_and_format_errors(
    mm: TestClient, api: TestClient, session: Session
) -> None:
    campaign_id = campaign(api)
    list_id = add_list(mm, campaign_id)
    checked = lead_form(
        campaign_id, list_id, {"phone": "0301234567", "alt_phone": "12"}, invalidcheck="yes"
    )
    stats = mm.post("addlead", data=checked).json()["lead_stats"]
    assert (stats["invaliderror"], stats["error"], stats["success"]) == (1, 1, 0)
    no_number = add_lead(mm, campaign_id, list_id, phone="12", first_name="X")["lead_stats"]
    assert no_number["formaterror"] == 1 and no_number["formaterror_types"] == {"phone": 1}
    birthdate = add_lead(mm, campaign_id, list_id, phone="0301234567", birthdate="1980/3/2")
    assert birthdate["lead_stats"]["formaterror_types"] == {"birthdate": 1}
    too_long = add_lead(mm, campaign_id, list_id, phone="0301234567", plz="1" * 30)
    assert too_long["lead_stats"]["formaterror_types"] == {"plz": 1}
    count = session.scalar(select(Contact.id).where(Contact.campaign_id == campaign_id))
    assert count is None  # none of them was written


def test_addlead_rejects_unknown_fields_and_lists(mm: TestClient, api: TestClient) -> None:
    campaign_id, other = campaign(api, "A"), campaign(api, "B")
    list_id, other_list = add_list(mm, campaign_id), add_list(mm, other)
    cases = [
        lead_form(campaign_id, list_id, {"phone": "0301234567", "shoe_size": "44"}),
        lead_form(campaign_id, list_id, {"phone": "0301234567", "formfields.colour": "red"}),
        lead_form(campaign_id, other_list, {"phone": "0301234567"}),
        lead_form(campaign_id, list_id, {"phone": "0301234567"}, invalidcheck="maybe"),
        lead_form(999999, list_id, {"phone": "0301234567"}),
    ]
    for form in cases:
        body = mm.post("addlead", data=form).json()
        assert body["status"] == "error", form
        assert body["reason"]
        assert body["lead_stats"]["success"] == 0


def test_addlead_skips_numbers_on_the_dnc_list(mm: TestClient, api: TestClient) -> None:
    campaign_id = campaign(api)
    list_id = add_list(mm, campaign_id)
    assert mm.get("dncadd", params={"number": "0301234567"}).json()["status"] == "ok"
    stats = add_lead(mm, campaign_id, list_id, phone="0301234567")["lead_stats"]
    assert (stats["success"], stats["error"], stats["dncerror"]) == (0, 1, 1)


def test_editlead_partial_update(mm: TestClient, api: TestClient, session: Session) -> None:
    campaign_id = campaign(api, fields=("product", "note"))
    list_id = add_list(mm, campaign_id)
    lead_id = add_lead(
        mm,
        campaign_id,
        list_id,
        phone="0301234567",
        first_name="Max",
        **{"formfields.product": "Basic", "formfields.note": "n1"},
    )["leadid"]
    session.add(
        ResultCode(
            tenant_id=api.get("/api/v1/tenant").json()["id"],
            campaign_id=campaign_id,
            code="SALE",
            text_en="Sale",
            text_de="Verkauf",
        )
    )
    session.commit()
    response = mm.post(
        "editlead",
        params={"campaign_id": campaign_id, "leadid": lead_id},
        data={
            "leaddata[last_name]": "Mustermann",
            "leaddata[alt_phone]": "0171 2345678",
            "leaddata[status]": "SALE",
            "leaddata[rotation]": "0",
            "formfields[product]": "Premium",
        },
    )
    assert response.json() == {"status": "ok", "leadid": lead_id}
    found = mm.get("getleadbyid", params={"leadid": lead_id}).json()
    assert found["status"] == "found"
    lead = found["lead_data"]
    assert (lead["first_name"], lead["last_name"], lead["status"]) == ("Max", "Mustermann", "SALE")
    assert lead["alt_phone"] == "0171 2345678"
    assert found["formdata"] == {"product": "Premium", "note": "n1"}


def test_editlead_errors_change_nothing(mm: TestClient, api: TestClient, session: Session) -> None:
    campaign_id, other = campaign(api, "A"), campaign(api, "B")
    list_id = add_list(mm, campaign_id)
    lead_id = add_lead(mm, campaign_id, list_id, phone="0301234567", first_name="Max")["leadid"]
    where = {"campaign_id": campaign_id, "leadid": lead_id}
    cases = [
        (where, {"leaddata[first_name]": "Moritz", "leaddata[phone]": ""}),  # no number left
        (where, {"leaddata[first_name]": "Moritz", "leaddata[status]": "NOPE"}),
        (where, {"leaddata[first_name]": "Moritz", "formfields[colour]": "red"}),
        (where, {"leaddata[first_name]": "Moritz", "leaddata[rotation]": "-1"}),
        (where, {"leaddata[first_name]": "Moritz", "leaddata[plz]": "1" * 30}),
        ({"campaign_id": other, "leadid": lead_id}, {"leaddata[first_name]": "Moritz"}),
        ({"campaign_id": campaign_id, "leadid": 999999}, {"leaddata[first_name]": "Moritz"}),
        ({"campaign_id": campaign_id, "leadid": "abc"}, {"leaddata[first_name]": "Moritz"}),
    ]
    for params, data in cases:
        body = mm.post("editlead", params=params, data=data).json()
        assert body["status"] == "error", (params, data)
        assert body["reason"]
    session.expire_all()
    contact = session.get_one(Contact, lead_id)
    assert contact.first_name == "Max"
    assert contact.status is ContactStatus.PENDING


def test_lead_lookups(mm: TestClient, api: TestClient) -> None:
    first, second = campaign(api, "A"), campaign(api, "B")
    one = add_lead(mm, first, add_list(mm, first), phone="0301234567", leadid_external="E1")
    two = add_lead(mm, second, add_list(mm, second), phone="+49301234567", leadid_external="E1")
    by_phone = mm.get("getleadbyphonenumber", params={"number": "030 1234567"}).json()
    assert by_phone["status"] == "found"
    assert [x["leadid"] for x in by_phone["lead_data"]] == [one["leadid"], two["leadid"]]
    assert len(by_phone["formdata"]) == 2
    by_external = mm.get("getleadbypexternalid", params={"leadid": "E1"}).json()
    assert [x["campaign_id"] for x in by_external["lead_data"]] == [first, second]
    assert mm.get("getleadbyid", params={"leadid": 999999}).json()["status"] == "notfound"
    assert mm.get("getleadbypexternalid", params={"leadid": "E2"}).json()["status"] == "notfound"
    nobody = mm.get("getleadbyphonenumber", params={"number": "0891234567"}).json()
    assert nobody["status"] == "notfound"
    malformed = mm.get("getleadbyphonenumber", params={"number": "abc"}).json()
    assert malformed["status"] == "error"
    assert mm.get("getleadbyid").json()["status"] == "error"


def test_getagentbyid(mm: TestClient, api: TestClient, other_api: TestClient) -> None:
    created = api.post(
        "/api/v1/users",
        json={"username": "anna", "role": "agent", "display_name": "Anna", "extension": "101"},
    )
    assert created.status_code == 201, created.text
    agent_id = created.json()["id"]
    body = mm.get("getagentbyid", params={"agentid": agent_id}).json()
    assert body["status"] == "found"
    assert body["agent_info"][0]["name"] == "Anna"
    assert body["agent_info"][0]["extension"] == "101"
    theirs = other_api.post("/api/v1/users", json={"username": "bob", "role": "agent"}).json()
    assert mm.get("getagentbyid", params={"agentid": theirs["id"]}).json()["status"] == "notfound"
