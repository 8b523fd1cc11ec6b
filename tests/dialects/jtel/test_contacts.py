"""jtel Dialler Contacts (spec 001 §3): every documented function, its example, and bad input."""

from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from opendialer.accounts.service import NewTenant
from opendialer.db import SessionMaker, unit_of_work
from opendialer.models import CallAttempt, CallOutcome, Contact, ContactPhone, ContactStatus
from tests.dialects.jtel.helpers import NUMBERS, campaign, import_body

# §3.4 "Example (all fields, provide DiallerCampaignsID)", verbatim except the campaign id and
# the phone placeholders ("PhoneNumber1"...), which are not numbers.
FULL_IMPORT: dict[str, Any] = {
    "DiallerCampaignsID": 538,
    "RandomSortOrder": None,
    "UserData": "testUserData",
    "Client": "Client",
    "Service": "Service",
    "ReferenceNumber": "ReferenceNumber",
    "Name": "Name",
    "FirstName": "FirstName",
    "Salutation": "Salutation",
    "Title": "Title",
    "Company": "Company",
    "Address": "Address",
    "PostalCode": "PostalCode",
    "City": "City",
    "Country": "Country",
    "AccountOwner": "AccountOwner",
    "AccountBank": "AccountBank",
    "AccountNationalBankCode": "AccountNationalBankCode",
    "AccountBIC": "AccountBIC",
    "AccountNumber": "AccountNumber",
    "AccountIBAN": "AccountIBAN",
    "Amount": 0.0,
    "PhoneNumber1": "PhoneNumber1",
    "PhoneNumber2": "PhoneNumber2",
    "PhoneNumber3": "PhoneNumber3",
    "PhoneNumber4": "PhoneNumber4",
    "PhoneNumber5": "PhoneNumber5",
    "PhoneNumber6": "PhoneNumber6",
    "FaxNumber": "FaxNumber",
    "Email": "Email",
    "Website": "Website",
    "Comment": "Comment",
    "ReservedUsersUID": "ReservedUsersUID",
    "FollowUpUsersUID": "FollowUpUsersUID",
    "FollowUpDateTime": None,
    "dtBeginDate": "2020-01-01T00:00:00",
    "dtEndDate": "2020-03-01T00:00:00",
    "Manufacturer": "Manufacturer",
    "Model": "Model",
    "Tag": "Tag",
    "ExternalSystemLink": "http://test.external.link/",
}

# §3.5 "Example (all fields which can be updated, provide ID)" (ID replaced).
FULL_UPDATE: dict[str, Any] = {
    "ID": 123456,
    "UserData": "newUserData",
    "UserData2": "newUserData2",
    "UserData3": "newUserData3",
    "Client": "NewClient",
    "Service": "NewService",
    "ReferenceNumber": "NewReferenceNumber",
    "Name": "NewName",
    "FirstName": "NewFirstName",
    "Salutation": "NewSalutation",
    "Title": "NewTitle",
    "Company": "NewCompany",
    "Address": "NewAddress",
    "PostalCode": "NewPostCode",
    "City": "NewCity",
    "Country": "NewCountry",
    "AccountOwner": "NewAccountOwner",
    "AccountBank": "NewAccountBank",
    "AccountNationalBankCode": "NewAccountNationalBankCode",
    "AccountBIC": "NewAccountBIC",
    "AccountNumber": "NewAccountNumber",
    "AccountIBAN": "NewAccountIBAN",
    "Amount": 999.99,
    "PhoneNumber1": "NewPhoneNumber1",
    "PhoneNumber2": "NewPhoneNumber2",
    "PhoneNumber3": "NewPhoneNumber3",
    "PhoneNumber4": "NewPhoneNumber4",
    "PhoneNumber5": "NewPhoneNumber5",
    "PhoneNumber6": "NewPhoneNumber6",
    "FaxNumber": "NewFaxNumber",
    "Email": "NewEmail",
    "Website": "NewWebsite",
    "Comment": "NewComment",
    "Region": "NewRegion",
    "dtBeginDate": "2030-01-01T00:00:00",
    "dtEndDate": "2030-03-01T00:00:00",
    "Manufacturer": "NewManufacturer",
    "Model": "NewModel",
    "Tag": "NewTag",
    "ExternalSystemLink": "http://test.external.link/NewURL",
}

EXAMPLE_FIELDS = [  # field names that appear in the §3.1-3.3 example records
    "bLastResultMailbox",
    "bPhoneNumber1Invalid",
    "bPhoneNumber6Invalid",
    "Company",
    "ExternalSystemLink",
    "Email",
    "LastAcdAgentEndReasonsID",
    "Address",
    "PhoneNumber2LastAcdAgentEndReasonsID",
    "PhoneNumber3LastAcdAgentEndReasonsID",
    "dtNextTry",
    "Name",
    "nTriesPhoneNumber4",
    "nTriesPhoneNumber6",
    "nPhoneNumber4LastCause",
    "nPhoneNumber6LastCause",
    "Model",
    "Tag",
]


def _imported(jtel: TestClient, body: dict[str, Any], query: str = "") -> dict[str, Any]:
    response = jtel.post(f"/dialler/contacts/import{query}", json=body)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["status"] == 200 and answer["count"] == 1
    record: dict[str, Any] = answer["records"][0]
    return record


def _count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(Contact)) or 0)


# Examples -------------------------------------------------------------------------------------


def test_full_import_example_stores_every_field(
    jtel: TestClient, sessions: SessionMaker, tenant: NewTenant
) -> None:
    with unit_of_work(sessions) as session:
        camp_id = campaign(session, tenant).id
    body = {**FULL_IMPORT, "DiallerCampaignsID": camp_id}
    body.update({f"PhoneNumber{i + 1}": n for i, n in enumerate(NUMBERS)})
    record = _imported(jtel, body)
    assert record["DiallerCampaignsID"] == camp_id
    for field in ("UserData", "Client", "Company", "AccountIBAN", "Email", "Tag", "Model"):
        assert record[field] == FULL_IMPORT[field]
    assert record["ExternalSystemLink"] == "http://test.external.link/"
    assert record["PhoneNumber6"] == NUMBERS[5].removeprefix("+")
    assert record["bPhoneNumber1Invalid"] is False and record["nTriesPhoneNumber1"] == 0
    assert record["dtBeginDate"] == "2020-01-01T00:00:00"  # local time round-trips
    assert record["dtEndDate"] == "2020-03-01T00:00:00"
    assert record["Amount"] == 0.0
    assert all(field in record for field in EXAMPLE_FIELDS)
    with unit_of_work(sessions) as session:
        contact = session.get_one(Contact, record["ID"])
        assert contact.begin_at == datetime(2019, 12, 31, 23, 0, tzinfo=UTC)  # Berlin midnight
        # UIDs that name no user of the account are kept, not lost
        assert contact.custom_data == {
            "ReservedUsersUID": "ReservedUsersUID",
            "FollowUpUsersUID": "FollowUpUsersUID",
        }


def test_full_import_example_verbatim_is_refused_for_want_of_a_number(
    jtel: TestClient, sessions: SessionMaker, tenant: NewTenant
) -> None:
    with unit_of_work(sessions) as session:
        camp_id = campaign(session, tenant).id
    response = jtel.post(
        "/dialler/contacts/import", json={**FULL_IMPORT, "DiallerCampaignsID": camp_id}
    )
    assert response.status_code == 400
    assert response.json()["status"] == 400
    assert "phone number" in response.json()["message"]
    with unit_of_work(sessions) as session:
        assert _count(session) == 0


def test_import_by_campaign_name_example(
    jtel: TestClient, sessions: SessionMaker, tenant: NewTenant
) -> None:
    with unit_of_work(sessions) as session:
        camp_id = campaign(session, tenant, "My Campaign").id
    body = {
        "DiallerCampaignsName": "My Campaign",
        "RandomSortOrder": None,
        "UserData": "testUserData",
        "Client": "Client",
        "Service": "Service",
        "ReferenceNumber": "ReferenceNumber",
        "Name": "Name",
        "PhoneNumber1": "089 4614950703",  # national form, tenant region DE
        "ExternalSystemLink": "http://test.external.link/",
    }
    record = _imported(jtel, body)
    assert record["DiallerCampaignsID"] == camp_id
    assert record["PhoneNumber1"] == "49894614950703"


def test_list_get_and_get_by_user_data_examples(
    jtel: TestClient, sessions: SessionMaker, tenant: NewTenant
) -> None:
    with unit_of_work(sessions) as session:
        first, second = campaign(session, tenant, "A").id, campaign(session, tenant, "B").id
    zed = _imported(jtel, import_body(first, "z", Name="Zimmermann"))
    mus = _imported(jtel, import_body(second, "m", Name="Mustermann", Company="Musterfirma GmbH"))

    everything = jtel.get("/dialler/contacts").json()
    assert {k: everything[k] for k in ("filter", "limitStart", "limitPageSize")} == {
        "filter": "",
        "limitStart": 0,
        "limitPageSize": -1,
    }
    assert everything["count"] == 2 and everything["orderBy"] == "Name"
    assert everything["ascending"] is True and everything["status"] == 200
    assert [r["Name"] for r in everything["records"]] == ["Mustermann", "Zimmermann"]
    one_campaign = jtel.get("/dialler/contacts", params={"diallerCampaignsID": first}).json()
    assert [r["ID"] for r in one_campaign["records"]] == [zed["ID"]]

    by_id = jtel.get(f"/dialler/contacts/{mus['ID']}").json()
    assert by_id["count"] == 1 and by_id["status"] == 200
    assert by_id["records"][0]["Company"] == "Musterfirma GmbH"
    assert all(field in by_id["records"][0] for field in EXAMPLE_FIELDS)

    by_user_data = jtel.get("/dialler/contacts/contact", params={"userData": "m"}).json()
    assert by_user_data["count"] == 1 and by_user_data["records"][0]["ID"] == mus["ID"]
    # the French text's older parameter name works too (case-insensitive, G9)
    old_name = jtel.get("/dialler/contacts/contact", params={"UserData": "m"}).json()
    assert old_name["count"] == 1
    none = jtel.get("/dialler/contacts/contact", params={"userData": "nobody"})
    assert none.status_code == 200 and none.json() == {"records": [], "count": 0, "status": 200}


def test_full_update_example_by_id(
    jtel: TestClient, sessions: SessionMaker, tenant: NewTenant
) -> None:
    with unit_of_work(sessions) as session:
        camp_id = campaign(session, tenant).id
    contact_id = _imported(jtel, import_body(camp_id))["ID"]
    body = {**FULL_UPDATE, "ID": contact_id}
    body.update({f"PhoneNumber{i + 1}": n for i, n in enumerate(reversed(NUMBERS))})
    response = jtel.post("/dialler/contacts/update", json=body)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["count"] == 1 and answer["status"] == 200
    record = answer["records"][0]
    assert record["ID"] == contact_id
    assert record["UserData"] == "newUserData"  # with ID given, UserData is the new value
    assert record["Region"] == "NewRegion" and record["UserData3"] == "newUserData3"
    assert record["Amount"] == 999.99
    assert record["PhoneNumber1"] == NUMBERS[5].removeprefix("+")
    assert record["dtBeginDate"] == "2030-01-01T00:00:00"


def test_partial_update_example_by_user_data_changes_only_what_is_sent(
    jtel: TestClient, sessions: SessionMaker, tenant: NewTenant
) -> None:
    with unit_of_work(sessions) as session:
        camp_id = campaign(session, tenant).id
    first = _imported(jtel, import_body(camp_id, "MyUserData", Company="Keep GmbH"))
    second = _imported(jtel, import_body(camp_id, "MyUserData", Company="Other"))
    body = {"UserData": "MyUserData", "Name": "CorrectedName", "FirstName": "CorrectedFirstName"}
    record = jtel.post("/dialler/contacts/update", json=body).json()["records"][0]
    assert record["ID"] == first["ID"]  # the lowest ID is "the first one found"
    assert (record["Name"], record["FirstName"]) == ("CorrectedName", "CorrectedFirstName")
    assert record["Company"] == "Keep GmbH" and record["UserData"] == "MyUserData"
    untouched = jtel.get(f"/dialler/contacts/{second['ID']}").json()["records"][0]
    assert untouched["Name"] == "Mustermann"


# Import flags ---------------------------------------------------------------------------------


def test_overwrite_duplicates_updates_the_match_else_a_new_contact(
    jtel: TestClient, sessions: SessionMaker, tenant: NewTenant
) -> None:
    with unit_of_work(sessions) as session:
        camp_id = campaign(session, tenant).id
    original = _imported(jtel, import_body(camp_id, "dup", City="Munich"))
    again = _imported(jtel, import_body(camp_id, "dup", City="Berlin"))
    assert again["ID"] != original["ID"]  # overwriteDuplicates absent = false: always new
    updated = _imported(
        jtel, import_body(camp_id, "dup", City="Hamburg"), "?overwriteDuplicates=true"
    )
    assert updated["ID"] == original["ID"] and updated["City"] == "Hamburg"
    with unit_of_work(sessions) as session:
        assert _count(session) == 2


def _dialled_once(sessions: SessionMaker, contact_id: int) -> None:
    with unit_of_work(sessions) as session:
        contact = session.get_one(Contact, contact_id)
        contact.tries, contact.status, contact.locked = 1, ContactStatus.DONE, True
        contact.phones[0].tries = 1
        contact.phones[0].last_cause = 17


def test_reset_and_unlock_flags_on_a_duplicate(
    jtel: TestClient, sessions: SessionMaker, tenant: NewTenant
) -> None:
    with unit_of_work(sessions) as session:
        camp_id = campaign(session, tenant).id
    contact_id = _imported(jtel, import_body(camp_id, "flags"))["ID"]
    _dialled_once(sessions, contact_id)
    kept = _imported(
        jtel, import_body(camp_id, "flags"), "?overwriteDuplicates=true&unlockContact=false"
    )
    assert kept["bLocked"] is True and kept["nTriesPhoneNumber1"] == 1  # no reset asked
    before = _imported(jtel, import_body(camp_id, "flags"), "?overwriteDuplicates=true")
    assert before["bLocked"] is False  # as before 3.39: unlocked
    assert before["nTriesPhoneNumber1"] == 1
    _dialled_once(sessions, contact_id)
    reset = _imported(
        jtel, import_body(camp_id, "flags"), "?overwriteDuplicates=true&resetContact=true"
    )
    assert reset["nTriesPhoneNumber1"] == 0 and reset["nPhoneNumber1LastCause"] is None
    assert reset["Status"] == "pending" and reset["bLocked"] is False


# Delete, lock, unlock, reset -----------------------------------------------------------------


def test_lock_unlock_reset_by_id_and_by_user_data(
    jtel: TestClient, sessions: SessionMaker, tenant: NewTenant
) -> None:
    with unit_of_work(sessions) as session:
        camp_id = campaign(session, tenant).id
    first = _imported(jtel, import_body(camp_id, "same"))["ID"]
    second = _imported(jtel, import_body(camp_id, "same"))["ID"]

    def locked(contact_id: int) -> bool:
        with unit_of_work(sessions) as session:
            return session.get_one(Contact, contact_id).locked

    assert jtel.patch(f"/dialler/contacts/contact/{second}/lock").json() == {"status": 200}
    assert locked(second) and not locked(first)
    assert jtel.patch("/dialler/contacts/contact/lock?userData=same").json() == {"status": 200}
    assert locked(first)  # the lowest id
    assert jtel.patch(f"/dialler/contacts/contact/{second}/unlock").json() == {"status": 200}
    assert not locked(second)
    assert jtel.patch("/dialler/contacts/contact/unlock?userData=same").json() == {"status": 200}
    assert not locked(first)

    _dialled_once(sessions, first)
    assert jtel.patch("/dialler/contacts/contact/reset?userData=same").json() == {"status": 200}
    with unit_of_work(sessions) as session:
        contact = session.get_one(Contact, first)
        assert contact.tries == 0 and contact.phones[0].tries == 0
        assert contact.status is ContactStatus.PENDING and contact.phones[0].last_cause is None
        assert contact.locked  # reset does not unlock (lock and unlock are their own calls)
    _dialled_once(sessions, second)
    assert jtel.patch(f"/dialler/contacts/contact/{second}/reset").json() == {"status": 200}
    with unit_of_work(sessions) as session:
        assert session.get_one(Contact, second).tries == 0


def test_delete_by_id_and_by_user_data(
    jtel: TestClient, sessions: SessionMaker, tenant: NewTenant
) -> None:
    with unit_of_work(sessions) as session:
        camp_id = campaign(session, tenant).id
    first = _imported(jtel, import_body(camp_id, "gone"))["ID"]
    second = _imported(jtel, import_body(camp_id, "gone"))["ID"]
    assert jtel.delete("/dialler/contacts/contact", params={"userData": "gone"}).json() == {
        "status": 200
    }
    with unit_of_work(sessions) as session:
        assert session.get(Contact, first) is None and session.get(Contact, second) is not None
    assert jtel.delete(f"/dialler/contacts/contact/{second}").json() == {"status": 200}
    response = jtel.delete(f"/dialler/contacts/contact/{second}")
    assert response.status_code == 404 and response.json()["status"] == 404
    response = jtel.delete("/dialler/contacts/contact", params={"userData": "gone"})
    assert response.status_code == 404 and response.json()["status"] == 404


# History --------------------------------------------------------------------------------------


def test_history_by_id_and_by_user_data(
    jtel: TestClient, sessions: SessionMaker, tenant: NewTenant
) -> None:
    with unit_of_work(sessions) as session:
        camp_id = campaign(session, tenant).id
    first = _imported(jtel, import_body(camp_id, "Contact10"))["ID"]
    second = _imported(jtel, import_body(camp_id, "Contact10"))["ID"]
    lonely = _imported(jtel, import_body(camp_id, "never"))["ID"]
    start = datetime(2020, 11, 11, 14, 31, 41, 649000, tzinfo=UTC)
    with unit_of_work(sessions) as session:
        for contact_id in (first, second):
            session.add(
                CallAttempt(
                    tenant_id=tenant.tenant.id,
                    campaign_id=camp_id,
                    contact_id=contact_id,
                    phone_position=1,
                    a_number="+49894614950665",
                    b_number=NUMBERS[0],
                    started_at=start,
                    alerted_at=start.replace(second=43),
                    answered_at=start.replace(second=44),
                    connected_at=start.replace(second=44),
                    ended_at=start.replace(second=47),
                    outcome=CallOutcome.CONNECTED,
                    cause_code=16,
                    caller_hangup=True,
                )
            )
    answer = jtel.get(f"/dialler/contacts/contact/{first}/history").json()
    assert answer["count"] == 1 and answer["status"] == 200
    row = answer["records"][0]
    assert row["DiallerContactsID"] == first and row["UserData"] == "Contact10"
    assert row["dtCallStart"] == "2020-11-11T15:31:41.649"  # Berlin local time, milliseconds
    assert row["dtCallAlert"] == "2020-11-11T15:31:43.649"
    assert row["BNumber"] == NUMBERS[0].removeprefix("+") and row["ANumber"] == "49894614950665"
    assert row["BNumber_CountryCodesID"] == 49 and row["PhoneNumberOffset"] == 1
    assert row["CauseCodesID"] == 16 and row["bCallerHangup"] is True and row["bOutbound"]
    assert row["CONNRES"] == 1
    for field in ("DiallerContactsHistoryID", "dtCallEnd", "dtCallConnect", "UsersID"):
        assert field in row
    by_user_data = jtel.get("/dialler/contacts/contact/history?userData=Contact10").json()
    assert sorted(r["DiallerContactsID"] for r in by_user_data["records"]) == [first, second]
    empty = jtel.get(f"/dialler/contacts/contact/{lonely}/history")
    assert empty.status_code == 200 and empty.json()["count"] == 0
    missing = jtel.get("/dialler/contacts/contact/history?userData=nobody")
    assert missing.status_code == 404 and missing.json()["status"] == 404


# Bad input ------------------------------------------------------------------------------------


def test_import_refuses_incomplete_or_malformed_bodies_and_writes_nothing(
    jtel: TestClient, sessions: SessionMaker, tenant: NewTenant
) -> None:
    with unit_of_work(sessions) as session:
        camp_id = campaign(session, tenant).id
    cases: list[tuple[Any, int, str]] = [
        ({"DiallerCampaignsID": camp_id, "PhoneNumber1": NUMBERS[0]}, 400, "Name"),
        ({"Name": "X", "PhoneNumber1": NUMBERS[0]}, 400, "DiallerCampaignsName"),
        ({"DiallerCampaignsID": camp_id, "Name": "X"}, 400, "PhoneNumber1"),
        ({"DiallerCampaignsID": camp_id, "Name": "X", "PhoneNumber1": ""}, 400, "PhoneNumber1"),
        (import_body(camp_id, Email="x" * 300), 400, "Email"),
        (import_body(camp_id, dtBeginDate="yesterday"), 400, "dtBeginDate"),
        (import_body(camp_id, Amount="lots"), 400, "Amount"),
        (import_body(999_999), 404, "campaign"),
        (
            {**import_body(camp_id), "DiallerCampaignsID": None, "DiallerCampaignsName": "?"},
            404,
            "",
        ),
        ([1, 2], 400, "JSON object"),
    ]
    for body, status, word in cases:
        response = jtel.post("/dialler/contacts/import", json=body)
        assert response.status_code == status, (body, response.text)
        assert response.json()["status"] == status and word in response.json()["message"]
    malformed = jtel.post(
        "/dialler/contacts/import",
        content=b'{"Name": ',
        headers={"Content-Type": "application/json"},
    )
    assert malformed.status_code == 400 and "JSON" in malformed.json()["message"]
    bad_flag = jtel.post(
        "/dialler/contacts/import?overwriteDuplicates=maybe", json=import_body(camp_id)
    )
    assert bad_flag.status_code == 400
    with unit_of_work(sessions) as session:
        assert _count(session) == 0
        assert session.scalar(select(func.count()).select_from(ContactPhone)) == 0


def test_update_refusals_leave_the_contact_as_it_was(
    jtel: TestClient, sessions: SessionMaker, tenant: NewTenant
) -> None:
    with unit_of_work(sessions) as session:
        camp_id = campaign(session, tenant).id
    contact_id = _imported(jtel, import_body(camp_id, City="Munich"))["ID"]
    cases: list[tuple[dict[str, Any], int]] = [
        ({"Name": "no key"}, 400),
        ({"ID": 999_999, "Name": "x"}, 404),
        ({"UserData": "nobody", "Name": "x"}, 404),
        ({"ID": "abc"}, 400),
        # every number cleared: the contact would have nothing to dial
        ({"ID": contact_id, "City": "Berlin", "PhoneNumber1": None}, 400),
        ({"ID": contact_id, "City": "Berlin", "PostalCode": "9" * 30}, 400),
    ]
    for body, status in cases:
        response = jtel.post("/dialler/contacts/update", json=body)
        assert response.status_code == status, (body, response.text)
        assert response.json()["status"] == status
    record = jtel.get(f"/dialler/contacts/{contact_id}").json()["records"][0]
    assert record["City"] == "Munich" and record["PhoneNumber1"] == NUMBERS[0].removeprefix("+")


def test_unknown_ids_and_bad_ids(jtel: TestClient) -> None:
    for method, path in [
        ("GET", "/dialler/contacts/424242"),
        ("DELETE", "/dialler/contacts/contact/424242"),
        ("PATCH", "/dialler/contacts/contact/424242/lock"),
        ("PATCH", "/dialler/contacts/contact/424242/unlock"),
        ("PATCH", "/dialler/contacts/contact/424242/reset"),
        ("GET", "/dialler/contacts/contact/424242/history"),
        ("PATCH", "/dialler/contacts/contact/lock?userData=nobody"),
        ("PATCH", "/dialler/contacts/contact/unlock?userData=nobody"),
        ("PATCH", "/dialler/contacts/contact/reset?userData=nobody"),
        ("GET", "/dialler/contacts?diallerCampaignsID=424242"),
    ]:
        response = jtel.request(method, path)
        assert response.status_code == 404, (path, response.text)
        assert response.json()["status"] == 404
    for path in ("/dialler/contacts/abc", "/dialler/contacts/0", "/dialler/contacts/contact/lock"):
        response = jtel.request("PATCH" if path.endswith("lock") else "GET", path)
        assert response.status_code == 400 and response.json()["status"] == 400


def test_other_tenants_contacts_are_invisible(
    jtel: TestClient, other_jtel: TestClient, sessions: SessionMaker, tenant: NewTenant
) -> None:
    with unit_of_work(sessions) as session:
        camp_id = campaign(session, tenant).id
    contact_id = _imported(jtel, import_body(camp_id, "mine"))["ID"]
    assert other_jtel.get("/dialler/contacts").json()["count"] == 0
    assert other_jtel.get(f"/dialler/contacts/{contact_id}").status_code == 404
    assert other_jtel.patch(f"/dialler/contacts/contact/{contact_id}/lock").status_code == 404
    assert other_jtel.delete("/dialler/contacts/contact?userData=mine").status_code == 404
    assert other_jtel.post("/dialler/contacts/import", json=import_body(camp_id)).status_code == 404
    assert jtel.get(f"/dialler/contacts/{contact_id}").json()["records"][0]["bLocked"] is False


def test_authentication(client: TestClient, tenant: NewTenant) -> None:
    missing = client.get("/jtel/dialler/contacts")
    assert missing.status_code == 401 and missing.json()["status"] == 401
    assert missing.headers["WWW-Authenticate"].startswith("Basic")
    wrong = client.get("/jtel/dialler/contacts", auth=(f"admin@{tenant.tenant.id}", "nope"))
    assert wrong.status_code == 401 and wrong.json()["status"] == 401
    garbage = client.get("/jtel/dialler/contacts", headers={"Authorization": "Basic %%%"})
    assert garbage.status_code == 401
    bearer = client.get(
        "/jtel/dialler/contacts", headers={"Authorization": f"Bearer {tenant.api_key}"}
    )
    assert bearer.status_code == 401
    right = client.get("/jtel/dialler/contacts", auth=(tenant.admin_user, tenant.admin_password))
    assert right.status_code == 200


def test_odd_values_are_a_400_or_accepted_never_a_500(
    jtel: TestClient, sessions: SessionMaker, tenant: NewTenant
) -> None:
    with unit_of_work(sessions) as session:
        camp_id = campaign(session, tenant).id
    odd: list[Any] = [[], {}, True, -1, 1e308, "x" * 5000, "nul\x00"]
    fields = ["Name", "UserData", "Amount", "RandomSortOrder", "PhoneNumber2", "dtEndDate"]
    for field in [*fields, "FollowUpDateTime", "ReservedUsersUID", "DiallerCampaignsID"]:
        for value in odd:
            response = jtel.post(
                "/dialler/contacts/import", json=import_body(camp_id, **{field: value})
            )
            assert response.status_code in (200, 400, 404), (field, value, response.text)
            assert response.json()["status"] == response.status_code
    contact_id = _imported(jtel, import_body(camp_id, "odd"))["ID"]
    for field in [*fields, "ID"]:
        for value in odd:
            body = {"ID": contact_id, field: value}
            response = jtel.post("/dialler/contacts/update", json=body)
            assert response.status_code in (200, 400, 404), (field, value, response.text)
