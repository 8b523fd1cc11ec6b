"""Hostile input on MiniCRM's CallLog: answers are 2xx counts or a 4xx ``{"error", "code"}``,
never a 5xx; a bad item is counted on its own and the good ones are stored (tests/hostile.py)."""

import json
from typing import Any

from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from opendialer.accounts.service import NewTenant
from opendialer.models import CrmCallLog
from tests.hostile import HOSTILE, assert_rows_storable, count, deep_json, hostile_scalar

GOOD = {"Date": "2016-03-02 16:00:12", "Number": "0620123456", "CallType": "2", "Duration": "9"}
ITEM_FIELDS = ("Date", "Number", "CallType", "Duration", "ReferenceId")
COUNTS = ("Skipped", "Processed", "Exists", "NotFound")


def send(client: TestClient, body: Any) -> Any:
    response = client.post("/Api/CallLog", content=json.dumps(body).encode())
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert set(response.json()) == {"error", "code"}
    return response


@HOSTILE
@given(field=st.sampled_from(ITEM_FIELDS), value=hostile_scalar())
def test_one_bad_item_never_sinks_the_batch(
    client: TestClient,
    hu_tenant: NewTenant,
    contact_id: int,
    session: Session,
    field: str,
    value: Any,
) -> None:
    before = count(session, CrmCallLog)
    reference = f"ref-{before}"
    items = [{**GOOD, field: value}, {**GOOD, "ReferenceId": reference}]
    body = {"ApiKey": hu_tenant.calllog_api_key, "UserExtension": "001", "Data": items}
    answer = send(client, body).json()
    assert sum(answer[key] for key in COUNTS) == len(items)
    assert answer["Processed"] + answer["Exists"] >= 1  # the good item (Exists: sent before)
    stored = answer["Processed"] + answer["NotFound"]  # an unmatched number is kept too
    assert count(session, CrmCallLog) == before + stored
    assert_rows_storable(session, CrmCallLog)


@HOSTILE
@given(field=st.sampled_from(("ApiKey", "UserExtension", "Data")), value=hostile_scalar())
def test_hostile_envelopes_get_a_4xx(
    client: TestClient,
    hu_tenant: NewTenant,
    contact_id: int,
    session: Session,
    field: str,
    value: Any,
) -> None:
    body = {"ApiKey": hu_tenant.calllog_api_key, "UserExtension": "001", "Data": [GOOD]}
    send(client, {**body, field: value})
    assert_rows_storable(session, CrmCallLog)


def test_deep_json_is_refused_before_the_key_is_read(client: TestClient) -> None:
    response = client.post("/Api/CallLog", content=deep_json(100_000))
    assert response.status_code == 400
    assert response.json()["code"] == "malformed_json"


def test_nul_item_is_skipped_with_its_reason(
    client: TestClient, hu_tenant: NewTenant, contact_id: int, session: Session
) -> None:
    items = [{**GOOD, "ReferenceId": "a\x00b"}, {**GOOD, "ReferenceId": "fine"}]
    body = {"ApiKey": hu_tenant.calllog_api_key, "UserExtension": "001", "Data": items}
    answer = send(client, body).json()
    assert (answer["Skipped"], answer["Processed"]) == (1, 1)
    assert answer["Errors"] == [
        {"index": 0, "error": "ReferenceId must not contain NUL characters"}
    ]


def test_recording_link_with_hostile_parameters_is_a_404(client: TestClient) -> None:
    for token, rec in (("a%00b", "1"), ("x", "1²"), ("x", "9" * 40), ("x", "٣")):
        response = client.get(f"/Api/Recordings/{token}", params={"Rec": rec})
        assert response.status_code == 404, response.text
        assert response.json()["code"] == "not_found"


def test_lone_surrogate_item_is_skipped_alone(
    client: TestClient, hu_tenant: NewTenant, contact_id: int
) -> None:
    items = [{**GOOD, "ReferenceId": "a\ud800"}, {**GOOD, "Number": "\udfff"}, GOOD]
    body = {"ApiKey": hu_tenant.calllog_api_key, "UserExtension": "001", "Data": items}
    answer = send(client, body).json()
    assert (answer["Skipped"], answer["Processed"]) == (2, 1)
