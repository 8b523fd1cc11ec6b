"""Hostile input on the mmDial face: every handled request is an HTTP 200 with the outcome in
``status`` (an ``error`` with its reason when refused), never a 5xx, and nothing is written
when a lead is refused (tests/hostile.py)."""

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from tests.dialects.mmdial.helpers import add_list, campaign
from tests.hostile import (
    EDGE_DATES,
    HOSTILE,
    HUGE,
    assert_rows_storable,
    count,
    deep_json,
    hostile_digits,
    hostile_scalar,
)

LEAD_FIELDS = ("phone", "first_name", "last_name", "birthdate", "plz", "leadid_external")
ARGUMENTS = ("campaign_id", "list_id", "country_phone_code", "invalidcheck")
# function -> the argument that carries an id, a number or a date
LOOKUPS = (
    ("getleadbyid", "leadid"),
    ("getagentbyid", "agentid"),
    ("searchvoicebyleadid", "leadid"),
    ("searchvoicebyagent", "agentid"),
    ("getleadbyphonenumber", "phone"),
    ("getleadbypexternalid", "leadid"),
    ("dnccheck", "number"),
)
STATUSES = {"ok", "error", "found", "notfound", "doublet"}


def answer(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body.get("status") in STATUSES or "lead_stats" in body, body  # addlead: counts only
    return body


def stored(result: dict[str, Any]) -> bool:
    return result.get("status") != "error" and result["lead_stats"]["success"] == 1


@pytest.fixture
def target(mm: TestClient, api: TestClient) -> tuple[int, int]:
    campaign_id = campaign(api)
    return campaign_id, add_list(mm, campaign_id)


def lead(target: tuple[int, int], **changes: Any) -> dict[str, Any]:
    campaign_id, list_id = target
    body: dict[str, Any] = {
        "campaign_id": campaign_id,
        "list_id": list_id,
        "country_phone_code": "49",
        "invalidcheck": "no",
        "doubletcheck_global": "no",
        "doubletcheck_campaign": "no",
        "leaddata": {"phone": "030 1234567", "first_name": "Max"},
    }
    return body | changes


def test_the_baseline_lead_is_accepted(mm: TestClient, target: tuple[int, int]) -> None:
    """So the tests below refuse for the hostile value, not for a mistake in the rest."""
    assert stored(answer(mm.post("addlead", content=json.dumps(lead(target)).encode())))


@HOSTILE
@given(field=st.sampled_from(LEAD_FIELDS), value=hostile_scalar())
def test_addlead_refuses_or_stores_cleanly(
    mm: TestClient, target: tuple[int, int], session: Session, field: str, value: Any
) -> None:
    before = count(session)
    body = lead(target)
    body["leaddata"][field] = value
    result = answer(mm.post("addlead", content=json.dumps(body).encode()))
    if not stored(result):
        assert count(session) == before
    assert_rows_storable(session)


@HOSTILE
@given(field=st.sampled_from(ARGUMENTS), value=hostile_scalar())
def test_addlead_arguments(
    mm: TestClient, target: tuple[int, int], session: Session, field: str, value: Any
) -> None:
    before = count(session)
    body = json.dumps(lead(target, **{field: value})).encode()
    if not stored(answer(mm.post("addlead", content=body))):
        assert count(session) == before


@HOSTILE
@given(lookup=st.sampled_from(LOOKUPS), text=hostile_digits())
def test_lookups_by_id(mm: TestClient, lookup: tuple[str, str], text: str) -> None:
    function, argument = lookup
    answer(mm.get(function, params={argument: text}))


def test_dates_at_the_calendars_edges(mm: TestClient, target: tuple[int, int]) -> None:
    campaign_id, _ = target
    for value in EDGE_DATES:
        for name in ("date", "timestamp"):
            answer(mm.get("searchvoicebyagent", params={"agentid": "1", name: value}))
        export = {"campaign_id": campaign_id, "selectedfields": "leadid", "fromdate": value}
        answer(mm.get("exportbystatus", params=export))


def test_huge_numbers_in_every_argument(
    mm: TestClient, target: tuple[int, int], session: Session
) -> None:
    for value in [*HUGE, "1²", "٣"]:
        for field in ARGUMENTS:
            body = json.dumps(lead(target, **{field: value})).encode()
            assert not stored(answer(mm.post("addlead", content=body)))
        assert answer(mm.post("editlead", data={"leadid": "1", "rotation": str(value)}))
    assert count(session) == 0


def test_deep_json_is_refused_before_credentials(client: TestClient) -> None:
    response = client.post("/mmdial/api/addlead", content=deep_json(100_000))
    assert response.status_code == 401  # the credentials are asked for first, and no 500


def test_php_form_in_iso_8859_1(mm: TestClient, api: TestClient, target: tuple[int, int]) -> None:
    campaign_id, list_id = target
    form = (
        f"campaign_id={campaign_id}&list_id={list_id}&country_phone_code=49&invalidcheck=no"
        "&doubletcheck_global=no&doubletcheck_campaign=no"
        "&leaddata[phone]=0301234567&leaddata[first_name]=J%FCrgen&leaddata[ort]=K%F6ln"
    )
    headers = {"content-type": "application/x-www-form-urlencoded"}
    result = answer(mm.post("addlead", content=form.encode(), headers=headers))
    assert stored(result), result
    lead_id = result["leadid"]
    contact = api.get(f"/api/v1/contacts/{lead_id}").json()
    assert (contact["first_name"], contact["city"]) == ("Jürgen", "Köln")


def test_nul_in_a_form_is_an_error(mm: TestClient, target: tuple[int, int]) -> None:
    campaign_id, list_id = target
    form = f"campaign_id={campaign_id}&list_id={list_id}&leaddata[first_name]=a%00b"
    headers = {"content-type": "application/x-www-form-urlencoded"}
    result = answer(mm.post("addlead", content=form.encode(), headers=headers))
    assert result["status"] == "error" and "NUL" in result["reason"]
