"""CSV exports: formula neutralisation, encodings, and the native export API."""

import csv
import io

import pytest
from fastapi.testclient import TestClient

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
