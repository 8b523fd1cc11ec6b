"""Native API: contacts with six numbers, filters, lock/unlock/reset, history, isolation."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import String, func, select
from sqlalchemy.orm import Session

from opendialer.accounts.service import NewTenant
from opendialer.contacts.schemas import ContactFields
from opendialer.models import (
    CallAttempt,
    CallOutcome,
    Contact,
    ContactPhone,
    ContactStatus,
    User,
)

# Every text column a request can write, with its size in the database.
TEXT_COLUMNS: dict[str, int] = {
    column.name: column.type.length or 0
    for column in Contact.__table__.columns
    if isinstance(column.type, String) and column.name in ContactFields.model_fields
}
FULL_CONTACT: dict[str, Any] = {field: f"{field[:12]}-ü" for field in TEXT_COLUMNS} | {
    "random_sort_order": 17,
    "amount": "999.99",
    "custom_data": {"lead": 7, "nested": {"a": [1, 2]}},
    "priority": 5,
    "next_try_at": "2030-01-01T08:00:00Z",
    "originate_is_local": True,
    "begin_at": "2030-01-01T00:00:00Z",
    "end_at": "2030-03-01T00:00:00+01:00",
    "ignore_dnc": True,
    "follow_up_at": "2030-01-02T09:00:00Z",
    "locked": True,
}


def _campaign(api: TestClient, name: str = "C") -> int:
    response = api.post("/api/v1/campaigns", json={"name": name, "dial_mode": "predictive"})
    assert response.status_code == 201, response.text
    campaign_id: int = response.json()["id"]
    return campaign_id


def _list(api: TestClient, campaign_id: int, name: str = "L") -> int:
    response = api.post(f"/api/v1/campaigns/{campaign_id}/lists", json={"name": name})
    assert response.status_code == 201, response.text
    list_id: int = response.json()["id"]
    return list_id


def _create(api: TestClient, campaign_id: int, **body: Any) -> dict[str, Any]:
    body.setdefault("phones", ["030 1234567"])
    response = api.post(f"/api/v1/campaigns/{campaign_id}/contacts", json=body)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()
    return data


def _counts(session: Session) -> tuple[int, int]:
    contacts = session.scalar(select(func.count()).select_from(Contact))
    phones = session.scalar(select(func.count()).select_from(ContactPhone))
    return int(contacts or 0), int(phones or 0)


def _admin_id(session: Session, tenant: NewTenant) -> int:
    user_id = session.scalar(select(User.id).where(User.tenant_id == tenant.tenant.id))
    assert user_id is not None
    return user_id


def _pick(record: dict[str, Any], *keys: str) -> tuple[Any, ...]:
    return tuple(record[key] for key in keys)


def _set(record: object, **values: Any) -> None:
    for key, value in values.items():
        setattr(record, key, value)


def _error(response: Any, status: int, code: str) -> Any:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code and error["message"]
    return error["details"]


# Create ------------------------------------------------------------------------------------


def test_create_stores_every_field(api: TestClient, session: Session, tenant: NewTenant) -> None:
    campaign = _campaign(api)
    list_id = _list(api, campaign)
    api.put(f"/api/v1/campaigns/{campaign}/form-fields", json={"name": "term"})
    admin = _admin_id(session, tenant)
    body = {
        **FULL_CONTACT,
        "list_id": list_id,
        "form_data": {"term": 12},
        "reserved_user_id": admin,
        "follow_up_user_id": admin,
    }
    contact = _create(api, campaign, **body)
    for key, value in body.items():
        if key.endswith("_at"):
            assert datetime.fromisoformat(contact[key]) == datetime.fromisoformat(value), key
        else:
            assert contact[key] == value, key
    assert contact["campaign_id"] == campaign and contact["status"] == "pending"
    assert [contact[k] for k in ("tries", "result_code_id", "next_phone_position")] == [0, None, 1]
    assert api.get(f"/api/v1/contacts/{contact['id']}").json() == contact


def test_create_with_phones_only_gets_defaults(api: TestClient) -> None:
    before = datetime.now(UTC)
    contact = _create(api, _campaign(api))
    assert contact["locked"] is False and contact["ignore_dnc"] is False
    assert contact["priority"] == 0 and contact["custom_data"] == {} and contact["form_data"] == {}
    assert contact["name"] is None and contact["amount"] is None
    next_try = datetime.fromisoformat(contact["next_try_at"])
    assert before - timedelta(seconds=1) <= next_try <= datetime.now(UTC) + timedelta(seconds=1)


def test_create_normalises_and_flags_numbers_by_position(api: TestClient) -> None:
    contact = _create(
        api,
        _campaign(api),
        phones={"1": "030 1234567", "3": "nonsense", "6": "+49 89 4614950703", "5": "4989123456"},
    )
    phones = {p["position"]: p for p in contact["phones"]}
    assert list(phones) == [1, 3, 5, 6]
    assert phones[1]["e164"] == "+49301234567" and phones[1]["invalid"] is False
    assert phones[1]["raw"] == "030 1234567"
    assert _pick(phones[3], "raw", "e164", "invalid", "tries") == ("nonsense", None, True, 0)
    assert phones[5]["e164"] == "+4989123456"
    assert phones[6]["e164"] == "+49894614950703" and phones[6]["raw"] == "+49 89 4614950703"


def test_a_list_fills_positions_in_order(api: TestClient) -> None:
    contact = _create(api, _campaign(api), phones=["0301111111", "x", "0302222222"])
    positions = [(p["position"], p["invalid"]) for p in contact["phones"]]
    assert positions == [(1, False), (2, True), (3, False)]


def test_phones_carry_the_contact_tenant_and_campaign(
    api: TestClient, session: Session, tenant: NewTenant
) -> None:
    campaign = _campaign(api)
    _create(api, campaign, phones=["0301111111", "0302222222"])
    rows = session.execute(select(ContactPhone.tenant_id, ContactPhone.campaign_id)).all()
    assert set(rows) == {(tenant.tenant.id, campaign)}


def test_no_valid_number_is_422_and_nothing_written(api: TestClient, session: Session) -> None:
    campaign = _campaign(api)
    response = api.post(f"/api/v1/campaigns/{campaign}/contacts", json={"phones": ["12", "abc"]})
    details = _error(response, 422, "invalid_phone_number")
    assert details == {"phones": {"1": "12", "2": "abc"}}
    assert _counts(session) == (0, 0)


BAD_BODIES: list[tuple[str, dict[str, Any]]] = [
    ("no phones key", {"name": "x"}),
    ("empty phones", {"phones": []}),
    ("seven phones", {"phones": ["0301234567"] * 7}),
    ("position 7", {"phones": {"7": "0301234567"}}),
    ("position 0", {"phones": {"0": "0301234567"}}),
    ("blank number", {"phones": ["   "]}),
    ("number too long", {"phones": ["1" * 65]}),
    ("phones wrong type", {"phones": "0301234567"}),
    ("unknown field", {"surprise": 1}),
    ("status is not writable", {"status": "done"}),
    ("priority wrong type", {"priority": "high"}),
    ("priority too big", {"priority": 10**7}),
    ("random sort order beyond int32", {"random_sort_order": 2**31}),
    ("NUL character", {"name": "a\x00b"}),
    ("amount too many digits", {"amount": "1234567890123.45"}),
    ("amount three decimals", {"amount": "1.234"}),
    ("amount NaN", {"amount": "NaN"}),
    ("naive datetime", {"next_try_at": "2030-01-01T00:00:00"}),
    ("datetime out of range", {"begin_at": "0001-01-01T00:00:00+05:00"}),
    ("custom data not an object", {"custom_data": [1, 2]}),
    ("list id zero", {"list_id": 0}),
    ("list id beyond 64 bits", {"list_id": 2**63}),
    ("locked wrong type", {"locked": "maybe"}),
]


@pytest.mark.parametrize(("case", "body"), BAD_BODIES, ids=[case for case, _ in BAD_BODIES])
def test_bad_create_body_is_422_and_nothing_written(
    api: TestClient, session: Session, case: str, body: dict[str, Any]
) -> None:
    campaign = _campaign(api)
    full = {"phones": ["0301234567"], **body}
    if case == "no phones key":
        del full["phones"]
    response = api.post(f"/api/v1/campaigns/{campaign}/contacts", json=full)
    details = _error(response, 422, "validation_error")
    assert details and all("loc" in d for d in details)
    assert _counts(session) == (0, 0)


def test_text_fields_take_exactly_their_column_size(api: TestClient, session: Session) -> None:
    assert len(TEXT_COLUMNS) == 35 and all(TEXT_COLUMNS.values())
    campaign = _campaign(api)
    longest = {name: "ß" * length for name, length in TEXT_COLUMNS.items()}
    made = _create(api, campaign, **longest)
    assert {name: made[name] for name in longest} == longest
    assert api.get(f"/api/v1/contacts/{made['id']}").json() == made
    url = f"/api/v1/campaigns/{campaign}/contacts"
    for name, length in TEXT_COLUMNS.items():
        response = api.post(url, json={"phones": ["0301234567"], name: "x" * (length + 1)})
        assert _error(response, 422, "validation_error")[0]["loc"] == ["body", name]
    assert _counts(session) == (1, 1)


def test_malformed_json_is_400(api: TestClient) -> None:
    response = api.post(
        f"/api/v1/campaigns/{_campaign(api)}/contacts",
        content=b'{"phones": [',
        headers={"content-type": "application/json"},
    )
    _error(response, 400, "malformed_json")


def test_references_are_checked(
    api: TestClient, other_api: TestClient, session: Session, other_tenant: NewTenant
) -> None:
    campaign, other = _campaign(api, "A"), _campaign(api, "B")
    foreign_list = _list(api, other)
    api.put(f"/api/v1/campaigns/{campaign}/form-fields", json={"name": "term"})
    api.put(f"/api/v1/campaigns/{other}/form-fields", json={"name": "colour"})
    url = f"/api/v1/campaigns/{campaign}/contacts"
    phones = ["0301234567"]

    details = _error(
        api.post(url, json={"phones": phones, "list_id": foreign_list}), 422, "unknown_reference"
    )
    assert details == {"field": "list_id", "id": foreign_list}
    _error(api.post(url, json={"phones": phones, "list_id": 999_999}), 422, "unknown_reference")
    unknown = api.post(url, json={"phones": phones, "form_data": {"term": 1, "colour": "red"}})
    assert _error(unknown, 422, "unknown_form_fields") == {"fields": ["colour"]}
    stranger = _admin_id(session, other_tenant)
    foreign_user = api.post(url, json={"phones": phones, "follow_up_user_id": stranger})
    assert _error(foreign_user, 422, "unknown_reference")["field"] == "follow_up_user_id"
    inverted = {
        "phones": phones,
        "begin_at": "2030-02-01T00:00:00Z",
        "end_at": "2030-01-01T00:00:00Z",
    }
    _error(api.post(url, json=inverted), 422, "invalid_dates")
    assert _counts(session) == (0, 0)
    assert _create(api, campaign, form_data={"term": 12})["form_data"] == {"term": 12}


def test_create_in_missing_campaign_is_404(api: TestClient, session: Session) -> None:
    response = api.post("/api/v1/campaigns/999999/contacts", json={"phones": ["0301234567"]})
    assert _error(response, 404, "not_found")["resource"] == "campaign"
    assert _counts(session) == (0, 0)


# Read, update, delete ----------------------------------------------------------------------


def test_get_missing_or_malformed_id(api: TestClient) -> None:
    _error(api.get("/api/v1/contacts/999999"), 404, "not_found")
    _error(api.get("/api/v1/contacts/abc"), 422, "validation_error")
    _error(api.get("/api/v1/contacts/0"), 422, "validation_error")


def test_partial_update_leaves_other_fields_alone(api: TestClient) -> None:
    contact = _create(api, _campaign(api), **{**FULL_CONTACT, "locked": False})
    url = f"/api/v1/contacts/{contact['id']}"
    response = api.patch(url, json={"name": "New", "city": None, "amount": 1})
    assert response.status_code == 200, response.text
    changed = response.json()
    assert (changed["name"], changed["city"], changed["amount"]) == ("New", None, "1.00")
    untouched = {k: v for k, v in contact.items() if k not in {"name", "city", "amount"}}
    assert {k: changed[k] for k in untouched if k != "updated_at"} == {
        k: v for k, v in untouched.items() if k != "updated_at"
    }
    assert api.get(url).json() == changed


def test_update_phone_positions(api: TestClient, session: Session) -> None:
    contact = _create(api, _campaign(api), phones=["0301111111", "0302222222"])
    url = f"/api/v1/contacts/{contact['id']}"
    row = session.scalar(select(ContactPhone).where(ContactPhone.position == 1))
    assert row is not None
    row.tries, row.last_cause = 2, 17
    session.commit()

    changed = api.patch(url, json={"phones": {"2": None, "4": "0304444444"}}).json()
    assert [_pick(p, "position", "e164") for p in changed["phones"]] == [
        (1, "+49301111111"),
        (4, "+49304444444"),
    ]
    same = api.patch(url, json={"phones": {"1": "+49 30 1111111"}}).json()["phones"][0]
    assert (same["raw"], same["tries"], same["last_cause"]) == ("+49 30 1111111", 2, 17)
    renumbered = api.patch(url, json={"phones": {"1": "0305555555"}}).json()["phones"][0]
    assert _pick(renumbered, "e164", "tries", "last_cause") == ("+49305555555", 0, None)
    flagged = api.patch(url, json={"phones": {"4": "bogus"}}).json()["phones"][1]
    assert (flagged["position"], flagged["invalid"], flagged["e164"]) == (4, True, None)


def test_update_cannot_remove_the_last_valid_number(api: TestClient, session: Session) -> None:
    contact = _create(api, _campaign(api), name="Keep", phones=["0301111111", "x"])
    url = f"/api/v1/contacts/{contact['id']}"
    response = api.patch(url, json={"name": "Lost", "phones": {"1": None}})
    _error(response, 422, "invalid_phone_number")
    _error(api.patch(url, json={"phones": {"1": "nope"}}), 422, "invalid_phone_number")
    assert api.get(url).json() == contact
    assert _counts(session) == (1, 2)


@pytest.mark.parametrize(
    "body",
    [
        {"priority": None},
        {"custom_data": None},
        {"phones": None},
        {"campaign_id": None},
        {"next_try_at": None},
        {"locked": True},
        {"status": "done"},
        {"name": "x" * 256},
        {"phones": {"9": "0301234567"}},
        {"amount": "abc"},
    ],
)
def test_bad_update_body_is_422_and_changes_nothing(api: TestClient, body: dict[str, Any]) -> None:
    contact = _create(api, _campaign(api), name="Same", priority=3)
    url = f"/api/v1/contacts/{contact['id']}"
    _error(api.patch(url, json={"name": "Changed", **body}), 422, "validation_error")
    assert api.get(url).json() == contact


def test_update_checks_references_and_dates(api: TestClient) -> None:
    campaign, other = _campaign(api, "A"), _campaign(api, "B")
    contact = _create(api, campaign, begin_at="2030-01-01T00:00:00Z")
    url = f"/api/v1/contacts/{contact['id']}"
    _error(api.patch(url, json={"list_id": _list(api, other)}), 422, "unknown_reference")
    _error(api.patch(url, json={"form_data": {"colour": "red"}}), 422, "unknown_form_fields")
    _error(api.patch(url, json={"end_at": "2029-01-01T00:00:00Z"}), 422, "invalid_dates")
    _error(api.patch(url, json={"campaign_id": 999_999}), 422, "unknown_reference")
    assert api.get(url).json() == contact


def test_move_to_another_campaign_moves_numbers_and_drops_the_list(
    api: TestClient, session: Session
) -> None:
    first, second = _campaign(api, "A"), _campaign(api, "B")
    contact = _create(api, first, list_id=_list(api, first), phones=["0301111111", "0302222222"])
    url = f"/api/v1/contacts/{contact['id']}"
    moved = api.patch(url, json={"campaign_id": second}).json()
    assert (moved["campaign_id"], moved["list_id"]) == (second, None)
    assert set(session.scalars(select(ContactPhone.campaign_id))) == {second}
    new_list = _list(api, first, "Back")
    back = api.patch(url, json={"campaign_id": first, "list_id": new_list}).json()
    assert (back["campaign_id"], back["list_id"]) == (first, new_list)
    session.expire_all()
    assert set(session.scalars(select(ContactPhone.campaign_id))) == {first}


def test_delete_keeps_call_history(api: TestClient, session: Session, tenant: NewTenant) -> None:
    contact = _create(api, _campaign(api), phones=["0301111111", "0302222222"])
    session.add(CallAttempt(tenant_id=tenant.tenant.id, contact_id=contact["id"], b_number="1"))
    session.commit()
    url = f"/api/v1/contacts/{contact['id']}"
    assert api.delete(url).status_code == 204
    _error(api.get(url), 404, "not_found")
    _error(api.delete(url), 404, "not_found")
    assert _counts(session) == (0, 0)
    session.expire_all()
    attempts = session.scalars(select(CallAttempt)).all()
    assert [(a.b_number, a.contact_id) for a in attempts] == [("1", None)]


# Lock, unlock, reset -----------------------------------------------------------------------


def test_lock_and_unlock(api: TestClient) -> None:
    contact = _create(api, _campaign(api))
    url = f"/api/v1/contacts/{contact['id']}"
    locked = api.post(f"{url}:lock")
    assert locked.status_code == 200 and locked.json()["locked"] is True
    assert api.post(f"{url}:lock").json()["locked"] is True
    assert api.get(url).json()["locked"] is True
    assert api.post(f"{url}:unlock").json()["locked"] is False
    assert api.get(url).json()["locked"] is False


def test_verb_routes_do_not_collide_with_the_contact_route(api: TestClient) -> None:
    contact = _create(api, _campaign(api))
    url = f"/api/v1/contacts/{contact['id']}"
    assert api.get(f"{url}:lock").status_code == 422
    assert api.delete(f"{url}:lock").status_code == 422
    assert api.patch(f"{url}:lock", json={"name": "x"}).status_code == 422
    assert api.post(f"{url}:explode").status_code == 405
    assert api.post(url).status_code == 405
    _error(api.post("/api/v1/contacts/999999:lock"), 404, "not_found")
    assert api.get(url).json() == contact


def test_reset_clears_tries_and_result_but_keeps_flags(api: TestClient, session: Session) -> None:
    campaign = _campaign(api)
    code = api.post(
        f"/api/v1/campaigns/{campaign}/result-codes", json={"code": "NO", "text_en": "No"}
    ).json()["id"]
    contact = _create(api, campaign, phones=["0301111111", "0302222222"], locked=True)
    abandoned = datetime(2030, 1, 1, tzinfo=UTC)
    row = session.get_one(Contact, contact["id"])
    _set(row, tries=4, status=ContactStatus.DONE, result_code_id=code, last_result_mailbox=True)
    _set(row, next_phone_position=2, next_try_at=datetime(2031, 1, 1, tzinfo=UTC))
    first, second = row.phones
    _set(first, tries=3, last_cause=17, last_end_reason_id=4, abandoned_at=abandoned)
    second.tries, second.invalid = 1, True
    session.commit()

    before = datetime.now(UTC)
    reset = api.post(f"/api/v1/contacts/{contact['id']}:reset").json()
    assert (reset["tries"], reset["status"], reset["result_code_id"]) == (0, "pending", None)
    assert (reset["last_result_mailbox"], reset["next_phone_position"]) == (None, 1)
    assert datetime.fromisoformat(reset["next_try_at"]) >= before - timedelta(seconds=1)
    assert reset["locked"] is True
    phone1, phone2 = reset["phones"]
    assert (phone1["tries"], phone1["last_cause"], phone1["last_end_reason_id"]) == (0, None, None)
    assert datetime.fromisoformat(phone1["abandoned_at"]) == abandoned
    assert (phone2["tries"], phone2["invalid"]) == (0, True)
    assert api.get(f"/api/v1/contacts/{contact['id']}").json() == reset


# Lists and filters -------------------------------------------------------------------------


def test_filters(api: TestClient) -> None:
    campaign, other = _campaign(api, "A"), _campaign(api, "B")
    week = _list(api, campaign)
    a = _create(
        api, campaign, user_data="K-1", external_id="X1", list_id=week, phones=["0301111111"]
    )
    b = _create(api, campaign, user_data="K-2", phones=["0302222222", "+43 1 5880000"])
    c = _create(api, other, user_data="K-1", phones=["0302222222", "bogus"])
    api.post(f"/api/v1/contacts/{a['id']}:lock")

    def ids(**params: object) -> list[int]:
        response = api.get("/api/v1/contacts", params=params)
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["items"]]

    assert ids() == [a["id"], b["id"], c["id"]]
    assert ids(campaign_id=campaign) == [a["id"], b["id"]]
    assert ids(list_id=week) == [a["id"]]
    assert ids(user_data="K-1") == [a["id"], c["id"]]
    assert ids(user_data="K-1", campaign_id=other) == [c["id"]]
    assert ids(external_id="X1") == [a["id"]]
    assert ids(locked=True) == [a["id"]] and ids(locked=False) == [b["id"], c["id"]]
    assert ids(status="pending") == [a["id"], b["id"], c["id"]] and ids(status="done") == []
    assert ids(phone="030 2222222") == [b["id"], c["id"]]
    assert ids(phone="+49 (30) 222-2222") == ids(phone="49302222222") == [b["id"], c["id"]]
    assert ids(phone="+4315880000") == [b["id"]]
    assert ids(phone="bogus") == [] and ids(phone="12") == []
    assert ids(phone="0301111111", campaign_id=other) == []


@pytest.mark.parametrize(
    "params",
    [
        {"status": "nope"},
        {"locked": "perhaps"},
        {"campaign_id": "x"},
        {"list_id": 0},
        {"campaign_id": 2**63},
        {"phone": "1" * 65},
        {"user_data": "x" * 256},
        {"external_id": "a\x00b"},
        {"limit": 0},
        {"cursor": -1},
    ],
)
def test_bad_filters_are_422(api: TestClient, params: dict[str, object]) -> None:
    _error(api.get("/api/v1/contacts", params=params), 422, "validation_error")


def test_list_paginates(api: TestClient) -> None:
    campaign = _campaign(api)
    made = [_create(api, campaign, user_data=str(i))["id"] for i in range(5)]
    first = api.get("/api/v1/contacts", params={"limit": 2}).json()
    assert [c["id"] for c in first["items"]] == made[:2] and first["next_cursor"] == made[1]
    rest = api.get("/api/v1/contacts", params={"limit": 10, "cursor": first["next_cursor"]}).json()
    assert [c["id"] for c in rest["items"]] == made[2:] and rest["next_cursor"] is None
    assert rest["items"][0]["phones"][0]["e164"] == "+49301234567"


def test_a_listed_contact_is_the_contact_as_got_alone(
    api: TestClient, session: Session, tenant: NewTenant
) -> None:
    """The list reads plain rows, the single GET ORM objects: every field and number agrees,
    for a contact with every field set, one with the fewest, and numbers out of order."""
    campaign = _campaign(api)
    admin = _admin_id(session, tenant)
    body = {**FULL_CONTACT, "list_id": _list(api, campaign), "reserved_user_id": admin}
    made = [
        _create(api, campaign, **body, phones=["030 1234567", "bad", "+4940123456"]),
        _create(api, campaign),
        _create(api, campaign, phones={"3": "+4989123456", "1": "030 7654321"}),
    ]
    listed = api.get("/api/v1/contacts", params={"campaign_id": campaign}).json()["items"]
    assert listed == [api.get(f"/api/v1/contacts/{c['id']}").json() for c in made]
    assert [p["position"] for p in listed[0]["phones"]] == [1, 2, 3]
    assert [p["position"] for p in listed[2]["phones"]] == [1, 3]


# History -----------------------------------------------------------------------------------


def _attempt(tenant: NewTenant, contact_id: int | None, **values: Any) -> CallAttempt:
    values.setdefault("b_number", "+49301234567")
    return CallAttempt(tenant_id=tenant.tenant.id, contact_id=contact_id, **values)


def test_history_lists_the_contacts_attempts(
    api: TestClient, session: Session, tenant: NewTenant
) -> None:
    campaign = _campaign(api)
    contact, other = _create(api, campaign), _create(api, campaign)
    start = datetime(2030, 1, 1, 9, tzinfo=UTC)
    session.add(_attempt(tenant, contact["id"], outcome=CallOutcome.BUSY, started_at=start))
    session.add(_attempt(tenant, other["id"], outcome=CallOutcome.MACHINE))
    full = {
        "campaign_id": campaign,
        "result_code_id": None,
        "phone_position": 1,
        "a_number": "+4930999",
        "b_number": "+49301234567",
        "outbound": True,
        "test_call": False,
        "started_at": start,
        "alerted_at": start + timedelta(seconds=1),
        "answered_at": start + timedelta(seconds=5),
        "connected_at": start + timedelta(seconds=6),
        "ended_at": start + timedelta(seconds=60),
        "outcome": CallOutcome.CONNECTED,
        "sip_status": 200,
        "cause_code": 16,
        "caller_hangup": True,
        "answered_by_machine": False,
        "end_detail": "customer hung up; recording failed: no pcap",
        "engine_id": "engine-1",
    }
    session.add(_attempt(tenant, contact["id"], **full))
    session.commit()

    rows = api.get(f"/api/v1/contacts/{contact['id']}/history").json()["items"]
    assert [r["outcome"] for r in rows] == ["busy", "connected"]
    last = rows[1]
    for key, value in full.items():
        if isinstance(value, datetime):
            assert datetime.fromisoformat(last[key]) == value, key
        else:
            assert last[key] == value, key
    assert last["contact_id"] == contact["id"] and last["user_id"] is None
    page = api.get(f"/api/v1/contacts/{contact['id']}/history", params={"limit": 1}).json()
    assert len(page["items"]) == 1 and page["next_cursor"] == rows[0]["id"]


def test_history_of_a_missing_contact_is_404(api: TestClient) -> None:
    _error(api.get("/api/v1/contacts/999999/history"), 404, "not_found")


# Tenants -----------------------------------------------------------------------------------


def test_other_tenant_sees_and_changes_nothing(
    api: TestClient, other_api: TestClient, session: Session, tenant: NewTenant
) -> None:
    campaign = _campaign(api)
    contact = _create(api, campaign, user_data="K-1", external_id="X1")
    session.add(_attempt(tenant, contact["id"]))
    session.commit()
    url = f"/api/v1/contacts/{contact['id']}"
    for response in (
        other_api.get(url),
        other_api.patch(url, json={"name": "x"}),
        other_api.delete(url),
        other_api.post(f"{url}:lock"),
        other_api.post(f"{url}:unlock"),
        other_api.post(f"{url}:reset"),
        other_api.get(f"{url}/history"),
        other_api.post(f"/api/v1/campaigns/{campaign}/contacts", json={"phones": ["0301234567"]}),
    ):
        _error(response, 404, "not_found")
    for params in ({}, {"campaign_id": campaign}, {"phone": "0301234567"}, {"user_data": "K-1"}):
        assert other_api.get("/api/v1/contacts", params=params).json()["items"] == []
    mine = _campaign(other_api, "Mine")
    _error(
        other_api.post(
            f"/api/v1/campaigns/{mine}/contacts",
            json={"phones": ["0301234567"], "list_id": _list(api, campaign)},
        ),
        422,
        "unknown_reference",
    )
    _error(api.patch(url, json={"campaign_id": mine}), 422, "unknown_reference")
    assert api.get(url).json() == contact
    assert _counts(session) == (1, 1)


def test_requires_an_api_key(client: TestClient) -> None:
    _error(client.get("/api/v1/contacts"), 401, "unauthorized")
    _error(client.post("/api/v1/contacts/1:lock"), 401, "unauthorized")
