"""Bad input: always HTTP 200 with the Voicenter envelope, a non-zero code, nothing written."""

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from opendialer.app import create_app
from opendialer.config import Settings
from opendialer.models import Campaign, Contact
from opendialer.web.state import state_of
from tests.dialects.voicenter.conftest import BASE, Account, call


def nothing_written(session: Session) -> bool:
    return session.scalar(select(func.count()).select_from(Contact)) == 0


def post_raw(client: TestClient, method: str, content: Any, **headers: str) -> dict[str, Any]:
    response = client.post(BASE + method, content=content, headers=headers)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    assert answer["ErrorCode"] != 0 and answer["Description"]
    return answer


@pytest.mark.parametrize(
    "body",
    [b"{", b'{"Campaign": "x",}', b"\xff\xfe\x00", b'{"Priority": NaN}', b"[" * 100_000],
)
def test_malformed_json(
    client: TestClient, account: Account, session: Session, body: bytes
) -> None:
    answer = post_raw(client, "AddCall", body, **{"content-type": "application/json"})
    assert answer == {"ErrorCode": -1, "Description": "Malformed JSON body"}
    assert nothing_written(session)


@pytest.mark.parametrize("method", ["AddCall", "UpdateCall", "GetCampaignDetails", "AddMember"])
def test_array_where_an_object_is_expected(
    client: TestClient, account: Account, session: Session, method: str
) -> None:
    body = [{"Campaign": account.agent, "Target": "0501234567"}]
    answer = call(client, method, body)
    assert answer == {"ErrorCode": -1, "Description": "The body must be a JSON object"}
    assert nothing_written(session)


def test_object_where_the_bulk_array_is_expected(
    client: TestClient, account: Account, session: Session
) -> None:
    answer = call(client, "AddCallsBulk", {"Campaign": account.agent, "Target": "0501234567"})
    assert answer["ErrorCode"] == -1 and answer["AddResult"] == []
    assert call(client, "AddCallsBulk", [])["AddResult"] == []
    assert nothing_written(session)


@pytest.mark.parametrize(
    ("field", "value", "description"),
    [
        ("Priority", "high", "Invalid Priority: must be an integer"),
        ("Priority", 1.5, "Invalid Priority: must be an integer"),
        ("Priority", True, "Invalid Priority: must be an integer"),
        ("Priority", 10**12, "Invalid Priority: must be between -1000000 and 1000000"),
        ("OriginateTime", -5, "Invalid OriginateTime: must be between 0 and 253370764799"),
        ("OriginateTime", "soon", "Invalid OriginateTime: must be an integer"),
        ("IsDateLocal", "maybe", 'Invalid IsDateLocal: must be true or false (or "true"/"false")'),
        (
            "IgnoreDncStatus",
            [1],
            'Invalid IgnoreDncStatus: must be true or false (or "true"/"false")',
        ),
        ("CustomData", [1, 2], "Invalid CustomData: must be a JSON object"),
        ("CustomData", "{not json", "Invalid CustomData: must be a JSON object"),
        ("CustomerName", {"first": "a"}, "Invalid CustomerName: must be a string"),
        ("CustomerName", "x" * 256, "Invalid CustomerName: at most 255 characters"),
        ("CustomerName", "a\x00b", "Invalid CustomerName: must not contain NUL characters"),
        ("CallerID", "0" * 33, "Invalid CallerID: at most 32 characters"),
    ],
)
def test_wrong_types_and_ranges(
    client: TestClient,
    account: Account,
    session: Session,
    field: str,
    value: Any,
    description: str,
) -> None:
    body = {"Campaign": account.agent, "Target": "0501234567", field: value}
    # UpdateCall ignores IgnoreDncStatus (V12), so only AddCall checks it.
    methods = ("AddCall",) if field == "IgnoreDncStatus" else ("AddCall", "UpdateCall")
    for method in methods:
        assert call(client, method, body) == {"ErrorCode": -1, "Description": description}
    bulk = call(client, "AddCallsBulk", [body])["AddResult"]
    assert (bulk[0]["ErrorCode"], bulk[0]["Description"]) == (-1, description)
    assert nothing_written(session)


@pytest.mark.parametrize("code", [{"a": 1}, ["x"], "a\x00b", "x" * 65, True])
def test_campaign_code_of_the_wrong_shape(
    client: TestClient, account: Account, session: Session, code: Any
) -> None:
    assert call(client, "AddCall", {"Campaign": code, "Target": "0501234567"}) == {
        "ErrorCode": 1,
        "Description": "Invalid campaign code",
    }
    assert call(client, "GetCampaignPendingCalls", {"Campaign": code}) == {
        "ErrorCode": 2,
        "Description": "Internal error occurred",
    }
    assert nothing_written(session)


def test_post_only_methods_refuse_get(client: TestClient, account: Account) -> None:
    assert call(client, "AddCallsBulk", Campaign=account.agent) == {
        "ErrorCode": -1,
        "Description": "AddCallsBulk accepts POST-JSON only",
    }
    answer = call(client, "GetCampaignPendingCalls", Campaign=account.agent)
    assert answer["ErrorCode"] == -1


def test_unknown_method_and_case_insensitive_names(client: TestClient, account: Account) -> None:
    assert call(client, "DialEveryone")["ErrorCode"] == -1
    assert call(client, "getcampaigndetails", CAMPAIGN=account.agent)["ErrorCode"] == 0


def test_form_body_and_query_on_post(
    client: TestClient, account: Account, session: Session
) -> None:
    response = client.post(
        BASE + "AddCall",
        content=f"campaign={account.agent}&target=0501234567&var_lead=7",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.json() == {"ErrorCode": 0, "Description": "OK"}
    response = client.post(
        BASE + "AddCall", params={"Campaign": account.agent, "Target": "0501234568"}
    )
    assert response.json() == {"ErrorCode": 0, "Description": "OK"}
    assert session.scalar(select(func.count()).select_from(Contact)) == 2


def test_body_over_the_limit(client: TestClient, account: Account, session: Session) -> None:
    body = b'{"Campaign": "' + account.agent.encode() + b'", "Target": "0501234567", "x": "'
    body += b"a" * (1_048_576) + b'"}'
    answer = post_raw(client, "AddCall", body, **{"content-type": "application/json"})
    assert answer == {
        "ErrorCode": -1,
        "Description": "The request body is larger than 1048576 bytes",
    }

    def chunks() -> Iterator[bytes]:
        yield body[:1000]
        yield body[1000:]

    answer = post_raw(client, "AddCall", chunks(), **{"content-type": "application/json"})
    assert answer["Description"] == "The request body is larger than 1048576 bytes"
    assert nothing_written(session)


@pytest.fixture
def small_bulk_app(settings: Settings) -> Iterator[FastAPI]:
    application = create_app(settings.model_copy(update={"voicenter_max_bulk_bytes": 10_000}))
    yield application
    state_of(application).db_engine.dispose()


def test_bulk_limit_is_its_own(
    small_bulk_app: FastAPI, client: TestClient, account: Account, session: Session
) -> None:
    """The bulk limit is configurable and separate from the 1 MiB default of other methods."""
    body = [{"Campaign": account.agent, "Target": f"050{i:07d}"} for i in range(300)]
    with TestClient(small_bulk_app) as small:
        answer = call(small, "AddCallsBulk", body)
    assert answer == {"ErrorCode": -1, "Description": "The request body is larger than 10000 bytes"}
    assert nothing_written(session)
    big = [{"Campaign": account.agent, "Target": "0501234567", "Padding": "x" * 2000}] * 1000
    answer = call(client, "AddCallsBulk", big)  # ~2 MB: over 1 MiB, under the bulk default
    assert len(answer["AddResult"]) == 1000


def test_settings_errors(client: TestClient, account: Account, session: Session) -> None:
    good = {
        "Campaign": account.smart,
        "setQueueForMonitoring": 5,
        "setQueueMaximumCallers": 2,
        "setCoefficient": 1.5,
    }
    cases = [
        ({**good, "Campaign": "nope"}, 1, "Invalid campaign code"),
        ({**good, "setQueueMaximumCallers": 0}, 2, None),
        ({**good, "setCoefficient": 1}, 2, "Invalid setCoefficient: must be greater than 1"),
        ({**good, "setCoefficient": "fast"}, 2, "Invalid setCoefficient: must be a number"),
        ({k: v for k, v in good.items() if k != "setQueueForMonitoring"}, 2, None),
    ]
    for body, code, description in cases:
        answer = call(client, "UpdateCampaignSettings", body)
        assert answer["ErrorCode"] == code, body
        if description:
            assert answer["Description"] == description
    assert session.get_one(Campaign, account.smart_id).pacing_coefficient is None
    assert call(client, "UpdateCampaignSettings", good)["ErrorCode"] == 0
    session.expire_all()
    assert session.get_one(Campaign, account.smart_id).pacing_coefficient == 1.5
