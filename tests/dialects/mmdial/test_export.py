"""mmDial: exportbystatus, read back through its signed URL in each encoding."""

import csv
import io
import time
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.orm import Session

from opendialer.config import Settings
from opendialer.exports.service import purge_expired_exports
from opendialer.models import Contact, ContactStatus
from tests.dialects.mmdial.helpers import add_lead, add_list, campaign

FIELDS = "customerfield_leadid,customerfield_first_name,customerfield_phone,webformfield_product"


def _download(client: TestClient, url: str) -> bytes:
    response = client.get(url, auth=None)  # the signed link needs no credentials
    assert response.status_code == 200, response.text
    content: bytes = response.content
    return content


def _rows(data: bytes, encoding: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode(encoding)), delimiter=";"))


@pytest.fixture
def leads(mm: TestClient, api: TestClient) -> tuple[int, list[int]]:
    campaign_id = campaign(api)
    list_id = add_list(mm, campaign_id)
    ids = [
        add_lead(
            mm,
            campaign_id,
            list_id,
            phone="+49 89 1234567",
            first_name="Jürgen",
            **{"formfields.product": '=HYPERLINK("http://x")'},
        )["leadid"],
        add_lead(
            mm,
            campaign_id,
            list_id,
            phone="0301234567",
            first_name="Łukasz Ő",
            **{"formfields.product": "Basic €"},
        )["leadid"],
        add_lead(mm, campaign_id, list_id, phone="0401234567", first_name="-1+1")["leadid"],
    ]
    return campaign_id, ids


@pytest.mark.parametrize(
    ("encoding", "codec", "second_name", "euro"),
    [
        # Ł has no unaccented form ("?"), Ő becomes "O"; € is missing from ISO-8859-1 only
        ("ISO-8859-1", "iso-8859-1", "?ukasz O", "Basic ?"),
        ("Windows-1252", "cp1252", "?ukasz O", "Basic €"),
        ("UTF-8", "utf-8", "Łukasz Ő", "Basic €"),
    ],
)
def test_export_in_each_encoding(
    mm: TestClient,
    leads: tuple[int, list[int]],
    encoding: str,
    codec: str,
    second_name: str,
    euro: str,
) -> None:
    campaign_id, ids = leads
    params = {"campaign_id": campaign_id, "selectedfields": FIELDS, "encoding": encoding}
    body = mm.get("exportbystatus", params=params).json()
    assert body["status"] == "ok", body
    assert body["ready"] == "yes" and body["rows"] == 3
    data = _download(mm, body["url"])
    assert body["size"] == len(data)
    rows = _rows(data, codec)
    assert rows[0] == FIELDS.split(",")
    assert rows[1] == [str(ids[0]), "Jürgen", "+49 89 1234567", '\'=HYPERLINK("http://x")']
    assert rows[2][1:] == [second_name, "0301234567", euro]
    assert rows[3][1] == "'-1+1"


def test_default_encoding_is_iso_8859_1(mm: TestClient, leads: tuple[int, list[int]]) -> None:
    campaign_id, _ids = leads
    params = {"campaign_id": campaign_id, "selectedfields": FIELDS}
    response = mm.get("exportbystatus", params=params).json()
    data = _download(mm, response["url"])
    assert "Jürgen".encode("iso-8859-1") in data
    assert _rows(data, "iso-8859-1")[2][1] == "?ukasz O"


def test_status_and_date_filters(
    mm: TestClient, leads: tuple[int, list[int]], session: Session
) -> None:
    campaign_id, ids = leads
    called = datetime(2016, 3, 2, 15, 0, 12, tzinfo=UTC)  # 16:00:12 in Berlin
    session.execute(
        update(Contact)
        .where(Contact.id == ids[1])
        .values(status=ContactStatus.DONE, last_call_at=called)
    )
    session.commit()
    base = {
        "campaign_id": campaign_id,
        "selectedfields": "customerfield_leadid,customerfield_status",
    }

    def exported(**extra: object) -> list[list[str]]:
        body = mm.get("exportbystatus", params={**base, **extra}).json()
        assert body["status"] == "ok", body
        return _rows(_download(mm, body["url"]), "iso-8859-1")[1:]

    assert exported(**{"status[]": ["done"]}) == [[str(ids[1]), "done"]]
    assert len(exported(**{"status[]": ["pending", "done"]})) == 3
    window = {"datetype": "last_phone", "fromdate": "02.03.2016", "fromtime": "16:00:12"}
    assert exported(**window, todate="02.03.2016", totime="16:00:12") == [[str(ids[1]), "done"]]
    later = {**window, "fromtime": "16:00:13"}
    assert exported(**later, todate="02.03.2016") == []
    assert exported(fromdate="01.03.2016", todate="03.03.2016") == [[str(ids[1]), "done"]]
    assert exported(datetype="imported_date", fromdate="01.01.2000") != []


@pytest.mark.parametrize(
    "params",
    [
        {"selectedfields": "customerfield_shoe_size"},
        {"selectedfields": "webformfield_colour"},
        {"selectedfields": ""},
        {"selectedfields": "customerfield_leadid", "encoding": "EBCDIC-42"},
        {"selectedfields": "customerfield_leadid", "fromdate": "2016-03-02"},
        {"selectedfields": "customerfield_leadid", "fromdate": "02.03.2016", "fromtime": "25:00"},
        {"selectedfields": "customerfield_leadid", "totime": "10:00:00"},
        {"selectedfields": "customerfield_leadid", "datetype": "birthday"},
        {
            "selectedfields": "customerfield_leadid",
            "fromdate": "03.03.2016",
            "todate": "02.03.2016",
        },
    ],
)
def test_bad_export_requests(
    mm: TestClient, leads: tuple[int, list[int]], params: dict[str, str]
) -> None:
    campaign_id, _ids = leads
    body = mm.get("exportbystatus", params={"campaign_id": campaign_id, **params}).json()
    assert body["status"] == "error" and body["reason"], params


def test_unknown_campaign_and_tampered_link(mm: TestClient, leads: tuple[int, list[int]]) -> None:
    campaign_id, _ids = leads
    unknown = mm.get("exportbystatus", params={"campaign_id": 999999, "selectedfields": FIELDS})
    assert unknown.json()["status"] == "error"
    body = mm.get("exportbystatus", params={"campaign_id": campaign_id, "selectedfields": FIELDS})
    url = body.json()["url"]
    assert mm.get(url.replace("signature=", "signature=0"), auth=None).status_code == 403
    later = url.replace("expires=", "expires=9")  # a longer life is not covered by the signature
    assert mm.get(later, auth=None).status_code == 403


def test_large_exports_are_built_in_the_background(
    mm: TestClient,
    leads: tuple[int, list[int]],
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(settings, "export_background_rows", 1)
    campaign_id, _ids = leads
    body = mm.get("exportbystatus", params={"campaign_id": campaign_id, "selectedfields": FIELDS})
    assert body.json()["status"] == "ok"
    url = body.json()["url"]
    deadline = time.monotonic() + 30
    while True:
        response = mm.get(url, auth=None)
        if response.status_code == 200 or time.monotonic() > deadline:
            break
        assert response.status_code == 409
        time.sleep(0.05)
    assert response.status_code == 200
    assert len(_rows(response.content, "iso-8859-1")) == 4


def test_an_export_past_its_retention_is_gone(
    mm: TestClient, leads: tuple[int, list[int]], settings: Settings
) -> None:
    campaign_id, _ids = leads
    body = mm.get("exportbystatus", params={"campaign_id": campaign_id, "selectedfields": FIELDS})
    url = body.json()["url"]
    a_week_later = datetime.now(UTC) + timedelta(days=settings.export_retention_days, seconds=1)
    assert purge_expired_exports(settings, a_week_later) == 1
    response = mm.get(url, auth=None)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
