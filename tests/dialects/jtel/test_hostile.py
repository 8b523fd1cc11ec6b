"""Hostile input on the jtel face: answers are 200 or a jtel envelope ``{"status": <the HTTP
code>, "message"}`` with a 4xx, never a 5xx, and a refused request writes nothing."""

import json
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from opendialer.accounts.service import NewTenant
from opendialer.db import SessionMaker, unit_of_work
from opendialer.models import AcdEvent, Contact
from tests.dialects.jtel.helpers import campaign, group, import_body
from tests.hostile import (
    HOSTILE,
    HUGE,
    assert_rows_storable,
    count,
    deep_json,
    hostile_digits,
    hostile_scalar,
)

IMPORT_FIELDS = (
    "DiallerCampaignsID",
    "UserData",
    "Name",
    "PostalCode",
    "Amount",
    "RandomSortOrder",
    "PhoneNumber1",
    "dtBeginDate",
    "FollowUpDateTime",
    "ReservedUsersUID",
)
EVENT_FIELDS = (
    "AcdEventTypesID",
    "AcdGroupsID",
    "UsersID",
    "Sender",
    "Subject",
    "nPriority",
    "dtAppointmentDate",
    "dtAppointmentTime",
)


def checked(response: Any) -> Any:
    """The jtel shape: 200, or a 4xx whose body repeats its status."""
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        body = response.json()
        assert body["status"] == response.status_code and body["message"]
    return response


@pytest.fixture
def campaign_id(sessions: SessionMaker, tenant: NewTenant) -> int:
    with unit_of_work(sessions) as session:
        return campaign(session, tenant).id


@pytest.fixture
def group_id(sessions: SessionMaker, tenant: NewTenant) -> int:
    with unit_of_work(sessions) as session:
        return group(session, tenant, "Callbacks").id


@HOSTILE
@given(field=st.sampled_from(IMPORT_FIELDS), value=hostile_scalar())
def test_import_refuses_or_stores_cleanly(
    jtel: TestClient, campaign_id: int, session: Session, field: str, value: Any
) -> None:
    before = count(session)
    body = json.dumps({**import_body(campaign_id, user_data=f"u{before}"), field: value})
    response = checked(jtel.post("/dialler/contacts/import", content=body.encode()))
    if response.status_code != 200:
        assert count(session) == before
    assert_rows_storable(session)


@HOSTILE
@given(field=st.sampled_from(EVENT_FIELDS), value=hostile_scalar())
def test_acd_event_refuses_or_stores_cleanly(
    jtel: TestClient, group_id: int, session: Session, field: str, value: Any
) -> None:
    before = count(session, AcdEvent)
    body = {"AcdEventTypesID": 3, "AcdGroupsID": group_id, "Subject": "s", field: value}
    response = checked(jtel.post("/acd/events/create", content=json.dumps(body).encode()))
    if response.status_code != 200:
        assert count(session, AcdEvent) == before
    assert_rows_storable(session, AcdEvent)


@HOSTILE
@given(text=hostile_digits())
def test_ids_in_paths_and_queries(jtel: TestClient, text: str) -> None:
    segment = quote(text, safe="")
    checked(jtel.get(f"/dialler/contacts/{segment}"))
    checked(jtel.get(f"/acd/events/event/{segment}"))
    checked(jtel.get("/dialler/contacts", params={"diallerCampaignsID": text}))


def test_nul_in_a_query_is_a_400(jtel: TestClient) -> None:
    response = checked(jtel.get("/dialler/contacts/contact?UserData=a%00b"))
    assert response.status_code == 400


def test_deep_json_is_a_400(jtel: TestClient, session: Session) -> None:
    response = checked(jtel.post("/dialler/contacts/import", content=deep_json(100_000)))
    assert response.status_code == 400
    assert count(session, Contact) == 0


def test_every_field_at_its_edges(
    jtel: TestClient, campaign_id: int, group_id: int, session: Session
) -> None:
    """The issue's cases on every field, not left to chance: huge numbers and the calendar's
    first and last years are refused, and nothing is written."""
    edges: list[Any] = [*HUGE, "0001-01-01", "9999-12-31T23:59:59", "1²", "٣"]
    for value in edges:
        for field in EVENT_FIELDS:
            body = {"AcdEventTypesID": 3, "AcdGroupsID": group_id, "Subject": "s", field: value}
            checked(jtel.post("/acd/events/create", content=json.dumps(body).encode()))
        for field in IMPORT_FIELDS:
            body = {**import_body(campaign_id), field: value}
            checked(jtel.post("/dialler/contacts/import", content=json.dumps(body).encode()))
    assert_rows_storable(session, AcdEvent)
    assert_rows_storable(session, Contact)
