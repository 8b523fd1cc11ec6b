"""End to end: jtel requests drive what the engine dials (sim backend, virtual clock)."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient
from sqlalchemy import select

from opendialer.accounts.service import NewTenant
from opendialer.clock import VirtualClock
from opendialer.db import SessionMaker, unit_of_work
from opendialer.demo import SimulationSetup, prepare_campaign
from opendialer.engine.simulation import simulate
from opendialer.models import AgentGroup, AgentGroupMember, Campaign, DialMode, User, UserRole
from opendialer.telephony.sim_scenario import Customers, Distribution, Scenario

# Everyone answers and talks for 20 s: short runs, every dial decided.
ALWAYS_LIVE = Scenario(
    customers=Customers(p_live=1.0, p_machine=0.0, talk_time=Distribution(mean=20.0))
)


def _start() -> datetime:
    """Tomorrow 10:00 UTC: after the real "now" the API stamps on imported contacts."""
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    return tomorrow.replace(hour=10, minute=0, second=0, microsecond=0)


def _campaign(sessions: SessionMaker, tenant: NewTenant, start: datetime, agents: int) -> int:
    setup = SimulationSetup(agents=agents, contacts=0, dial_mode=DialMode.PROGRESSIVE)
    return prepare_campaign(sessions, setup, start, tenant_id=tenant.tenant.id, name="Sim")


def test_a_locked_contact_is_never_dialled_and_the_others_have_history(
    jtel: TestClient, sessions: SessionMaker, tenant: NewTenant
) -> None:
    start = _start()
    campaign_id = _campaign(sessions, tenant, start, agents=2)
    for i in range(4):
        body = {
            "DiallerCampaignsName": "Sim",
            "Name": f"Kunde {i}",
            "UserData": f"K{i}",
            "PhoneNumber1": f"030 1000{i:04d}",
        }
        assert jtel.post("/dialler/contacts/import", json=body).status_code == 200
    assert jtel.patch("/dialler/contacts/contact/lock?userData=K2").json() == {"status": 200}
    clock = VirtualClock(start)
    clock.run(simulate(sessions, clock, campaign_id, ALWAYS_LIVE, seconds=300, seed=2))

    locked = jtel.get("/dialler/contacts/contact/history?userData=K2").json()
    assert locked == {"records": [], "count": 0, "status": 200}
    for user_data in ("K0", "K1", "K3"):
        history = jtel.get(f"/dialler/contacts/contact/history?userData={user_data}").json()
        assert history["count"] >= 1 and history["status"] == 200
        first = history["records"][0]
        assert first["UserData"] == user_data and first["UsersID"] is not None
        assert first["dtCallStart"] is not None and first["dtCallEnd"] is not None
        assert first["BNumber"].startswith("4930") and first["DiallerCampaignsID"] == campaign_id
    contacts = jtel.get("/dialler/contacts", params={"diallerCampaignsID": campaign_id}).json()
    tries = {r["UserData"]: r["nTriesPhoneNumber1"] for r in contacts["records"]}
    assert tries["K2"] == 0 and all(tries[k] >= 1 for k in ("K0", "K1", "K3"))


def test_a_callback_created_through_the_api_reaches_its_user_at_the_appointment(
    jtel: TestClient, sessions: SessionMaker, tenant: NewTenant
) -> None:
    start = _start()
    campaign_id = _campaign(sessions, tenant, start, agents=2)
    with unit_of_work(sessions) as session:
        group = AgentGroup(tenant_id=tenant.tenant.id, name="Callbacks")
        session.add(group)
        session.flush()
        session.get_one(Campaign, campaign_id).agent_group_id = group.id
        agents = sorted(
            session.scalars(
                select(User.id).where(
                    User.tenant_id == tenant.tenant.id, User.role == UserRole.AGENT
                )
            )
        )
        for user_id in agents:
            session.add(AgentGroupMember(group_id=group.id, user_id=user_id))
        group_id = group.id
    appointment = (start + timedelta(minutes=2)).astimezone(ZoneInfo("Europe/Berlin"))
    body = {
        "AcdEventTypesID": 3,
        "AcdGroupsID": group_id,
        "UsersID": agents[1],
        "Sender": "+4930 99887766",
        "Subject": "Rückruf",
        "nPriority": 80,
        "dtAppointmentDate": appointment.strftime("%Y%m%d"),
        "dtAppointmentTime": appointment.strftime("%H:%M"),
    }
    created = jtel.post("/acd/events/create", json=body).json()["records"][0]
    assert created["AcdEventStatus"] == "AcdEventStatus.New"
    clock = VirtualClock(start)
    clock.run(simulate(sessions, clock, campaign_id, ALWAYS_LIVE, seconds=240, seed=3))

    event = jtel.get(f"/acd/events/event/{created['ID']}").json()["records"][0]
    assert event["OfferedUsersID"] == agents[1]
    offered = datetime.fromisoformat(event["dtOffered"])
    assert appointment.replace(tzinfo=None) <= offered
    assert offered <= appointment.replace(tzinfo=None) + timedelta(seconds=6)
    assert event["AcdEventStatus"] == "AcdEventStatus.Done"
    history = jtel.get(f"/dialler/contacts/contact/{event['DiallerContactsID']}/history").json()
    assert history["count"] == 1 and history["records"][0]["UsersID"] == agents[1]
    assert history["records"][0]["BNumber"] == "493099887766"
