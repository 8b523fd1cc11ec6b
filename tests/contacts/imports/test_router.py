"""POST /api/v1/campaigns/{id}/contacts:import over HTTP."""

import json
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from opendialer.models import Contact, ContactPhone, DncEntry, Tenant

CSV = "Name;Telefon;UserData\nMüller;030 1234567;K1\nX;12;K2\nWeber;030 1234567;K3\n"


def campaign(api: TestClient, name: str = "Spring") -> int:
    response = api.post("/api/v1/campaigns", json={"name": name, "dial_mode": "predictive"})
    assert response.status_code == 201, response.text
    campaign_id: int = response.json()["id"]
    return campaign_id


def post(
    api: TestClient,
    campaign_id: int,
    body: bytes | str,
    content_type: str = "text/csv",
    **params: Any,
) -> Any:
    return api.post(
        f"/api/v1/campaigns/{campaign_id}/contacts:import",
        content=body.encode() if isinstance(body, str) else body,
        headers={"content-type": content_type},
        params={k: json.dumps(v) if isinstance(v, dict) else v for k, v in params.items()},
    )


def count(session: Session, model: type[Any]) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def test_csv_body_gives_a_report(api: TestClient, session: Session) -> None:
    response = post(api, campaign(api), CSV)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    report = response.json()
    assert report["counts"] == {
        "imported": 1,
        "updated": 0,
        "duplicate": 1,
        "invalid_number": 1,
        "dnc": 0,
        "malformed": 0,
    }
    assert report["total"] == 3 and report["format"] == "csv" and report["delimiter"] == ";"
    assert report["mapping"] == {"Name": "name", "Telefon": "phone1", "UserData": "user_data"}
    assert [(r["line"], r["outcome"]) for r in report["rows"]] == [
        (3, "invalid_number"),
        (4, "duplicate"),
    ]
    assert report["rows"][1]["data"] == {
        "Name": "Weber",
        "Telefon": "030 1234567",
        "UserData": "K3",
    }
    assert count(session, Contact) == 1
    assert session.scalars(select(ContactPhone.e164)).all() == ["+49301234567"]


def test_options_as_query_parameters(api: TestClient, session: Session) -> None:
    body = "Nachname|Tel|Kundennr|Farbe\nWeber|030 1234567|K7|blau\nWeber|030 1234567|K7|rot\n"
    response = post(
        api,
        campaign(api),
        body,
        delimiter="|",
        mapping={"Tel": "phone1", "Kundennr": "user_data"},
        unmapped="custom_data",
        duplicates="overwrite",
        duplicate_key="user_data",
        duplicate_scope="tenant",
    )
    assert response.status_code == 200, response.text
    assert response.json()["counts"]["imported"] == 1
    assert response.json()["counts"]["updated"] == 1
    contact = session.scalars(select(Contact)).one()
    assert (contact.name, contact.user_data, contact.custom_data) == (
        "Weber",
        "K7",
        {"Farbe": "rot"},
    )


def test_charset_of_the_content_type_is_the_encoding(api: TestClient, session: Session) -> None:
    body = "Name;Telefon\nGrüße „Ö“;030 1234567\n".encode("windows-1252")
    response = post(api, campaign(api), body, "text/csv; charset=windows-1252")
    assert response.status_code == 200, response.text
    assert response.json()["encoding"] == "windows-1252"
    assert session.scalars(select(Contact.name)).one() == "Grüße „Ö“"


def test_latin1_by_parameter(api: TestClient, session: Session) -> None:
    body = "Name;Telefon\nJörg Weiß;030 1234567\n".encode("iso-8859-1")
    response = post(api, campaign(api), body, encoding="iso-8859-1")
    assert response.status_code == 200, response.text
    assert session.scalars(select(Contact.name)).one() == "Jörg Weiß"


def test_json_array_and_ndjson(api: TestClient, session: Session) -> None:
    campaign_id = campaign(api)
    rows = [{"Name": "A", "PhoneNumber1": "030 1111111"}, {"Name": "B", "PhoneNumber1": "x"}]
    response = post(api, campaign_id, json.dumps(rows), "application/json")
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["line_kind"] == "index" and report["rows"][0]["line"] == 1
    lines = '{"name": "C", "phone1": "030 2222222"}\n{"name": "D"}\n'
    response = post(api, campaign_id, lines, "application/x-ndjson")
    assert response.status_code == 200, response.text
    assert response.json()["line_kind"] == "line"
    assert [(r["line"], r["outcome"]) for r in response.json()["rows"]] == [(2, "invalid_number")]
    assert count(session, Contact) == 2


def test_multipart_upload(api: TestClient, session: Session) -> None:
    response = api.post(
        f"/api/v1/campaigns/{campaign(api)}/contacts:import",
        files={"file": ("leads.csv", CSV.encode(), "application/octet-stream")},
    )
    assert response.status_code == 200, response.text
    assert response.json()["counts"]["imported"] == 1
    assert count(session, Contact) == 1


def test_dnc_numbers_are_reported(api: TestClient, session: Session) -> None:
    campaign_id = campaign(api)
    session.add(DncEntry(tenant_id=session.scalars(select(Tenant.id)).one(), e164="+49301234567"))
    session.commit()
    response = post(api, campaign_id, "phone1;phone2\n030 1234567;\n030 1234567;089 1234567\n")
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["counts"]["dnc"] == 1 and report["counts"]["imported"] == 1
    assert report["warnings"] == 1
    assert [(r["line"], r["outcome"]) for r in report["rows"]] == [(2, "dnc"), (3, "imported")]


def test_another_tenants_campaign_is_404_and_nothing_is_written(
    api: TestClient, other_api: TestClient, session: Session
) -> None:
    theirs = campaign(other_api, "Theirs")
    response = post(api, theirs, CSV)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert post(api, 999_999, CSV).status_code == 404
    assert count(session, Contact) == 0


def test_fatal_errors_are_4xx_and_write_nothing(api: TestClient, session: Session) -> None:
    campaign_id = campaign(api)
    cases: list[tuple[bytes | str, str, dict[str, Any], int, str]] = [
        ("Straße;Telefon\nA;030 1\n".encode("latin-1"), "text/csv", {}, 422, "undecodable_file"),
        (CSV, "text/csv", {"mapping": {"Telefon": "phone9"}}, 422, "invalid_options"),
        (CSV, "text/csv", {"mapping": "{not json"}, 422, "invalid_options"),
        (CSV, "text/csv", {"encoding": "ebcdic"}, 422, "invalid_options"),
        (CSV, "text/csv", {"mapping": {"Tel": "phone1"}}, 422, "unknown_column"),
        ('[{"phone1": "030 1234567"}, {', "application/json", {}, 422, "malformed_json"),
        (CSV, "application/pdf", {}, 415, "unsupported_format"),
        (CSV, "text/csv", {"list_id": 12345}, 404, "not_found"),
    ]
    for body, content_type, params, status, code in cases:
        response = post(api, campaign_id, body, content_type, **params)
        assert response.status_code == status, (code, response.text)
        assert response.json()["error"]["code"] == code
    assert count(session, Contact) == 0 and count(session, ContactPhone) == 0


def test_format_parameter_overrides_the_content_type(api: TestClient) -> None:
    body = '{"phone1": "030 1234567"}\n'
    response = post(api, campaign(api), body, "application/octet-stream", format="ndjson")
    assert response.status_code == 200, response.text
    assert response.json()["counts"]["imported"] == 1


def test_needs_an_api_key(client: TestClient, api: TestClient) -> None:
    campaign_id = campaign(api)
    response = client.post(
        f"/api/v1/campaigns/{campaign_id}/contacts:import",
        content=CSV.encode(),
        headers={"content-type": "text/csv"},
    )
    assert response.status_code == 401


def test_a_large_report_streams_every_row(api: TestClient) -> None:
    body = "phone1\n" + "12\n" * 3000
    response = post(api, campaign(api), body)
    assert response.status_code == 200
    report = response.json()
    assert report["counts"]["invalid_number"] == 3000 and len(report["rows"]) == 3000
    assert report["rows"][-1]["line"] == 3001


def test_text_no_database_stores_is_a_malformed_row_not_an_error(
    api: TestClient, session: Session
) -> None:
    """NUL and lone surrogates (opendialer.inputs): the row is reported malformed, the rest of the
    file imports, on every database; the report is valid UTF-8 JSON."""
    campaign_id = campaign(api)
    body = "Name;Telefon\nA\x00;030 1111111\nB;030 2222222\n"
    response = post(api, campaign_id, body)
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["counts"]["imported"], report["counts"]["malformed"]) == (1, 1)
    assert report["rows"] == [
        {
            "line": 2,
            "outcome": "malformed",
            "message": "Name: text must not contain NUL characters",
            "data": {"Name": "A\x00", "Telefon": "030 1111111"},
        }
    ]
    ndjson = '{"name": "C", "phone1": "030 3333333", "x": "\\ud800"}\n'
    ndjson += '{"name": "D\\u0000", "phone1": "030 4444444"}\n'
    ndjson += '{"name": "E", "phone1": "030 5555555"}\n'
    response = post(api, campaign_id, ndjson, "application/x-ndjson", unmapped="custom_data")
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["counts"]["imported"], report["counts"]["malformed"]) == (1, 2)
    assert [(r["line"], r["message"]) for r in report["rows"]] == [
        (1, "x: text must not contain unpaired surrogate code points"),
        (2, "name: text must not contain NUL characters"),
    ]
    assert report["rows"][0]["data"] == {"name": "C", "phone1": "030 3333333", "x": "\ud800"}
    names = session.scalars(select(Contact.name).order_by(Contact.id)).all()
    assert names == ["B", "E"]


def test_nul_in_the_header_or_the_mapping_is_a_422(api: TestClient, session: Session) -> None:
    campaign_id = campaign(api)
    cases: list[tuple[str, dict[str, Any], str]] = [
        ("Name;Tele\x00fon\nA;030 1111111\n", {}, "malformed_header"),
        (CSV, {"mapping": {"Name": "custom_data.a\x00"}}, "invalid_options"),
        (CSV, {"mapping": {"Name\x00": "name"}}, "invalid_options"),
        (CSV, {"mapping": {"Name": "custom_data.\ud800"}}, "invalid_options"),
    ]
    for body, params, code in cases:
        response = post(api, campaign_id, body, **params)
        assert response.status_code == 422, (code, response.text)
        assert response.json()["error"]["code"] == code
    assert count(session, Contact) == 0
