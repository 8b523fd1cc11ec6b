"""The reports after a simulated morning (virtual clock, simulated network and agents) against
the call history and the simulator's own account, computed here independently: read from the
history alone, then with part of it rolled up (the rest after the watermark), then with all of
it that can be; in UTC and in zones a half and three quarters of an hour off."""

from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from opendialer.clock import VirtualClock
from opendialer.db import SessionMaker, unit_of_work
from opendialer.demo import SimulationSetup, prepare_campaign
from opendialer.engine.simulation import SimulationResult, simulate
from opendialer.models import CallAttempt, CallOutcome, Campaign, DialMode, ResultCode, Tenant
from opendialer.reports import rollups, service
from opendialer.reports.schemas import ReportFilter
from opendialer.schemas import OutputModel
from opendialer.scoping import Scope
from opendialer.telephony.sim_scenario import Scenario

START = datetime.fromisoformat("2026-11-23T09:00:00+00:00")
SECONDS = 4000.0  # 09:00 to about 10:07: two hours of the report
SCENARIO = {"agents": {"break_every": 1200, "break_length": 300}}


def _simulated_day(sessions: SessionMaker) -> tuple[int, SimulationResult, datetime]:
    clock = VirtualClock(START)
    setup = SimulationSetup(agents=2, contacts=800, dial_mode=DialMode.PREDICTIVE)
    campaign_id = prepare_campaign(sessions, setup, clock.now(), name="Report day")
    scenario = Scenario.model_validate(SCENARIO)
    result = clock.run(simulate(sessions, clock, campaign_id, scenario, seconds=SECONDS, seed=7))
    return campaign_id, result, clock.now()


def _history(
    sessions: SessionMaker, campaign_id: int
) -> tuple[Scope, list[CallAttempt], dict[int, str]]:
    with unit_of_work(sessions) as session:
        tenant_id = session.get_one(Campaign, campaign_id).tenant_id
        attempts = list(
            session.scalars(select(CallAttempt).where(CallAttempt.campaign_id == campaign_id))
        )
        codes = {c.id: c.code for c in session.scalars(select(ResultCode))}
        session.expunge_all()
    return Scope.system(tenant_id), attempts, codes


def test_reports_of_a_simulated_morning_match_the_call_history_row_for_row(
    sessions: SessionMaker,
) -> None:
    simulated_day = _simulated_day(sessions)
    campaign_id, _result, now = simulated_day
    scope, _attempts, _codes = _history(sessions, campaign_id)
    from_history = {zone: every_report(sessions, scope, zone, now) for zone in ZONES}
    _agent_performance_matches(sessions, simulated_day)
    _campaign_by_hour_matches(sessions, simulated_day)

    # Part rolled up, part read from the history after the watermark; then all it can roll.
    for rolled_at in (START + timedelta(minutes=50), now):
        with unit_of_work(sessions) as session:
            mark = rollups.roll_all(session, scope, rolled_at)
        assert mark is not None and START < mark <= rolled_at - rollups.SETTLE
        _agent_performance_matches(sessions, simulated_day)
        _campaign_by_hour_matches(sessions, simulated_day)
        _kathmandu_hours_match(sessions, simulated_day)
        for zone in ZONES:
            assert_close(every_report(sessions, scope, zone, now), from_history[zone])
    assert mark == START + timedelta(hours=1)  # the simulation's last quarter is not settled


ZONES = ("UTC", "Asia/Kathmandu", "America/St_Johns")  # +5:45, -3:30 in November


def every_report(
    sessions: SessionMaker, scope: Scope, zone: str, now: datetime, day: datetime = START
) -> list[list[dict[str, object]]]:
    """The five reports over the day before ``day`` to the day after, in ``zone``."""
    with unit_of_work(sessions) as session:
        tenant = session.get_one(Tenant, scope.tenant_id)
        tenant_zone, tenant.timezone = tenant.timezone, zone
        session.flush()
        wanted = ReportFilter(day.date() - timedelta(days=1), day.date() + timedelta(days=1))
        reports: list[Sequence[OutputModel]] = [
            service.agent_performance(session, scope, wanted, now),
            service.results(session, scope, wanted),
            service.campaign_periods(session, scope, wanted, "hour", now),
            service.campaign_periods(session, scope, wanted, "day", now),
            service.compliance(session, scope, wanted),
        ]
        tenant.timezone = tenant_zone
    return [[row.model_dump() for row in rows] for rows in reports]


def assert_close(got: object, expected: object) -> None:
    """Equal, but for float sums that differ by their order of addition."""
    if isinstance(expected, float) and isinstance(got, float):
        assert got == pytest.approx(expected, abs=0.01)
    elif isinstance(expected, dict) and isinstance(got, dict):
        assert got.keys() == expected.keys()
        for key, value in expected.items():
            assert_close(got[key], value)
    elif isinstance(expected, list) and isinstance(got, list):
        assert len(got) == len(expected)
        for one, other in zip(got, expected, strict=True):
            assert_close(one, other)
    else:
        assert got == expected


def _kathmandu_hours_match(
    sessions: SessionMaker, simulated_day: tuple[int, SimulationResult, datetime]
) -> None:
    """A +5:45 zone: its hours start at :15 UTC, still on quarter hours."""
    campaign_id, _result, now = simulated_day
    scope, attempts, _codes = _history(sessions, campaign_id)
    kathmandu = ZoneInfo("Asia/Kathmandu")
    expected = Counter(
        a.started_at.astimezone(kathmandu).replace(minute=0, second=0, microsecond=0)
        for a in attempts
    )
    with unit_of_work(sessions) as session:
        session.get_one(Tenant, scope.tenant_id).timezone = "Asia/Kathmandu"
        session.flush()
        wanted = ReportFilter(START.date(), START.date(), campaign_id=campaign_id)
        rows = service.campaign_periods(session, scope, wanted, "hour", now)
        session.get_one(Tenant, scope.tenant_id).timezone = "UTC"
    assert {r.period: r.attempts for r in rows} == dict(expected)
    assert [r.period.astimezone(UTC).minute for r in rows] == [15] * len(rows)


def _agent_performance_matches(
    sessions: SessionMaker, simulated_day: tuple[int, SimulationResult, datetime]
) -> None:
    campaign_id, result, now = simulated_day
    scope, attempts, codes = _history(sessions, campaign_id)
    expected: dict[int, tuple[int, int, dict[str, int]]] = {}
    for user_id in {a.user_id for a in attempts if a.user_id is not None}:
        mine = [a for a in attempts if a.user_id == user_id]
        results = Counter(codes[a.result_code_id] for a in mine if a.result_code_id is not None)
        expected[user_id] = (
            len(mine),
            sum(a.connected_at is not None for a in mine),
            dict(results),
        )

    with unit_of_work(sessions) as session:
        rows = service.agent_performance(
            session, scope, ReportFilter(START.date(), START.date()), now
        )

    assert {r.user_id: (r.calls, r.connects, r.results) for r in rows} == expected
    assert len(rows) == 2 and all(r.calls > 10 for r in rows)
    # Logged in (and ready) from the start to the end of the run; breaks as the simulator
    # took them; talk as long as the calls the history says the agent talked on.
    for row in rows:
        assert row.logged_in_seconds == pytest.approx((now - START).total_seconds(), abs=0.01)
        talk = sum(
            (a.ended_at - a.connected_at).total_seconds()
            for a in attempts
            if a.user_id == row.user_id and a.connected_at and a.ended_at
        )
        assert row.talk_seconds == pytest.approx(talk, abs=1.0)
    assert sum(r.pause_seconds for r in rows) == pytest.approx(result.break_seconds, abs=1.0)
    assert sum(r.pause_seconds for r in rows) > 0


def _campaign_by_hour_matches(
    sessions: SessionMaker, simulated_day: tuple[int, SimulationResult, datetime]
) -> None:
    campaign_id, _result, now = simulated_day
    scope, attempts, _codes = _history(sessions, campaign_id)
    expected: defaultdict[datetime, Counter[str]] = defaultdict(Counter)
    for a in attempts:
        hour = a.started_at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        expected[hour]["attempts"] += 1
        expected[hour]["live"] += a.outcome in (CallOutcome.CONNECTED, CallOutcome.ABANDONED)
        expected[hour]["machines"] += a.outcome is CallOutcome.MACHINE
        expected[hour]["abandoned"] += a.outcome is CallOutcome.ABANDONED
        expected[hour]["connects"] += a.connected_at is not None

    with unit_of_work(sessions) as session:
        wanted = ReportFilter(START.date(), START.date(), campaign_id=campaign_id)
        rows = service.campaign_periods(session, scope, wanted, "hour", now)

    got = {
        r.period: Counter(
            attempts=r.attempts,
            live=r.live_answers,
            machines=r.machines,
            abandoned=r.abandoned,
            connects=r.connects,
        )
        for r in rows
    }
    assert {k: +v for k, v in got.items()} == {k: +v for k, v in expected.items()}
    assert [r.period for r in rows] == [START, START + timedelta(hours=1)]
    for row in rows:
        assert row.dials_per_connect == pytest.approx(row.attempts / row.connects)
        assert row.occupancy is not None and 0 < row.occupancy <= 1
