"""jtel ACD Groups and ACD Events (spec 001 §5, §6)."""

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from opendialer.accounts.service import NewTenant
from opendialer.db import SessionMaker, unit_of_work
from opendialer.dialects.jtel.acd import appointment
from opendialer.dialects.jtel.envelope import JtelError
from opendialer.models import AcdEvent, User, UserRole
from tests.dialects.jtel.helpers import group

GROUP_EXAMPLE_FIELDS = [
    "QueueMusicID4Sec",
    "SupervisorAggregationSkill5ID",
    "DistributionAlgorithmID",
    "bPositionAnnouncement3",
    "TarifAnnouncementWavesID",
    "bCallRedirectionAfterNumberAnnouncement",
    "QueueOffhookAnnouncementID",
]
STATUS_EXAMPLE = [
    ("EnterSystem", 0),
    ("Distribute", 1),
    ("TransportSMTP", 2),
    ("TransportToGroup", 4),
    ("TransportAgent", 10),
    ("New", 20),
    ("Seen", 30),
    ("Remind", 40),
    ("ChatClosed", 98),
    ("Done", 99),
    ("Error", 100),
]
CALLBACK = 3
TICKET = 6


def _callback(group_id: int, **extra: Any) -> dict[str, Any]:
    """The spec's illustrative body (§5.3), with the Callback type id."""
    return {
        "AcdEventTypesID": CALLBACK,
        "AcdGroupsID": group_id,
        "Sender": "+49894614950703",
        "Receiver": "+49894614950665",
        "Subject": "Callback request",
        "Body": "Customer asks for a callback about invoice 4711",
        "CrmURL": "https://crm.example.com/ticket/4711",
        "UserData": "4711",
        "nPriority": 50,
        "dtAppointmentDate": "2020-11-12",
        "dtAppointmentTime": "14:30",
        **extra,
    }


def _created(jtel: TestClient, body: dict[str, Any]) -> dict[str, Any]:
    response = jtel.post("/acd/events/create", json=body)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["count"] == 1 and answer["status"] == 200
    record: dict[str, Any] = answer["records"][0]
    return record


def test_groups_by_id_and_by_partial_name(
    jtel: TestClient, other_jtel: TestClient, sessions: SessionMaker, tenant: NewTenant
) -> None:
    with unit_of_work(sessions) as session:
        sales = group(session, tenant, "Sales Hotline").id
        group(session, tenant, "sales backoffice")
        group(session, tenant, "Support")
    one = jtel.get(f"/acd/groups/group/{sales}").json()
    assert one["count"] == 1 and one["status"] == 200
    assert all(field in one["records"][0] for field in GROUP_EXAMPLE_FIELDS)
    assert one["records"][0]["Name"] == "Sales Hotline"
    matches = jtel.get("/acd/groups/group", params={"name": "SALES"}).json()
    assert matches["count"] == 2 and matches["status"] == 200
    assert jtel.get("/acd/groups/group/9999").status_code == 404
    assert other_jtel.get(f"/acd/groups/group/{sales}").status_code == 404
    assert other_jtel.get("/acd/groups/group?name=Sales").json()["count"] == 0


def test_create_callback_ticket_and_user_events(
    jtel: TestClient, sessions: SessionMaker, tenant: NewTenant
) -> None:
    with unit_of_work(sessions) as session:
        group_id = group(session, tenant, "Callbacks").id
        agent = User(tenant_id=tenant.tenant.id, username="anna", role=UserRole.AGENT)
        session.add(agent)
        session.flush()
        agent_id = agent.id
    callback = _created(jtel, _callback(group_id))
    assert callback["Result_"] == "CREATED"
    assert callback["AcdEventStatusID"] == 20 and callback["AcdEventStatus"] == "AcdEventStatus.New"
    assert callback["dtAppointment"] == "2020-11-12T14:30:00"  # account time zone, Berlin
    assert (callback["Sender"], callback["UserData"], callback["nPriority"]) == (
        "+49894614950703",
        "4711",
        50,
    )
    personal = _created(jtel, _callback(group_id, UsersID=agent_id, nPriority=120))
    assert personal["UsersID"] == agent_id and personal["nPriority"] == 120
    ticket = _created(
        jtel,
        {
            "AcdEventTypesID": TICKET,
            "AcdConfigurationGroupsID": group_id,
            "AcdAgentGroupsID": group_id,
            "Sender": "customer@example.com",
            "Subject": "Ticket 99",
            "UserData": "TICKET-99",
        },
    )
    assert ticket["AcdGroupsID"] == group_id and ticket["nPriority"] == 50
    assert ticket["dtAppointment"] is None
    with unit_of_work(sessions) as session:
        stored = session.get_one(AcdEvent, callback["ID"])
        assert stored.appointment_at == datetime(2020, 11, 12, 13, 30, tzinfo=UTC)

    listed = jtel.get("/acd/events").json()
    assert listed["count"] == 3 and listed["orderBy"] == "ID" and listed["status"] == 200
    assert [r["ID"] for r in listed["records"]] == [callback["ID"], personal["ID"], ticket["ID"]]
    one = jtel.get(f"/acd/events/event/{ticket['ID']}").json()
    assert one["count"] == 1 and one["records"][0]["Subject"] == "Ticket 99"


def test_no_duplicates_group_answers_with_the_open_event(
    jtel: TestClient, sessions: SessionMaker, tenant: NewTenant
) -> None:
    with unit_of_work(sessions) as session:
        strict = group(session, tenant, "Strict", no_duplicates=True).id
        lax = group(session, tenant, "Lax").id
    first = _created(jtel, _callback(strict))
    again = _created(jtel, _callback(strict, Subject="Second request"))
    assert again["ID"] == first["ID"] and again["Result_"] == "UPDATED"
    assert "Second request" in again["Comment"]
    other_sender = _created(jtel, _callback(strict, Sender="+49891234567"))
    assert other_sender["Result_"] == "CREATED"
    assert _created(jtel, _callback(lax))["Result_"] == "CREATED"
    assert _created(jtel, _callback(lax))["Result_"] == "CREATED"
    with unit_of_work(sessions) as session:
        assert session.scalar(select(func.count()).select_from(AcdEvent)) == 4


def test_status_and_type_lists(jtel: TestClient) -> None:
    statuses = jtel.get("/acd/events/status").json()
    assert statuses["count"] == 11 and statuses["orderBy"] == "ID" and statuses["status"] == 200
    assert [(r["ShortText"], r["ID"]) for r in statuses["records"]] == [
        (f"AcdEventStatus.{text}", number) for text, number in STATUS_EXAMPLE
    ]
    types = jtel.get("/acd/events/types").json()
    assert {"ShortText": "AcdEventTypes.Callback", "ID": CALLBACK} in types["records"]


def test_create_refuses_bad_input_and_writes_nothing(
    jtel: TestClient, other_jtel: TestClient, sessions: SessionMaker, tenant: NewTenant
) -> None:
    with unit_of_work(sessions) as session:
        group_id = group(session, tenant, "G").id
    cases: list[tuple[dict[str, Any], int]] = [
        ({k: v for k, v in _callback(group_id).items() if k != "Sender"}, 400),
        ({k: v for k, v in _callback(group_id).items() if k != "Subject"}, 400),
        ({k: v for k, v in _callback(group_id).items() if k != "AcdEventTypesID"}, 400),
        ({k: v for k, v in _callback(group_id).items() if k != "AcdGroupsID"}, 400),
        (_callback(group_id, AcdEventTypesID=77), 400),
        (_callback(group_id, nPriority=999), 400),
        (_callback(group_id, nPriority="high"), 400),
        (_callback(group_id, dtAppointmentDate="12.11.2020"), 400),
        (_callback(group_id, dtAppointmentTime="25:00"), 400),
        (_callback(group_id, dtAppointmentDate="2020-02-30"), 400),
        (_callback(group_id, Subject="nul\x00byte"), 400),
        (_callback(group_id, Body=["not", "text"]), 400),
        (_callback(group_id, Sender=12345), 400),
        (_callback(9999), 404),
        (_callback(group_id, UsersID=9999), 404),
        (
            {
                **{k: v for k, v in _callback(group_id).items() if k != "AcdGroupsID"},
                "AcdAgentGroupsID": group_id,
            },
            400,
        ),
    ]
    for body, status in cases:
        response = jtel.post("/acd/events/create", json=body)
        assert response.status_code == status, (body, response.text)
        assert response.json()["status"] == status
    assert other_jtel.post("/acd/events/create", json=_callback(group_id)).status_code == 404
    assert jtel.get("/acd/events/event/9999").status_code == 404
    with unit_of_work(sessions) as session:
        assert session.scalar(select(func.count()).select_from(AcdEvent)) == 0


BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)  # 13:00 in Berlin


@pytest.mark.parametrize(
    ("date_text", "time_text", "expected"),
    [
        (None, None, None),
        ("2026-12-01", None, datetime(2026, 12, 1, 0, 0, tzinfo=BERLIN)),
        ("20261201", "0915", datetime(2026, 12, 1, 9, 15, tzinfo=BERLIN)),
        (None, "14:30", datetime(2026, 11, 23, 14, 30, tzinfo=BERLIN)),  # later today
        (None, "09:00", datetime(2026, 11, 24, 9, 0, tzinfo=BERLIN)),  # passed: tomorrow
    ],
)
def test_appointment_rules(
    date_text: str | None, time_text: str | None, expected: datetime | None
) -> None:
    assert appointment(date_text, time_text, NOW, BERLIN) == expected


def test_appointment_rejects_malformed_parts() -> None:
    for date_text, time_text in [("2026/12/01", None), (None, "9:5"), ("2026-13-01", None)]:
        with pytest.raises(JtelError):
            appointment(date_text, time_text, NOW, BERLIN)


def test_odd_values_are_a_400_or_accepted_never_a_500(
    jtel: TestClient, sessions: SessionMaker, tenant: NewTenant
) -> None:
    with unit_of_work(sessions) as session:
        group_id = group(session, tenant, "G").id
    odd: list[Any] = [[], {}, True, -1, 1e308, "x" * 5000, "nul\x00", 2**70]
    for field in ["AcdEventTypesID", "AcdGroupsID", "UsersID", "Sender", "CrmURL", "nPriority"]:
        for value in odd:
            response = jtel.post("/acd/events/create", json=_callback(group_id, **{field: value}))
            assert response.status_code in (200, 400, 404), (field, value, response.text)
            assert response.json()["status"] == response.status_code
