"""Metrics for Prometheus, read from the state the server already keeps.

Most figures are collected at scrape time (:class:`DialerCollector`): the engine's per-campaign
tallies and live calls, agents by state, the outbox, abandonment, the last pacing decision, the
connection pool. Counters are kept only for events that leave no state behind: HTTP requests
(:class:`HttpMetrics`) and engine ticks (:class:`TickMetrics`). Every app has its own registry,
so several apps in one process (tests) do not mix their figures.
"""

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, TypeVar

from prometheus_client import (
    CollectorRegistry,
    Counter,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine as DbEngine
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlalchemy.pool import QueuePool

from opendialer.db import SessionMaker, connection_slots, unit_of_work, writer_gate
from opendialer.dialing.service import local_midnight, rates
from opendialer.engine.live import Phase
from opendialer.models import AgentSession, Campaign, OutboxMessage, PacingDecision

if TYPE_CHECKING:
    from opendialer.engine.campaign_runner import CampaignRunner
    from opendialer.engine.runner import Engine

log = logging.getLogger(__name__)
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
TICK_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
PHASE_LABELS = {  # DIALLING is split into dialling and ringing (alerted)
    Phase.WAITING: "waiting",
    Phase.CONNECTING: "talking",
    Phase.TALKING: "talking",
    Phase.ANNOUNCING: "announcing",
    Phase.HANGING_UP: "hanging_up",
}
PHASES = ("dialling", "ringing", "waiting", "talking", "announcing", "hanging_up")


ResultName = TypeVar("ResultName", bound=str)


class HttpMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "opendialer_http_requests",
            "HTTP requests by method, route template and status",
            ["method", "route", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "opendialer_http_request_duration_seconds",
            "Time from the request's arrival to the end of its response",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)


class TickMetrics:
    """The engine's TickObserver (engine/lateness.py): how late and how long pacing ticks run."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.lateness = Histogram(
            "opendialer_engine_tick_lateness_seconds",
            "Delay between a campaign tick's due time and its start (a blocked loop shows here)",
            buckets=TICK_BUCKETS,
            registry=registry,
        )
        self.duration = Histogram(
            "opendialer_engine_tick_duration_seconds",
            "Time one campaign tick took (database work and dialling included)",
            buckets=TICK_BUCKETS,
            registry=registry,
        )

    def tick_late(self, seconds: float) -> None:
        self.lateness.observe(seconds)

    def tick_took(self, seconds: float) -> None:
        self.duration.observe(seconds)


class ImportMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.rows = Counter(
            "opendialer_import_rows",
            "Contact import rows read, by result",
            ["result"],
            registry=registry,
        )

    def count(self, counts: Mapping[ResultName, int]) -> None:
        """Rows by import result."""
        for result, rows in counts.items():
            self.rows.labels(str(result)).inc(rows)


class Metrics:
    """One app's registry and its event counters."""

    def __init__(
        self,
        sessions: SessionMaker,
        engine_of: Callable[[], "Engine | None"],
    ) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)
        self.http = HttpMetrics(self.registry)
        self.ticks = TickMetrics(self.registry)
        self.imports = ImportMetrics(self.registry)
        self.registry.register(DialerCollector(sessions, engine_of))


class DialerCollector(Collector):
    def __init__(self, sessions: SessionMaker, engine_of: Callable[[], "Engine | None"]) -> None:
        self.sessions = sessions
        self.engine_of = engine_of

    def describe(self) -> Iterable[Metric]:
        return []  # nothing read at registration: the figures are read at scrape time only

    def collect(self) -> Iterator[Metric]:
        engine = self.engine_of()
        yield from engine_metrics(engine)
        yield from pool_metrics(self.sessions)
        yield from database_metrics(self.sessions, engine)


def _gauge(name: str, doc: str, labels: list[str]) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, labels=labels)


def engine_metrics(engine: "Engine | None") -> Iterator[Metric]:
    up = _gauge("opendialer_engine_running", "1 while the dialing engine runs here", [])
    up.add_metric([], 0 if engine is None else 1)
    yield up
    if engine is None:
        return
    runners = list(engine.runners.values())  # one step: the loop changes the dict meanwhile
    campaign = ["campaign", "tenant"]
    dials = CounterMetricFamily(
        "opendialer_campaign_dials", "Calls this engine started per campaign", labels=campaign
    )
    ended = CounterMetricFamily(
        "opendialer_campaign_calls_ended",
        "Calls this engine ended per campaign, by outcome",
        labels=[*campaign, "outcome"],
    )
    live = CounterMetricFamily(
        "opendialer_campaign_live_answers", "Calls answered by a person", labels=campaign
    )
    connects = CounterMetricFamily(
        "opendialer_campaign_connects", "Calls joined to an agent", labels=campaign
    )
    abandoned = CounterMetricFamily(
        "opendialer_campaign_abandoned",
        "Live answers not joined to an agent in time (FTC/Ofcom)",
        labels=campaign,
    )
    for runner in runners:
        key = [str(runner.campaign_id), str(runner.tenant_id)]
        tally = runner.tally
        dials.add_metric(key, tally.attempts)
        for outcome, count in sorted(dict(tally.outcomes).items()):
            ended.add_metric([*key, outcome], count)
        live.add_metric(key, tally.live_answers)
        connects.add_metric(key, tally.connects)
        abandoned.add_metric(key, tally.abandoned)
    yield from (dials, ended, live, connects, abandoned)
    yield _calls_by_phase(engine, runners)
    unwritten = _gauge(
        "opendialer_engine_unwritten_endings", "Call endings waiting to be written", []
    )
    unwritten.add_metric([], engine.unwritten)
    yield unwritten


def _calls_by_phase(engine: "Engine", runners: list["CampaignRunner"]) -> Metric:
    family = _gauge(
        "opendialer_campaign_calls",
        "Calls in progress per campaign: dialling, ringing, waiting (answered, no agent yet), "
        "talking, announcing (abandoned, hearing the message), hanging_up",
        ["campaign", "tenant", "phase"],
    )
    counts: dict[tuple[int, str], int] = {}
    for call in list(engine.calls.values()):
        if call.phase is Phase.DIALLING:
            phase = "dialling" if call.alerted_at is None else "ringing"
        else:
            phase = PHASE_LABELS[call.phase]
        counts[(call.campaign_id, phase)] = counts.get((call.campaign_id, phase), 0) + 1
    for runner in runners:
        for phase in PHASES:
            value = counts.get((runner.campaign_id, phase), 0)
            family.add_metric([str(runner.campaign_id), str(runner.tenant_id), phase], value)
    return family


def pool_metrics(sessions: SessionMaker) -> Iterator[Metric]:
    bind: DbEngine = sessions.kw["bind"]
    pool = bind.pool
    family = _gauge(
        "opendialer_db_pool_connections",
        "Database connections: size (kept open), checked_out, overflow (beyond the size)",
        ["state"],
    )
    if isinstance(pool, QueuePool):
        family.add_metric(["size"], pool.size())
        family.add_metric(["checked_out"], pool.checkedout())
        family.add_metric(["overflow"], max(0, pool.overflow()))
    yield family
    waiting = _gauge(
        "opendialer_db_waiters",
        "Callers queued: for a connection slot (requests), for SQLite's writer gate",
        ["queue"],
    )
    waiting.add_metric(["connection_slot"], connection_slots(bind).waiting)
    gate = writer_gate(sessions)
    if gate is not None:
        waiting.add_metric(["sqlite_writer"], gate.waiting)
    yield waiting


def database_metrics(sessions: SessionMaker, engine: "Engine | None") -> Iterator[Metric]:
    up = _gauge("opendialer_db_up", "1 when the scrape could read the database", [])
    try:
        with unit_of_work(sessions, writes=False) as session:
            figures = list(_read_figures(session, engine))
    except Exception:
        log.warning("metrics: the database could not be read", exc_info=True)
        up.add_metric([], 0)
        yield up
        return
    up.add_metric([], 1)
    yield up
    yield from figures


def _read_figures(session: Session, engine: "Engine | None") -> Iterator[Metric]:
    agents = _gauge("opendialer_agents", "Agents by state", ["tenant", "state"])
    rows = session.execute(
        select(AgentSession.tenant_id, AgentSession.state, func.count()).group_by(
            AgentSession.tenant_id, AgentSession.state
        )
    )
    for tenant_id, state, count in rows:
        agents.add_metric([str(tenant_id), str(state)], count)
    yield agents
    outbox = _gauge(
        "opendialer_outbox_messages",
        "CRM and webhook messages by status (pending + delivering: the depth; dead: letters "
        "given up)",
        ["status"],
    )
    for status, count in session.execute(
        select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
    ):
        outbox.add_metric([str(status)], count)
    yield outbox
    if engine is not None:
        yield from _campaign_figures(session, [r.campaign_id for r in engine.runners.values()])


def _campaign_figures(session: Session, campaign_ids: list[int]) -> Iterator[Metric]:
    labels = ["campaign", "tenant", "period"]
    rate = _gauge(
        "opendialer_campaign_abandonment_ratio",
        "Abandoned ÷ live answers since local midnight (today) and over 30 days (30d)",
        labels,
    )
    live = _gauge("opendialer_campaign_period_live_answers", "Live answers in the period", labels)
    target = _gauge(
        "opendialer_campaign_pacing_target_in_flight",
        "The last pacing decision's target of calls in flight",
        ["campaign", "tenant"],
    )
    now = datetime.now(UTC)
    for campaign in session.scalars(select(Campaign).where(Campaign.id.in_(campaign_ids))):
        key = [str(campaign.id), str(campaign.tenant_id)]
        today, month = rates(
            session, campaign.id, local_midnight(campaign, now), now - timedelta(days=30)
        )
        for period, figures in (("today", today), ("30d", month)):
            rate.add_metric([*key, period], figures.abandonment or 0.0)
            live.add_metric([*key, period], figures.live_answers)
        last = session.scalar(
            select(PacingDecision.target_in_flight)
            .where(PacingDecision.campaign_id == campaign.id)
            .order_by(PacingDecision.decided_at.desc())
            .limit(1)
        )
        if last is not None:
            target.add_metric(key, last)
    yield from (rate, live, target)
