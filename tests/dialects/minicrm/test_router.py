"""POST /Api/CallLog: the spec's examples in order, matching, duplicates, the IP allow-list,
bad bodies and a 10,000-item batch, over real HTTP (TestClient) on both databases."""

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from opendialer.accounts.service import NewTenant
from opendialer.app import create_app
from opendialer.config import Settings
from opendialer.models import CrmCallLog, Tenant
from opendialer.web.state import state_of

EXAMPLE_1 = """
{
 "ApiKey":"<API_KEY>",
 "UserExtension":"001",
 "Data":
    {
     "Date":"2016-03-02 16:00:12",
     "Number":"0620123456",
     "CallType":"2",
     "Duration":"132",
     "ReferenceId":"UniqueReferenceId"
    }
}"""

EXAMPLE_2 = """
 {
   "ApiKey":"<API_KEY>",
   "UserExtension":"001",
   "Data":
    [
     {
      "Date":"2016-aíYA03-02 16:00:12",
      "CallType":"2",
      "Duration":"132",
      "ReferenceId":"UniqueReferenceId"
     },
     {
      "Date":"2016-03-02 16:00:12",
      "Number":"0620123456",
      "CallType":"2",
      "Duration":"132",
      "ReferenceId":"UniqueReferenceId"
     },
     {
      "Date":"2016-03-03 12:12:12",
      "Number":"0620123456",
      "CallType":"2",
      "Duration":"132",
      "ReferenceId":"UniqueReferenceId"
     }
    ]
 }"""


def post(client: TestClient, tenant: NewTenant, text: str) -> Any:
    # As curl -d sends it: a form content type, not JSON (spec C9).
    body = text.replace("<API_KEY>", tenant.calllog_api_key)
    return client.post(
        "/Api/CallLog",
        content=body.encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )


def counts(response: Any) -> dict[str, int]:
    assert response.status_code == 200, response.text
    body = response.json()
    return {k: body[k] for k in ("Skipped", "Processed", "Exists", "Missing", "NotFound")}


def test_spec_examples_in_order(
    client: TestClient, hu_tenant: NewTenant, contact_id: int, hu_api: TestClient
) -> None:
    first = counts(post(client, hu_tenant, EXAMPLE_1))
    assert {k: first[k] for k in ("Skipped", "Processed", "Exists")} == {
        "Skipped": 0,
        "Processed": 1,
        "Exists": 0,
    }
    second_response = post(client, hu_tenant, EXAMPLE_2)
    second = counts(second_response)
    assert {k: second[k] for k in ("Skipped", "Processed", "Exists")} == {
        "Skipped": 1,
        "Processed": 1,
        "Exists": 1,
    }
    assert second["Missing"] == 1 and second["NotFound"] == 0  # the skipped item lacks Number
    assert second_response.json()["Errors"][0]["index"] == 0
    history = hu_api.get(f"/api/v1/contacts/{contact_id}/call-logs").json()["items"]
    assert [(h["occurred_at"][:19], h["call_type"], h["duration_seconds"]) for h in history] == [
        ("2016-03-02T16:00:12", 2, 132),
        ("2016-03-03T12:12:12", 2, 132),
    ]
    assert {h["e164"] for h in history} == {"+3620123456"}
    assert {h["reference_id"] for h in history} == {"UniqueReferenceId"}


def test_unmatched_number_is_kept_and_counted_not_found(
    client: TestClient, hu_tenant: NewTenant, contact_id: int, hu_api: TestClient
) -> None:
    body = {
        "ApiKey": hu_tenant.calllog_api_key,
        "UserExtension": "001",
        "Data": [
            {
                "Date": "2024-05-01 08:00:00",
                "Number": "+36 30 999 8888",
                "CallType": 1,
                "Duration": 5,
            },
            {
                "Date": "2024-05-01T09:00:00+02:00",
                "Number": "0036201234 56",
                "CallType": 0,
                "Duration": 61,
            },
        ],
    }
    result = counts(client.post("/Api/CallLog", json=body))
    assert result == {"Skipped": 0, "Processed": 1, "Exists": 0, "Missing": 0, "NotFound": 1}
    unmatched = hu_api.get("/api/v1/crm/call-logs", params={"unmatched": True}).json()["items"]
    assert [(u["e164"], u["contact_id"]) for u in unmatched] == [("+36309998888", None)]
    matched = hu_api.get(f"/api/v1/contacts/{contact_id}/call-logs").json()["items"]
    assert [m["occurred_at"][:19] for m in matched] == ["2024-05-01T07:00:00"]  # offset -> UTC
    assert counts(client.post("/Api/CallLog", json=body))["Exists"] == 2


def test_each_item_is_validated_on_its_own(
    client: TestClient, hu_tenant: NewTenant, contact_id: int, session: Session
) -> None:
    good = {
        "Date": "2024-01-01 10:00:00",
        "Number": "06201234567",
        "CallType": "0",
        "Duration": "0",
    }
    items: list[Any] = [
        good,
        {**good, "CallType": "3"},  # not 0/1/2
        {**good, "Duration": "-4"},
        {**good, "Duration": "1.5"},
        {**good, "Date": "2024-13-01 10:00:00"},
        {**good, "Number": ""},  # missing
        {k: v for k, v in good.items() if k != "Duration"},  # missing
        "not an object",
        {**good, "Date": "2024-01-01 10:00:01", "CallType": True},
        {**good, "Date": "2024-01-01 10:00:02", "Duration": 7, "CallType": 1},
        {**good, "Date": "2024-01-01 10:00:02", "Duration": 7, "CallType": 1},  # repeat in batch
    ]
    body = {"ApiKey": hu_tenant.calllog_api_key, "UserExtension": "001", "Data": items}
    result = counts(client.post("/Api/CallLog", json=body))
    assert result == {"Skipped": 8, "Processed": 0, "Exists": 1, "Missing": 2, "NotFound": 2}
    stored = session.scalar(select(func.count()).select_from(CrmCallLog))
    assert stored == 2


def test_user_extension_as_full_phone_number(
    client: TestClient, hu_tenant: NewTenant, hu_api: TestClient
) -> None:
    user = hu_api.post("/api/v1/users", json={"username": "b", "extension": "+36 1 555 0001"})
    assert user.status_code == 201, user.text
    item = {"Date": "2024-01-01 10:00:00", "Number": "0612345678", "CallType": 0, "Duration": 3}
    base = {"ApiKey": hu_tenant.calllog_api_key, "Data": item}
    assert (
        counts(client.post("/Api/CallLog", json={**base, "UserExtension": "0615550001"}))[
            "NotFound"
        ]
        == 1
    )
    unknown = client.post("/Api/CallLog", json={**base, "UserExtension": "1"})
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "unknown_user_extension"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"{not json", 400, "malformed_json"),
        (b"\xff\xfe", 400, "malformed_json"),
        (b"[1, 2]", 400, "invalid_body"),
        (b'{"UserExtension": "001", "Data": []}', 400, "missing_apikey"),
        (b'{"ApiKey": "cl_wrong", "UserExtension": "001", "Data": []}', 401, "invalid_api_key"),
        (b'{"ApiKey": "@KEY", "Data": []}', 400, "missing_userextension"),
        (b'{"ApiKey": "@KEY", "UserExtension": "001"}', 400, "missing_data"),
        (b'{"ApiKey": "@KEY", "UserExtension": "001", "Data": 5}', 400, "invalid_data"),
        (b'{"ApiKey": "@KEY", "UserExtension": "999", "Data": []}', 404, "unknown_user_extension"),
    ],
)
def test_bad_bodies_get_a_4xx_json_error(
    client: TestClient,
    hu_tenant: NewTenant,
    contact_id: int,
    body: bytes,
    status: int,
    code: str,
) -> None:
    body = body.replace(b"@KEY", hu_tenant.calllog_api_key.encode())
    response = client.post("/Api/CallLog", content=body)
    assert response.status_code == status, response.text
    assert response.json()["code"] == code
    assert response.json()["error"]


def test_native_api_key_is_not_a_calllog_key(client: TestClient, hu_tenant: NewTenant) -> None:
    body = {"ApiKey": hu_tenant.api_key, "UserExtension": "001", "Data": []}
    assert client.post("/Api/CallLog", json=body).status_code == 401


def test_ip_allow_list(
    app: FastAPI, hu_tenant: NewTenant, contact_id: int, hu_api: TestClient
) -> None:
    patch = hu_api.patch("/api/v1/tenant", json={"calllog_allowed_ips": ["10.1.0.0/16"]})
    assert patch.status_code == 200, patch.text
    body = {"ApiKey": hu_tenant.calllog_api_key, "UserExtension": "001", "Data": []}
    with TestClient(app, client=("10.1.2.3", 5000)) as inside:
        assert inside.post("/Api/CallLog", json=body).status_code == 200
    with TestClient(app, client=("10.2.0.1", 5000), raise_server_exceptions=False) as outside:
        denied = outside.post("/Api/CallLog", json=body)
    assert denied.status_code == 403
    assert denied.json()["code"] == "ip_denied"


def test_empty_allow_list_admits_everyone(
    app: FastAPI, hu_tenant: NewTenant, contact_id: int, session: Session
) -> None:
    assert session.get_one(Tenant, hu_tenant.tenant.id).calllog_allowed_ips == []
    body = {"ApiKey": hu_tenant.calllog_api_key, "UserExtension": "001", "Data": []}
    with TestClient(app, client=("203.0.113.9", 5000)) as anywhere:
        assert counts(anywhere.post("/Api/CallLog", json=body))["Processed"] == 0


def test_keys_are_per_tenant(
    client: TestClient, hu_tenant: NewTenant, tenant: NewTenant, contact_id: int
) -> None:
    """Another tenant's key finds that tenant's users only (it has no extension 001)."""
    body = {"ApiKey": tenant.calllog_api_key, "UserExtension": "001", "Data": []}
    assert client.post("/Api/CallLog", json=body).status_code == 404


START = datetime(2024, 2, 1, tzinfo=UTC)


def test_ten_thousand_items(
    client: TestClient, hu_tenant: NewTenant, contact_id: int, session: Session
) -> None:
    items = [
        {
            "Date": (START + timedelta(seconds=37 * i)).strftime("%Y-%m-%d %H:%M:%S"),
            "Number": "0620123456" if i % 2 else f"+3630{i:07d}",
            "CallType": str(i % 3),
            "Duration": str(i % 300),
            "ReferenceId": f"rec-{i}",
        }
        for i in range(10_000)
    ]
    raw = json.dumps({"ApiKey": hu_tenant.calllog_api_key, "UserExtension": "001", "Data": items})
    assert len(raw) > 1_048_576  # over the default body limit of other endpoints
    result = counts(client.post("/Api/CallLog", content=raw))
    assert result == {"Skipped": 0, "Processed": 5000, "Exists": 0, "Missing": 0, "NotFound": 5000}
    assert session.scalar(select(func.count()).select_from(CrmCallLog)) == 10_000


def test_forwarded_for_is_believed_only_from_trusted_proxies(
    app: FastAPI, settings: Settings, hu_tenant: NewTenant, contact_id: int, hu_api: TestClient
) -> None:
    assert hu_api.patch("/api/v1/tenant", json={"calllog_allowed_ips": ["10.1.0.0/16"]}).is_success
    body = {"ApiKey": hu_tenant.calllog_api_key, "UserExtension": "001", "Data": []}
    spoofed = {"X-Forwarded-For": "10.1.2.3"}
    with TestClient(app, client=("127.0.0.1", 5000), raise_server_exceptions=False) as local:
        assert local.post("/Api/CallLog", json=body, headers=spoofed).status_code == 403
    behind_proxy = create_app(settings.model_copy(update={"trusted_proxies": ["127.0.0.0/8"]}))
    try:
        with TestClient(behind_proxy, client=("127.0.0.1", 5000)) as proxy:
            assert proxy.post("/Api/CallLog", json=body, headers=spoofed).status_code == 200
            assert proxy.post("/Api/CallLog", json=body).status_code == 403
        with TestClient(behind_proxy, client=("10.9.9.9", 5000)) as direct:
            # Not a trusted proxy: its header is ignored like anyone else's.
            assert direct.post("/Api/CallLog", json=body, headers=spoofed).status_code == 403
    finally:
        state_of(behind_proxy).db_engine.dispose()
