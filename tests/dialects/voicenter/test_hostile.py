"""Hostile input on the Voicenter face: every answer is an HTTP 200 ``ErrorCode`` envelope,
never the internal-error one, and a refused AddCall writes nothing (tests/hostile.py)."""

import json
from typing import Any

from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from opendialer.dialects.voicenter.errors import INTERNAL_ERROR
from opendialer.models import Contact
from tests.dialects.voicenter.conftest import BASE, Account
from tests.hostile import (
    HOSTILE,
    assert_rows_storable,
    count,
    deep_json,
    hostile_scalar,
    hostile_text,
)

ADD_CALL_FIELDS = (
    "Target",
    "CustomerName",
    "CallerID",
    "Priority",
    "OriginateTime",
    "IsDateLocal",
    "IgnoreDncStatus",
    "CustomData",
    "var_note",
)


def post_raw(client: TestClient, method: str, body: bytes, content_type: str) -> dict[str, Any]:
    response = client.post(BASE + method, content=body, headers={"content-type": content_type})
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    assert isinstance(answer["ErrorCode"], int)
    assert answer["Description"] != INTERNAL_ERROR
    return answer


@HOSTILE
@given(field=st.sampled_from(ADD_CALL_FIELDS), value=hostile_scalar())
def test_add_call_refuses_or_stores_cleanly(
    client: TestClient, account: Account, session: Session, field: str, value: Any
) -> None:
    before = count(session)
    body = {"Campaign": account.agent, "Target": "0501234567", field: value}
    answer = post_raw(client, "AddCall", json.dumps(body).encode(), "application/json")
    if answer["ErrorCode"] != 0:
        assert count(session) == before
    assert_rows_storable(session)


@HOSTILE
@given(values=st.lists(hostile_text(), min_size=1, max_size=3))
def test_query_parameters_are_checked_like_bodies(
    client: TestClient, account: Account, session: Session, values: list[str]
) -> None:
    # A URL cannot carry a lone surrogate: httpx would refuse to encode one.
    texts = [v for v in values if v.encode("utf-8", "replace").decode() == v]
    params = {"Campaign": account.agent, "Target": "0501234567"}
    params.update({f"var_{i}": text for i, text in enumerate(texts)})
    response = client.get(BASE + "AddCall", params=params)
    assert response.status_code == 200
    assert response.json()["Description"] != INTERNAL_ERROR
    assert_rows_storable(session)


def test_deep_json_is_malformed(client: TestClient, account: Account) -> None:
    answer = post_raw(client, "AddCall", deep_json(100_000), "application/json")
    assert answer == {"ErrorCode": -1, "Description": "Malformed JSON body"}


def test_php_form_in_iso_8859_1_is_stored_as_written(
    client: TestClient, account: Account, session: Session
) -> None:
    form = f"Campaign={account.agent}&Target=0501234567&CustomerName=J%FCrgen+M%FCller&var_x=%80"
    content_type = "application/x-www-form-urlencoded"
    assert post_raw(client, "AddCall", form.encode(), content_type)["ErrorCode"] == 0
    contact = session.query(Contact).one()
    assert (contact.name, contact.custom_data) == ("Jürgen Müller", {"var_x": "€"})


def test_declared_charset_wins(client: TestClient, account: Account, session: Session) -> None:
    form = f"Campaign={account.agent}&Target=0501234567&CustomerName=%C3%BC"
    content_type = "application/x-www-form-urlencoded; charset=ISO-8859-1"
    assert post_raw(client, "AddCall", form.encode(), content_type)["ErrorCode"] == 0
    assert session.query(Contact).one().name == "Ã¼"  # what the client said it sent


def test_bulk_item_with_nul_is_refused_alone(
    client: TestClient, account: Account, session: Session
) -> None:
    items = [
        {"Campaign": account.agent, "Target": "0501234567", "CustomerName": "a\x00b"},
        {"Campaign": account.agent, "Target": "0501234568", "CustomerName": "ok"},
    ]
    response = client.post(BASE + "AddCallsBulk", content=json.dumps(items).encode())
    results = response.json()["AddResult"]
    assert [r["ErrorCode"] for r in results] == [-1, 0]
    assert [c.name for c in session.query(Contact)] == ["ok"]
