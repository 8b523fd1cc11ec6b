"""Bulk contact import (service level): formats, encodings, mapping, outcomes, duplicates, DNC."""

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from opendialer.accounts.service import NewTenant
from opendialer.campaigns.schemas import CampaignCreate, FormFieldWrite, ListCreate
from opendialer.campaigns.service import create_campaign, create_list, put_form_field
from opendialer.contacts.imports import importer
from opendialer.contacts.imports import reading as import_reading
from opendialer.contacts.imports.importer import import_contacts
from opendialer.contacts.imports.schemas import ImportFormat, ImportOptions, ImportReport
from opendialer.db import SessionMaker, unit_of_work
from opendialer.errors import OpendialerError
from opendialer.models import (
    CallerIdNumber,
    Campaign,
    Contact,
    ContactPhone,
    DncEntry,
    OwnCallerIdCheck,
    Tenant,
)
from opendialer.scoping import Scope

HEADER = "Name;Vorname;Tel;Notiz;UserData\n"
POOLED = "+493012340000"


@pytest.fixture(autouse=True, params=["here", "reading-process"])
def reading(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test here runs twice: the file read in the importing process, and in a second one."""
    if request.param == "reading-process":
        monkeypatch.setattr(importer, "PARALLEL_MIN_BYTES", 0)
    return str(request.param)


@pytest.fixture
def campaign_id(sessions: SessionMaker, tenant: NewTenant) -> int:
    return new_campaign(sessions, tenant.tenant.id, "Spring")


def new_campaign(sessions: SessionMaker, tenant_id: int, name: str) -> int:
    with unit_of_work(sessions) as s:
        owner = s.get_one(Tenant, tenant_id)
        data = CampaignCreate(name=name, dial_mode="predictive")
        return create_campaign(s, Scope.system(owner.id), data).id


def run(
    sessions: SessionMaker,
    campaign_id: int,
    tmp_path: Path,
    content: str | bytes,
    fmt: str = "csv",
    encoding: str = "utf-8",
    **options: Any,
) -> ImportReport:
    """Write ``content`` to a real file and import it in one transaction (reading it in a second
    process or not, as the ``reading`` fixture says)."""
    path = tmp_path / f"import.{fmt}"
    path.write_bytes(content.encode(encoding) if isinstance(content, str) else content)
    if encoding != "utf-8":
        options["encoding"] = encoding
    with unit_of_work(sessions) as s, path.open("rb") as file:
        campaign = s.get_one(Campaign, campaign_id)
        return import_contacts(
            s, campaign, file, ImportOptions(**options), ImportFormat(fmt), size=len(content)
        )


def counts(report: ImportReport) -> dict[str, int]:
    return {k.value: v for k, v in report.counts.items() if v}


def issues(report: ImportReport) -> list[tuple[int, str]]:
    return [(e["line"], e["outcome"]) for e in report.issues]


def contacts(session: Session, campaign_id: int | None = None) -> list[Contact]:
    query = select(Contact).order_by(Contact.id)
    if campaign_id is not None:
        query = query.where(Contact.campaign_id == campaign_id)
    return list(session.scalars(query))


def phones(contact: Contact) -> list[tuple[int, str, str | None, bool]]:
    return [(p.position, p.raw, p.e164, p.invalid) for p in contact.phones]


def total(session: Session, model: type[Any]) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def add_dnc(sessions: SessionMaker, tenant_id: int, e164: str, campaign: int | None = None) -> None:
    with unit_of_work(sessions) as s:
        s.add(DncEntry(tenant_id=tenant_id, campaign_id=campaign, e164=e164))


# Formats, encodings, mapping --------------------------------------------------------------


def test_csv_rows_become_contacts_with_e164_phones(
    sessions: SessionMaker, session: Session, campaign_id: int, tmp_path: Path
) -> None:
    body = HEADER + "Müller;Anna;030 1234567;+49 170 1234567;K1\nSchmidt;Paul;089 7654321;;K2\n"
    report = run(sessions, campaign_id, tmp_path, body, mapping={"Tel": "phone1"})
    assert counts(report) == {"imported": 2}
    assert report.delimiter == ";"
    assert report.mapping == {
        "Name": "name",
        "Vorname": "first_name",
        "Tel": "phone1",
        "UserData": "user_data",
    }
    assert report.unmapped_columns == ["Notiz"]
    first, second = contacts(session)
    assert (first.name, first.first_name, first.user_data) == ("Müller", "Anna", "K1")
    assert first.status == "pending" and first.priority == 0 and first.tenant_id
    assert phones(first) == [(1, "030 1234567", "+49301234567", False)]
    assert phones(second) == [(1, "089 7654321", "+49897654321", False)]


def test_jtel_and_mmdial_names_map_by_default(
    sessions: SessionMaker, session: Session, campaign_id: int, tmp_path: Path
) -> None:
    jtel = "PhoneNumber1,PhoneNumber3,FirstName,Name,UserData,PostalCode,Amount,dtBeginDate\n"
    jtel += '030 1234567,0170 1234567,Anna,Müller,U1,10115,"12,50",2030-01-02T08:00:00\n'
    report = run(sessions, campaign_id, tmp_path, jtel)
    assert counts(report) == {"imported": 1}
    mmdial = json.dumps(
        {
            "phone": "089 1234567",
            "alt_phone": "0171 7654321",
            "last_name": "Weber",
            "leadid_external": "L-9",
            "plz": "80331",
            "ort": "München",
            "street": "Hauptstraße",
            "streetnr": "5a",
        }
    )
    report = run(sessions, campaign_id, tmp_path, mmdial, fmt="ndjson")
    assert counts(report) == {"imported": 1}
    anna, weber = contacts(session)
    assert (anna.first_name, anna.name, anna.user_data, anna.postal_code) == (
        "Anna",
        "Müller",
        "U1",
        "10115",
    )
    assert [p[0] for p in phones(anna)] == [1, 3]
    assert anna.begin_at is not None and anna.begin_at.hour == 7  # Europe/Berlin, winter
    amount = session.execute(text("SELECT amount FROM contacts WHERE id = :i"), {"i": anna.id})
    assert float(amount.scalar_one()) == 12.5
    assert (weber.name, weber.external_id, weber.city, weber.address, weber.street_number) == (
        "Weber",
        "L-9",
        "München",
        "Hauptstraße",
        "5a",
    )
    assert phones(weber)[1] == (2, "0171 7654321", "+491717654321", False)


def add_form_field(sessions: SessionMaker, campaign_id: int, name: str) -> None:
    with unit_of_work(sessions) as s:
        put_form_field(s, s.get_one(Campaign, campaign_id), FormFieldWrite(name=name))


def test_mapping_drops_and_custom_data(
    sessions: SessionMaker, session: Session, campaign_id: int, tmp_path: Path
) -> None:
    add_form_field(sessions, campaign_id, "note")
    body = "Tel,Kundennr,Name,Notiz,Farbe\n030 1234567,K7,Weber,ruft zurück,blau\n"
    mapping = {"Tel": "phone1", "Kundennr": "external_id", "Name": None, "Notiz": "form_data.note"}
    report = run(sessions, campaign_id, tmp_path, body, mapping=mapping, unmapped="custom_data")
    assert counts(report) == {"imported": 1}
    assert report.mapping == {
        "Tel": "phone1",
        "Kundennr": "external_id",
        "Notiz": "form_data.note",
        "Farbe": "custom_data.Farbe",
    }
    (contact,) = contacts(session)
    assert (contact.external_id, contact.name) == ("K7", None)
    assert contact.custom_data == {"Farbe": "blau"}
    assert contact.form_data == {"note": "ruft zurück"}


def test_order_form_fields_must_exist(
    sessions: SessionMaker, session: Session, campaign_id: int, tmp_path: Path
) -> None:
    add_form_field(sessions, campaign_id, "note")
    body = "phone1,Notiz\n030 1234567,x\n"
    with pytest.raises(OpendialerError) as caught:
        run(sessions, campaign_id, tmp_path, body, mapping={"Notiz": "form_data.nope"})
    assert caught.value.code == "unknown_form_fields"
    lines = [
        {"phone1": "030 1111111", "form_data": {"note": "ok"}},
        {"phone1": "030 2222222", "form_data": {"nope": "x"}},
        {"phone1": "030 3333333", "form_data.note": "also ok"},
    ]
    body = "".join(json.dumps(line) + "\n" for line in lines)
    report = run(sessions, campaign_id, tmp_path, body, fmt="ndjson")
    assert counts(report) == {"imported": 2, "malformed": 1}
    (entry,) = list(report.issues)
    assert entry["line"] == 2 and "no order-form fields named ['nope']" in entry["message"]
    assert [c.form_data for c in contacts(session)] == [{"note": "ok"}, {"note": "also ok"}]


def test_default_mapping_can_be_switched_off(
    sessions: SessionMaker, campaign_id: int, tmp_path: Path
) -> None:
    body = "Tel,Name\n030 1234567,Weber\n"
    report = run(
        sessions, campaign_id, tmp_path, body, mapping={"Tel": "phone1"}, default_mapping=False
    )
    assert report.mapping == {"Tel": "phone1"} and report.unmapped_columns == ["Name"]


@pytest.mark.parametrize("encoding", ["iso-8859-1", "windows-1252"])
def test_single_byte_encodings(
    sessions: SessionMaker, session: Session, campaign_id: int, tmp_path: Path, encoding: str
) -> None:
    name = "Jürgen Größe-Öztürk" if encoding == "iso-8859-1" else "„Jürgen“ Größe €"
    body = f"Name;Telefon\n{name};030 1234567\n"
    assert body.encode(encoding) != body.encode("utf-8")
    report = run(sessions, campaign_id, tmp_path, body, encoding=encoding, mapping={})
    assert counts(report) == {"imported": 1} and report.encoding == encoding
    assert contacts(session)[0].name == name


def test_utf8_with_bom_and_a_line_that_is_not_utf8(
    sessions: SessionMaker, session: Session, campaign_id: int, tmp_path: Path
) -> None:
    good = "\ufeffName;Telefon\nMüller;030 1234567\n".encode()
    bad = "Jörg;030 7654321\n".encode("iso-8859-1")
    last = "Weiß;089 1234567\n".encode()
    report = run(sessions, campaign_id, tmp_path, good + bad + last)
    assert counts(report) == {"imported": 2, "malformed": 1}
    (entry,) = list(report.issues)
    assert entry["line"] == 3 and "not valid utf-8" in entry["message"]
    assert "windows-1252" in entry["message"]
    assert [c.name for c in contacts(session)] == ["Müller", "Weiß"]


def test_undecodable_header_is_fatal_and_writes_nothing(
    sessions: SessionMaker, session: Session, campaign_id: int, tmp_path: Path
) -> None:
    body = "Straße;Telefon\nA;030 1234567\n".encode("windows-1252")
    with pytest.raises(OpendialerError) as caught:
        run(sessions, campaign_id, tmp_path, body)
    assert caught.value.code == "undecodable_file" and caught.value.status_code == 422
    assert caught.value.details == {"line": 1}
    assert total(session, Contact) == 0


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_delimiter_is_sniffed(
    sessions: SessionMaker, campaign_id: int, tmp_path: Path, delimiter: str
) -> None:
    body = delimiter.join(["Name", "Telefon", "Ort"]) + "\n"
    body += delimiter.join(['"Weber, Anna"', "030 1234567", "Berlin"]) + "\n"
    report = run(sessions, campaign_id, tmp_path, body, mapping={"Telefon": "phone1"})
    assert report.delimiter == delimiter and counts(report) == {"imported": 1}


def test_given_delimiter_wins(
    sessions: SessionMaker, session: Session, campaign_id: int, tmp_path: Path
) -> None:
    body = "Name|Telefon\nA;B|030 1234567\n"
    report = run(sessions, campaign_id, tmp_path, body, delimiter="|", mapping={})
    assert counts(report) == {"imported": 1}
    assert contacts(session)[0].name == "A;B"


def test_json_array_reports_element_indexes(
    sessions: SessionMaker, session: Session, campaign_id: int, tmp_path: Path
) -> None:
    rows: list[Any] = [
        {"Name": "A", "PhoneNumber1": "030 1234567", "Priority": 5, "custom_data": {"vip": True}},
        {"Name": "B", "PhoneNumber1": 4989123456},
        ["not", "an", "object"],
        {"Name": "C", "PhoneNumber1": "123"},
        {"Name": "D", "PhoneNumber1": "030 7654321", "priority": "high"},
    ]
    report = run(sessions, campaign_id, tmp_path, json.dumps(rows, indent=2), fmt="json")
    assert report.line_kind == "index"
    assert counts(report) == {"imported": 2, "malformed": 2, "invalid_number": 1}
    assert issues(report) == [(2, "malformed"), (3, "invalid_number"), (4, "malformed")]
    a, b = contacts(session)
    assert (a.priority, a.custom_data) == (5, {"vip": True})
    assert phones(b) == [(1, "4989123456", "+4989123456", False)]  # digits with a country code


def test_json_array_syntax_error_is_fatal(
    sessions: SessionMaker, session: Session, campaign_id: int, tmp_path: Path
) -> None:
    body = '[{"Name": "A", "phone1": "030 1234567"}, {"Name": "B", "phone1": }]'
    with pytest.raises(OpendialerError) as caught:
        run(sessions, campaign_id, tmp_path, body, fmt="json")
    assert caught.value.code == "malformed_json" and caught.value.details == {"line": 1}
    assert total(session, Contact) == 0


def test_ndjson_counts_physical_lines(
    sessions: SessionMaker, campaign_id: int, tmp_path: Path
) -> None:
    lines = [
        json.dumps({"name": "A", "phone1": "030 1234567"}),
        "",
        '{"name": "B", "phone1": ',
        json.dumps([1, 2]),
        json.dumps({"name": "C", "phone1": "0170 1234567"}),
    ]
    report = run(sessions, campaign_id, tmp_path, "\n".join(lines) + "\n", fmt="ndjson")
    assert counts(report) == {"imported": 2, "malformed": 2}
    assert issues(report) == [(3, "malformed"), (4, "malformed")]


def test_a_json_body_starting_with_an_object_is_read_as_ndjson(
    sessions: SessionMaker, campaign_id: int, tmp_path: Path
) -> None:
    body = '{"phone1": "030 1234567"}\n{"phone1": "030 7654321"}\n'
    report = run(sessions, campaign_id, tmp_path, body, fmt="json")
    assert report.line_kind == "line" and counts(report) == {"imported": 2}


# Outcomes and line numbers ----------------------------------------------------------------


def test_every_outcome_with_its_physical_line(
    sessions: SessionMaker, session: Session, tenant: NewTenant, campaign_id: int, tmp_path: Path
) -> None:
    add_dnc(sessions, tenant.tenant.id, "+49309999999")
    add_dnc(sessions, tenant.tenant.id, "+491709999999")
    body = (
        "Name;Telefon;Mobil;Prioritaet;Kommentar\n"  # 1
        'Anna;030 1234567;;1;"zwei\nZeilen"\n'  # 2-3
        "Bert;12;;2;\n"  # 4
        "Cem;030 9999999;0170 9999999;3;\n"  # 5
        "Dora;030 1234567;;4;\n"  # 6
        "Emil;030 2222222;;hoch;\n"  # 7
        "Fritz;030 3333333\n"  # 8
        "\n"  # 9 (blank)
        "Gina;0170 9999999;089 1234567;5;\n"  # 10
        "Hans;;;6;\n"  # 11
    )
    mapping = {"Telefon": "phone1", "Mobil": "phone2", "Prioritaet": "priority"}
    mapping["Kommentar"] = "comment"
    report = run(sessions, campaign_id, tmp_path, body, mapping=mapping)
    assert counts(report) == {
        "imported": 2,
        "invalid_number": 2,
        "dnc": 1,
        "duplicate": 1,
        "malformed": 2,
    }
    assert report.warnings == 1
    entries = {e["line"]: e for e in report.issues}
    assert {n: e["outcome"] for n, e in entries.items()} == {
        4: "invalid_number",
        5: "dnc",
        6: "duplicate",
        7: "malformed",
        8: "malformed",
        10: "imported",
        11: "invalid_number",
    }
    assert "+491709999999" in entries[10]["message"] and "do-not-call" in entries[10]["message"]
    assert entries[7]["message"].startswith("Prioritaet:")
    assert entries[8]["message"] == "expected 5 columns, found 2"
    assert entries[8]["data"] == ["Fritz", "030 3333333"]
    assert entries[6]["data"]["Name"] == "Dora" and "line 2" in entries[6]["message"]
    anna, gina = contacts(session)
    assert anna.comment == "zwei\nZeilen" and anna.priority == 1
    assert phones(gina) == [(2, "089 1234567", "+49891234567", False)]


def test_bad_values_are_malformed_and_the_rest_goes_on(
    sessions: SessionMaker, session: Session, campaign_id: int, tmp_path: Path
) -> None:
    long_name = "x" * 256
    body = (
        "Name,Telefon,Amount,dtBeginDate\n"
        f"{long_name},030 1234567,,\n"
        "B,030 1234568,zwölf,\n"
        "C,030 1234569,,gestern\n"
        "D,030 12345670,1e20,\n"
        "E,030 1234561,,2030-01-01\n"
    )
    report = run(sessions, campaign_id, tmp_path, body, mapping={"Telefon": "phone1"})
    assert counts(report) == {"imported": 1, "malformed": 4}
    messages = [e["message"] for e in report.issues]
    assert messages[0] == "Name: longer than 255 characters"
    assert "not a number" in messages[1] and "ISO 8601" in messages[2]
    assert "out of range" in messages[3]
    assert [c.name for c in contacts(session)] == ["E"]


def test_invalid_numbers_next_to_a_valid_one_are_kept_as_invalid(
    sessions: SessionMaker, session: Session, campaign_id: int, tmp_path: Path
) -> None:
    body = "phone1,phone2,phone3\n123,030 1234567,+49 30 1234567\n"
    report = run(sessions, campaign_id, tmp_path, body)
    assert counts(report) == {"imported": 1} and report.warnings == 1
    (entry,) = list(report.issues)
    assert "phone1 '123' is not a valid number" in entry["message"]
    assert "phone3 +49301234567 repeats" in entry["message"]
    assert phones(contacts(session)[0]) == [
        (1, "123", None, True),
        (2, "030 1234567", "+49301234567", False),
    ]


def test_dnc_of_the_campaign_applies_and_other_campaigns_do_not(
    sessions: SessionMaker, tenant: NewTenant, campaign_id: int, tmp_path: Path
) -> None:
    other = new_campaign(sessions, tenant.tenant.id, "Other")
    add_dnc(sessions, tenant.tenant.id, "+49301111111", campaign=campaign_id)
    add_dnc(sessions, tenant.tenant.id, "+49302222222", campaign=other)
    body = "phone1\n030 1111111\n030 2222222\n"
    report = run(sessions, campaign_id, tmp_path, body)
    assert counts(report) == {"imported": 1, "dnc": 1}
    assert issues(report) == [(2, "dnc")]
    report = run(sessions, other, tmp_path, body)
    assert issues(report) == [(3, "dnc")]


def test_another_tenants_dnc_does_not_apply(
    sessions: SessionMaker, other_tenant: NewTenant, campaign_id: int, tmp_path: Path
) -> None:
    add_dnc(sessions, other_tenant.tenant.id, "+49301111111")
    report = run(sessions, campaign_id, tmp_path, "phone1\n030 1111111\n")
    assert counts(report) == {"imported": 1}


def test_a_huge_dnc_list_is_queried_instead_of_loaded(
    sessions: SessionMaker,
    tenant: NewTenant,
    campaign_id: int,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(importer, "DNC_SET_LIMIT", 0)
    add_dnc(sessions, tenant.tenant.id, "+49301111111")
    report = run(sessions, campaign_id, tmp_path, "phone1\n030 1111111\n030 2222222\n")
    assert counts(report) == {"imported": 1, "dnc": 1}


# Duplicates -------------------------------------------------------------------------------


def seed(sessions: SessionMaker, campaign_id: int, tmp_path: Path) -> None:
    body = "Name,phone1,phone2,UserData,external_id\nOld,030 1111111,0170 1111111,U1,E1\n"
    assert counts(run(sessions, campaign_id, tmp_path, body)) == {"imported": 1}


ROW_SAME_PHONE = "Name,phone1,UserData,external_id\nNew,0170 1111111,U7,E7\n"
ROW_SAME_USER_DATA = "Name,phone1,UserData,external_id\nNew,030 9999999,U1,E8\n"
ROW_SAME_EXTERNAL_ID = "Name,phone1,UserData,external_id\nNew,030 8888888,U8,E1\n"
ROWS = {
    "phone": ROW_SAME_PHONE,
    "user_data": ROW_SAME_USER_DATA,
    "external_id": ROW_SAME_EXTERNAL_ID,
}
# what the overwritten contact looks like: phone1 and user_data
UPDATED = {
    "phone": ("+491701111111", "U7"),
    "user_data": ("+49309999999", "U1"),
    "external_id": ("+49308888888", "U8"),
}


def duplicate_options(handling: str, scope: str, key: str) -> dict[str, Any]:
    return {"duplicates": handling, "duplicate_scope": scope, "duplicate_key": key}


each_key = pytest.mark.parametrize("key", list(ROWS))
each_scope = pytest.mark.parametrize("scope", ["campaign", "tenant"])


@each_key
@each_scope
def test_skip_finds_duplicates_by_key_in_scope(
    sessions: SessionMaker,
    tenant: NewTenant,
    campaign_id: int,
    tmp_path: Path,
    key: str,
    scope: str,
) -> None:
    other = new_campaign(sessions, tenant.tenant.id, "Other")
    seed(sessions, other, tmp_path)
    options = duplicate_options("skip", scope, key)
    report = run(sessions, campaign_id, tmp_path, ROWS[key], **options)
    expected = "duplicate" if scope == "tenant" else "imported"
    assert counts(report) == {expected: 1}
    for other_key in set(ROWS) - {key}:  # other keys never match
        report = run(sessions, other, tmp_path, ROWS[other_key], **options)
        assert counts(report) == {"imported": 1}, other_key


@each_key
def test_skip_reports_the_existing_contact(
    sessions: SessionMaker, campaign_id: int, tmp_path: Path, key: str
) -> None:
    seed(sessions, campaign_id, tmp_path)
    report = run(sessions, campaign_id, tmp_path, ROWS[key], duplicate_key=key)
    (entry,) = list(report.issues)
    assert entry["outcome"] == "duplicate" and "as contact" in entry["message"]


@each_key
@each_scope
def test_overwrite_updates_the_existing_contact(
    sessions: SessionMaker,
    session: Session,
    tenant: NewTenant,
    campaign_id: int,
    tmp_path: Path,
    key: str,
    scope: str,
) -> None:
    home = campaign_id if scope == "campaign" else new_campaign(sessions, tenant.tenant.id, "O")
    seed(sessions, home, tmp_path)
    with unit_of_work(sessions) as s:
        s.execute(text("UPDATE contact_phones SET tries = 2"))
    options = duplicate_options("overwrite", scope, key)
    report = run(sessions, campaign_id, tmp_path, ROWS[key], **options)
    assert counts(report) == {"updated": 1}
    (contact,) = contacts(session)
    assert contact.campaign_id == home and contact.name == "New"
    by_position = {p.position: p for p in contact.phones}
    assert (by_position[1].e164, contact.user_data) == UPDATED[key]
    assert by_position[1].tries == 0  # a new number at position 1 starts afresh
    assert by_position[2].e164 == "+491701111111" and by_position[2].tries == 2  # untouched


def test_overwrite_keeps_the_counters_of_an_unchanged_number_and_merges_custom_data(
    sessions: SessionMaker, session: Session, campaign_id: int, tmp_path: Path
) -> None:
    first = '{"phone1": "030 1111111", "Name": "A", "custom_data": {"a": 1}}\n'
    run(sessions, campaign_id, tmp_path, first, fmt="ndjson")
    with unit_of_work(sessions) as s:
        s.execute(text("UPDATE contact_phones SET tries = 3"))
    again = '{"phone1": "+49 30 1111111", "City": "Bonn", "custom_data": {"b": 2}}\n'
    report = run(sessions, campaign_id, tmp_path, again, fmt="ndjson", duplicates="overwrite")
    assert counts(report) == {"updated": 1}
    (contact,) = contacts(session)
    assert (contact.name, contact.city, contact.custom_data) == ("A", "Bonn", {"a": 1, "b": 2})
    assert phones(contact) == [(1, "+49 30 1111111", "+49301111111", False)]
    assert contact.phones[0].tries == 3


def test_allow_imports_duplicates(
    sessions: SessionMaker, session: Session, campaign_id: int, tmp_path: Path
) -> None:
    seed(sessions, campaign_id, tmp_path)
    body = ROW_SAME_PHONE + "Again,0170 1111111,U9,E9\n"
    report = run(sessions, campaign_id, tmp_path, body, duplicates="allow")
    assert counts(report) == {"imported": 2}
    assert len(contacts(session)) == 3


@pytest.mark.parametrize("chunk_rows", [1000, 2])
def test_duplicates_inside_the_file(
    sessions: SessionMaker,
    session: Session,
    campaign_id: int,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    chunk_rows: int,
) -> None:
    monkeypatch.setattr(import_reading, "CHUNK_ROWS", chunk_rows)  # within one chunk and across
    body = "Name,phone1,phone2\nA,030 1111111,\nB,030 2222222,\nC,0170 1,030 1111111\n"
    report = run(sessions, campaign_id, tmp_path, body)
    assert counts(report) == {"imported": 2, "duplicate": 1}
    (entry,) = list(report.issues)
    assert entry["line"] == 4 and "+49301111111" in entry["message"]
    report = run(sessions, campaign_id, tmp_path, body, duplicates="overwrite")
    assert counts(report) == {"updated": 3}
    body = "Name,phone1,City\nX,030 5555555,Bonn\nY,030 5555555,\n"
    report = run(sessions, campaign_id, tmp_path, body, duplicates="overwrite")
    assert counts(report) == {"imported": 1, "updated": 1}
    last = contacts(session)[-1]
    assert (last.name, last.city) == ("Y", "Bonn")


# Fatal errors and options -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "options", "code"),
    [
        ("Name;Telefon\nA;030 1234567\n", {"mapping": {"Tel": "phone1"}}, "unknown_column"),
        ("Name;Ort\nA;Berlin\n", {}, "no_phone_column"),
        ("phone;Telefon\n1;2\n", {"mapping": {"Telefon": "phone1"}}, "ambiguous_mapping"),
        ("", {}, "empty_file"),
        ("\n\n", {}, "empty_file"),
        ("phone1;" + "x" * 200_000 + "\n", {}, "malformed_header"),
        ("phone1;phone1\n1;2\n", {}, "duplicate_column"),
    ],
)
def test_fatal_errors_write_nothing(
    sessions: SessionMaker,
    session: Session,
    campaign_id: int,
    tmp_path: Path,
    body: str,
    options: dict[str, Any],
    code: str,
) -> None:
    seed(sessions, campaign_id, tmp_path)
    with pytest.raises(OpendialerError) as caught:
        run(sessions, campaign_id, tmp_path, body, **options)
    assert caught.value.code == code and caught.value.status_code == 422
    assert total(session, Contact) == 1 and total(session, ContactPhone) == 2


def test_unknown_mapping_target_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown mapping target 'phone7'"):
        ImportOptions(mapping={"Tel": "phone7"})
    with pytest.raises(ValueError, match="encoding"):
        ImportOptions(encoding="utf-16")
    assert ImportOptions(encoding="latin-1", delimiter="tab").encoding == "iso-8859-1"
    assert ImportOptions(encoding="cp1252", delimiter="tab").delimiter == "\t"


def test_list_id_must_belong_to_the_campaign(
    sessions: SessionMaker, session: Session, tenant: NewTenant, campaign_id: int, tmp_path: Path
) -> None:
    other = new_campaign(sessions, tenant.tenant.id, "Other")
    with unit_of_work(sessions) as s:
        mine = create_list(s, s.get_one(Campaign, campaign_id), ListCreate(name="L1")).id
        theirs = create_list(s, s.get_one(Campaign, other), ListCreate(name="L2")).id
    with pytest.raises(OpendialerError) as caught:
        run(sessions, campaign_id, tmp_path, "phone1\n030 1234567\n", list_id=theirs)
    assert caught.value.status_code == 404
    run(sessions, campaign_id, tmp_path, "phone1\n030 1234567\n", list_id=mine)
    assert contacts(session)[0].list_id == mine


def test_region_comes_from_the_tenant(
    sessions: SessionMaker, session: Session, tmp_path: Path
) -> None:
    from tests.conftest import make_tenant

    israeli = make_tenant(sessions, "Tel Aviv", region="IL")
    campaign = new_campaign(sessions, israeli.tenant.id, "IL")
    report = run(sessions, campaign, tmp_path, "phone1\n0501234567\n")
    assert counts(report) == {"imported": 1}
    assert contacts(session)[0].phones[0].e164 == "+972501234567"


@pytest.mark.parametrize("check", ["off", "valid", "pool"])
def test_own_caller_ids_are_checked_as_the_campaign_says(
    sessions: SessionMaker, campaign_id: int, tmp_path: Path, check: str
) -> None:
    """A caller ID the campaign may not present refuses its row (malformed, with the reason);
    the others import with their caller ID. New rows and updated ones alike."""
    with unit_of_work(sessions) as s:
        campaign = s.get_one(Campaign, campaign_id)
        campaign.own_caller_id_check = OwnCallerIdCheck(check)
        s.add(CallerIdNumber(tenant_id=campaign.tenant_id, campaign_id=campaign_id, e164=POOLED))
    content = (
        "name,phone1,caller_id\n"
        "Pooled,030 1111111,+49 30 12340000\n"  # in the pool
        "Valid,030 2222222,+49 40 5555555\n"  # valid, not in the pool
        "Premium,030 3333333,0900 1234567\n"  # premium rate
        "Short,030 4444444,112\n"
        "Pooled again,030 1111111,+49 40 5555555\n"  # an update to the first row's contact
    )
    report = run(sessions, campaign_id, tmp_path, content, duplicates="overwrite")
    refused = {
        "off": [],
        "valid": [(4, "malformed"), (5, "malformed")],
        "pool": [(3, "malformed"), (4, "malformed"), (5, "malformed"), (6, "malformed")],
    }[check]
    assert issues(report) == refused
    messages = [e["message"] for e in report.issues]
    assert all(m.startswith("caller_id: ") for m in messages)
    if check == "valid":
        assert "premium-rate" in messages[0] and "not a valid phone number" in messages[1]
    with unit_of_work(sessions) as s:
        stored = {c.name: c.caller_id for c in contacts(s, campaign_id)}
    expected = {
        "off": {"Pooled again": "+49 40 5555555", "Valid": "+49 40 5555555"},
        "valid": {"Pooled again": "+49 40 5555555", "Valid": "+49 40 5555555"},
        "pool": {"Pooled": "+49 30 12340000"},
    }[check]
    assert {k: v for k, v in stored.items() if k in expected} == expected
    assert len(stored) == {"off": 4, "valid": 2, "pool": 1}[check]


HOSTILE = {
    "name": "Tab\there, a line\nbreak, a return\rand a backslash \\ end",
    "first_name": "\\N",
    "user_data": "\\",
    "comment": "\\t is not a tab, \\\\N not NULL; ü € \u2028 done",
    "phone1": "030 1234567",
    "phone2": "not\ta\\number\n",
    "Farbe": 'x\t"y"\\n\nz',
}


def test_hostile_text_is_stored_exactly(
    sessions: SessionMaker, session: Session, campaign_id: int, tmp_path: Path
) -> None:
    """Tabs, line breaks, backslashes and a literal ``\\N`` survive the import as they were
    (PostgreSQL's COPY text format escapes them), in the fields, the numbers and custom data."""
    body = json.dumps(HOSTILE) + "\n"
    report = run(sessions, campaign_id, tmp_path, body, "ndjson", unmapped="custom_data")
    assert counts(report) == {"imported": 1}
    (contact,) = contacts(session)
    stored = (contact.name, contact.first_name, contact.user_data, contact.comment)
    assert stored == (HOSTILE["name"], "\\N", "\\", HOSTILE["comment"])
    assert contact.custom_data == {"Farbe": HOSTILE["Farbe"]}
    assert phones(contact) == [
        (1, "030 1234567", "+49301234567", False),
        (2, HOSTILE["phone2"].strip(), None, True),
    ]


def test_caller_ids_are_checked_when_duplicates_are_skipped(
    sessions: SessionMaker, session: Session, campaign_id: int, tmp_path: Path
) -> None:
    """New rows of an import that does not merge are checked as well."""
    with unit_of_work(sessions) as s:
        s.get_one(Campaign, campaign_id).own_caller_id_check = OwnCallerIdCheck.VALID
    body = "name,phone1,caller_id\nPremium,030 3333333,0900 1234567\nFine,030 4444444,030 555555\n"
    report = run(sessions, campaign_id, tmp_path, body)
    assert issues(report) == [(2, "malformed")]
    assert [c.name for c in contacts(session)] == ["Fine"]


# Text no database stores (opendialer.inputs.text_problem): NUL, and lone surrogates from JSON.
UNSTORABLE_OBJECTS: list[dict[str, Any]] = [
    {"name": "A\x00", "phone1": "030 1111111"},
    {"name": "B", "phone1": "030 2222222", "Farbe": "\ud800"},
    {"name": "C", "phone1": "030 3333333", "custom_data": {"k": ["\x00"]}},
    {"name": "D", "phone1": "030 4444444", "Far\x00be": "x"},
    {"name": "E", "phone1": "030 4444445", "Far\udfffbe": "x"},
    {"name": "Fine", "phone1": "030 5555555", "Farbe": "\ud83d\ude00 \\u0000"},
]


def test_text_no_database_stores_makes_its_row_malformed_in_csv(
    sessions: SessionMaker, session: Session, campaign_id: int, tmp_path: Path
) -> None:
    """A NUL in any value of a row (a field, a number, a custom_data key's value, JSON text in
    a custom_data column) makes that row malformed, naming the column; the rest imports."""
    body = (
        "name,phone1,Farbe,Extra\n"
        "A\x00,030 1111111,x,\n"
        "B,030 2222222,bl\x00au,\n"
        'C,030 3333333,x,"{""k"": ""\\u0000""}"\n'
        "D,030\x00 4444444,x,\n"
        'Fine,030 5555555,"gr\nün",{}\n'
    )
    report = run(
        sessions,
        campaign_id,
        tmp_path,
        body,
        mapping={"Extra": "custom_data"},
        unmapped="custom_data",
    )
    assert counts(report) == {"malformed": 4, "imported": 1}
    messages = [(e["line"], e["message"]) for e in report.issues]
    assert messages == [
        (2, "name: text must not contain NUL characters"),
        (3, "Farbe: text must not contain NUL characters"),
        (4, "Extra: text must not contain NUL characters"),
        (5, "phone1: text must not contain NUL characters"),
    ]
    (contact,) = contacts(session)
    assert (contact.name, contact.custom_data) == ("Fine", {"Farbe": "gr\nün"})


@pytest.mark.parametrize("fmt", ["ndjson", "json"])
def test_text_no_database_stores_makes_its_row_malformed_in_json(
    sessions: SessionMaker, session: Session, campaign_id: int, tmp_path: Path, fmt: str
) -> None:
    """ "\\u0000" and lone surrogates ("\\ud800") in a JSON value, nested value or key make the
    row malformed, naming the key; a paired surrogate (an emoji) and an escaped backslash pass."""
    lines = [json.dumps(obj) for obj in UNSTORABLE_OBJECTS]
    body = "\n".join(lines) + "\n" if fmt == "ndjson" else "[" + ",\n".join(lines) + "]"
    report = run(sessions, campaign_id, tmp_path, body, fmt, unmapped="custom_data")
    assert counts(report) == {"malformed": 5, "imported": 1}
    first = 1 if fmt == "ndjson" else 0
    messages = [(e["line"] - first, e["message"]) for e in report.issues]
    assert messages == [
        (0, "name: text must not contain NUL characters"),
        (1, "Farbe: text must not contain unpaired surrogate code points"),
        (2, "custom_data: text must not contain NUL characters"),
        (3, "key 'Far\\x00be': text must not contain NUL characters"),
        (4, "key 'Far\\udfffbe': text must not contain unpaired surrogate code points"),
    ]
    assert [e["data"] for e in report.issues] == UNSTORABLE_OBJECTS[:5]
    (contact,) = contacts(session)
    assert (contact.name, contact.custom_data) == ("Fine", {"Farbe": "\U0001f600 \\u0000"})


def test_a_header_with_nul_stops_the_import(
    sessions: SessionMaker, session: Session, campaign_id: int, tmp_path: Path
) -> None:
    with pytest.raises(OpendialerError) as caught:
        run(sessions, campaign_id, tmp_path, "name,pho\x00ne1\nA,030 1111111\n")
    assert caught.value.code == "malformed_header"
    assert "column 2 must not contain NUL" in str(caught.value)
    assert contacts(session) == []


def test_reported_rows_show_their_values_exactly(
    sessions: SessionMaker, campaign_id: int, tmp_path: Path
) -> None:
    """A row's values travel to the importing process joined into one string (NUL, which no
    row holds, between them) and come back apart for the report: empty values, spaces, line
    breaks, tabs and backslashes included."""
    body = 'name,phone1,Notiz,Farbe\nA,030 1111111,,\n" B ",030 1111111,"x\n\\ty\t",\\\n'
    report = run(sessions, campaign_id, tmp_path, body)
    assert [(e["outcome"], e["data"]) for e in report.issues] == [
        ("duplicate", {"name": " B ", "phone1": "030 1111111", "Notiz": "x\n\\ty\t", "Farbe": "\\"})
    ]
