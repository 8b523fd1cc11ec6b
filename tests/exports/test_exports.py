"""CSV exports: formula neutralisation, encodings, and the native export API."""

import csv
import io

import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from opendialer.exports import service


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("+498912345678", "+498912345678"),
        ("+49 (89) 123-456", "+49 (89) 123-456"),
        ("-5", "-5"),
        ("=1+2", "'=1+2"),
        ("+SUM(A1:A2)", "'+SUM(A1:A2)"),
        ("-2+3*cmd|' /C calc'!A0", "'-2+3*cmd|' /C calc'!A0"),
        ("@SUM(1)", "'@SUM(1)"),
        ("\tx", "'\tx"),
        ("plain", "plain"),
        ("", ""),
    ],
)
def test_safe_cell(cell: str, expected: str) -> None:
    assert service.safe_cell(cell) == expected


@pytest.mark.parametrize(
    ("given", "name"),
    [
        (None, "iso-8859-1"),
        ("latin-1", "iso-8859-1"),
        ("Windows-1252", "windows-1252"),
        ("utf8", "utf-8"),
    ],
)
def test_encoding_names(given: str | None, name: str) -> None:
    assert service.encoding_name(given) == name


def test_unknown_encoding() -> None:
    with pytest.raises(service.ExportError):
        service.encoding_name("utf-16")


def test_native_export(api: TestClient, other_api: TestClient) -> None:
    campaign = api.post("/api/v1/campaigns", json={"name": "E", "dial_mode": "preview"}).json()
    for name, phone in (("Zoë", "030 1234567"), ("Ann", "0891234567")):
        created = api.post(
            f"/api/v1/campaigns/{campaign['id']}/contacts",
            json={"phones": [phone], "first_name": name},
        )
        assert created.status_code == 201, created.text
    response = api.post(
        "/api/v1/exports",
        json={
            "campaign_id": campaign["id"],
            "fields": ["customerfield_first_name", "customerfield_phone", "customerfield_status"],
            "encoding": "UTF-8",
        },
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["state"], body["rows"]) == ("ready", 2)
    data = api.get(body["url"], headers={"Authorization": ""}).content
    rows = list(csv.reader(io.StringIO(data.decode("utf-8")), delimiter=";"))
    assert rows[1:] == [["Zoë", "030 1234567", "pending"], ["Ann", "0891234567", "pending"]]
    assert api.get(f"/api/v1/exports/{body['file_id']}").json()["size"] == len(data)
    assert other_api.get(f"/api/v1/exports/{body['file_id']}").status_code == 404
    bad = api.post(
        "/api/v1/exports", json={"campaign_id": campaign["id"], "fields": ["customerfield_x"]}
    )
    assert bad.status_code == 400


# Full-width = + - @ and the small equals sign: NFKD folds each to its ASCII formula start.
FULL_WIDTH_FORMULAS = [
    '\uff1dHYPERLINK("http://x")',
    "\uff0b1+2",
    "\uff0d2+3",
    "\uff20SUM(1)",
    "\ufe661+1",
]


@pytest.mark.parametrize("encoding", ["iso-8859-1", "windows-1252"])
@pytest.mark.parametrize("cell", FULL_WIDTH_FORMULAS)
def test_formula_made_by_transliteration_is_neutralised(cell: str, encoding: str) -> None:
    out = service.encoded_cell(cell, encoding)
    out.encode(encoding)  # representable: the file writer keeps it as it is
    assert out.startswith("'"), out


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=12), encoding=st.sampled_from(sorted(set(service.ENCODINGS.values()))))
def test_no_cell_starts_a_formula_in_any_encoding(text: str, encoding: str) -> None:
    out = service.encoded_cell(text, encoding)
    assert out[:1] not in "=+-@\t\r" or service.safe_cell(out) == out


@pytest.mark.parametrize("encoding", ["ISO-8859-1", "Windows-1252"])
def test_export_file_neutralises_full_width_formulas(api: TestClient, encoding: str) -> None:
    campaign = api.post("/api/v1/campaigns", json={"name": "F", "dial_mode": "preview"}).json()
    for number, name in enumerate(FULL_WIDTH_FORMULAS):
        created = api.post(
            f"/api/v1/campaigns/{campaign['id']}/contacts",
            json={"phones": [f"030 123456{number}"], "first_name": name},
        )
        assert created.status_code == 201, created.text
    body = api.post(
        "/api/v1/exports",
        json={
            "campaign_id": campaign["id"],
            "fields": ["customerfield_first_name"],
            "encoding": encoding,
        },
    ).json()
    data = api.get(body["url"], headers={"Authorization": ""}).content.decode(encoding)
    names = [row[0] for row in csv.reader(io.StringIO(data), delimiter=";")][1:]
    assert len(names) == len(FULL_WIDTH_FORMULAS)
    assert all(name.startswith("'") for name in names), names


def test_rotating_the_link_key_voids_export_links(api: TestClient) -> None:
    campaign = api.post("/api/v1/campaigns", json={"name": "R", "dial_mode": "preview"}).json()
    body = api.post(
        "/api/v1/exports",
        json={"campaign_id": campaign["id"], "fields": ["customerfield_leadid"]},
    ).json()
    assert api.get(body["url"], headers={"Authorization": ""}).status_code == 200
    assert api.post("/api/v1/tenant:rotate-link-key").status_code == 200
    assert api.get(body["url"], headers={"Authorization": ""}).status_code == 403
    fresh = api.get(f"/api/v1/exports/{body['file_id']}").json()["url"]
    assert api.get(fresh, headers={"Authorization": ""}).status_code == 200
