"""Hostile input on the native face: every request body (InputModel) and every query or path
parameter (the /api/v1 router's dependency) is refused with the one error body, never a 5xx,
and a refused create writes nothing (tests/hostile.py)."""

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from opendialer.models import Campaign
from tests.hostile import (
    EDGE_DATES,
    HOSTILE,
    HUGE,
    assert_rows_storable,
    count,
    deep_json,
    hostile_digits,
    hostile_scalar,
    hostile_text,
)

CONTACT_FIELDS = (
    "first_name",
    "name",
    "birthdate",
    "priority",
    "random_sort_order",
    "list_id",
    "reserved_user_id",
    "next_try_at",
    "begin_at",
    "custom_data",
    "form_data",
    "phones",
)
CAMPAIGN_FIELDS = ("name", "description", "calling_hours_start", "timezone", "begin_at")
LISTS = ("/api/v1/contacts", "/api/v1/dnc", "/api/v1/users", "/api/v1/acd/events")


def checked(response: Any) -> Any:
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        error = response.json()["error"]
        assert set(error) == {"code", "message", "details"} and error["code"]
    return response


def post_json(api: TestClient, path: str, body: Any) -> Any:
    content = json.dumps(body).encode()  # escapes lone surrogates, which httpx cannot encode
    return checked(api.post(path, content=content, headers={"content-type": "application/json"}))


@pytest.fixture
def campaign_id(api: TestClient) -> int:
    response = api.post("/api/v1/campaigns", json={"name": "C", "dial_mode": "preview"})
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


@HOSTILE
@given(field=st.sampled_from(CONTACT_FIELDS), value=hostile_scalar())
def test_contact_create_refuses_or_stores_cleanly(
    api: TestClient, campaign_id: int, session: Session, field: str, value: Any
) -> None:
    before = count(session)
    body = {"phones": ["+4930123456"], field: value}
    response = post_json(api, f"/api/v1/campaigns/{campaign_id}/contacts", body)
    if response.status_code != 201:
        assert count(session) == before
    assert_rows_storable(session)


@HOSTILE
@given(field=st.sampled_from(CAMPAIGN_FIELDS), value=hostile_scalar())
def test_campaign_create(api: TestClient, session: Session, field: str, value: Any) -> None:
    before = count(session, Campaign)
    body = {"name": "x", "dial_mode": "preview", field: value}
    if post_json(api, "/api/v1/campaigns", body).status_code != 201:
        assert count(session, Campaign) == before
    assert_rows_storable(session, Campaign)


@HOSTILE
@given(path=st.sampled_from(LISTS), cursor=hostile_digits(), text=hostile_text())
def test_list_parameters(api: TestClient, path: str, cursor: str, text: str) -> None:
    text = text.encode("utf-8", "replace").decode()  # a URL cannot carry a lone surrogate
    checked(api.get(path, params={"cursor": cursor}))
    checked(api.get(path, params={"search": text, "external_id": text, "phone": text}))


@HOSTILE
@given(text=hostile_digits())
def test_ids_in_paths(api: TestClient, text: str) -> None:
    for path in ("/api/v1/contacts/{}", "/api/v1/campaigns/{}", "/api/v1/users/{}/groups"):
        checked(api.get(path.format(text)))


def test_the_issues_cases(api: TestClient, campaign_id: int, session: Session) -> None:
    assert checked(api.get("/api/v1/contacts", params={"cursor": 10**33})).status_code == 422
    nul = checked(api.get("/api/v1/contacts", params={"search": "a\x00b"}))
    assert nul.json()["error"]["details"][0]["loc"] == ["query", "search"]
    path = f"/api/v1/campaigns/{campaign_id}/contacts"
    refused: list[tuple[str, Any]] = [("priority", n) for n in HUGE]
    refused += [("list_id", n) for n in HUGE] + [("custom_data", {"k": [n]}) for n in HUGE]
    refused += [(field, d) for field in ("next_try_at", "begin_at") for d in EDGE_DATES[:4]]
    refused += [("custom_data", {"k": "a\x00b"}), ("custom_data", {"a\ud800": 1})]
    refused += [("first_name", "a\x00b"), ("name", "\ud800"), ("birthdate", "\x00")]
    for field, value in refused:
        body = {"phones": ["+4930123456"], field: value}
        assert post_json(api, path, body).status_code == 422, (field, value)
    assert count(session) == 0


def test_deep_json_without_credentials(client: TestClient) -> None:
    response = checked(client.post("/api/v1/campaigns", content=deep_json(100_000)))
    assert response.status_code == 400  # before the credentials are even looked at
    assert response.json()["error"]["code"] == "malformed_json"


def test_times_render_as_documented(api: TestClient) -> None:
    body = {"name": "T", "dial_mode": "preview", "calling_hours_start": "08:30"}
    campaign = checked(api.post("/api/v1/campaigns", json=body)).json()
    assert campaign["calling_hours_start"] == "08:30:00"
    schema = api.get("/openapi.json").json()["components"]["schemas"]["CampaignRead"]
    assert "format" not in schema["properties"]["calling_hours_start"]
    offset = {"name": "U", "dial_mode": "preview", "calling_hours_start": "08:30+02:00"}
    assert checked(api.post("/api/v1/campaigns", json=offset)).status_code == 422


def test_json_nested_under_the_recursion_limit_is_refused_first(client: TestClient) -> None:
    """Deep enough to strain every recursive walk after parsing, shallow enough to parse."""
    for depth in (65, 900, 100_000):
        response = checked(client.post("/api/v1/campaigns", content=deep_json(depth)))
        assert response.status_code == 400, depth
        assert response.json()["error"]["code"] == "malformed_json"
