"""The report pages (supervisors and admins): a filter, a table, a chart and the CSV download,
all from the same service as the native API (``opendialer.reports``)."""

import json
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, Literal, TypeVar
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from opendialer.console.pages import _page, _page_login
from opendialer.models import Campaign, User, UserRole
from opendialer.models.base import utcnow
from opendialer.reports import service
from opendialer.reports.router import Filter, FilterParams
from opendialer.reports.schemas import (
    AgentPerformanceRow,
    CampaignPeriodRow,
    ComplianceRow,
    ReportFilter,
    ResultRow,
)
from opendialer.schemas import OutputModel
from opendialer.scoping import Scope, owned, require_role
from opendialer.web.db import DbSession
from opendialer.web.routes import IndexedRouter, OneTripRoute

report_pages = IndexedRouter(
    route_class=OneTripRoute, prefix="/console/reports", include_in_schema=False
)


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    show: Callable[[Any], str] = str


def hms(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


def percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def decimal(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def counts(values: dict[str, Any]) -> str:
    return ", ".join(
        f"{k}: {hms(v) if isinstance(v, float) else v}" for k, v in sorted(values.items())
    )


def _render(
    request: Request,
    session: Session,
    scope: Scope,
    *,
    title: str,
    api: str,
    params: FilterParams,
    wanted: ReportFilter,
    rows: Sequence[OutputModel],
    columns: list[Column],
    chart: dict[str, Any],
    extra: dict[str, str] | None = None,
) -> HTMLResponse:
    query = {
        k: v
        for k, v in {
            "date_from": wanted.date_from.isoformat(),
            "date_to": wanted.date_to.isoformat(),
            "campaign_id": params.campaign_id,
            "user_id": params.user_id,
            **(extra or {}),
        }.items()
        if v is not None
    }
    user = session.get_one(User, scope.user_id)
    return _page(
        request,
        "report.html",
        csrf_token=None,
        user=user,
        title=title,
        wanted=wanted,
        extra=extra or {},
        campaigns=list(session.scalars(owned(Campaign, scope).order_by(Campaign.name))),
        agents=list(
            session.scalars(
                owned(User, scope).where(User.role == UserRole.AGENT).order_by(User.username)
            )
        ),
        columns=columns,
        rows=[row.model_dump() for row in rows],
        chart_json=_script_json(chart),
        csv_url=f"/api/v1/reports/{api}?{urlencode(query | {'format': 'csv'})}",
        path=request.url.path,
    )


def _script_json(data: dict[str, Any]) -> str:
    """JSON safe inside a ``<script>`` element: no markup character survives (a campaign named
    ``</script>`` stays text)."""
    text = json.dumps(data)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _login(request: Request, session: Session) -> Scope | RedirectResponse:
    login = _page_login(request, session)
    if isinstance(login, RedirectResponse):
        return login
    require_role(login.scope, UserRole.SUPERVISOR)
    return login.scope


Row = TypeVar("Row", bound=OutputModel)


@dataclass(frozen=True)
class ReportPage(Generic[Row]):
    """One report page: its rows from the service, its table and its chart."""

    title: str
    api: str
    rows: Callable[[Session, Scope, ReportFilter, datetime], Sequence[Row]]
    columns: list[Column]
    chart: Callable[[Sequence[Row]], dict[str, Any]]
    extra: dict[str, str] | None = None


def _show(
    request: Request, session: Session, params: FilterParams, report: ReportPage[Row]
) -> Response:
    """Sign-in and role, the filter resolved, the rows read and the page rendered."""
    scope = _login(request, session)
    if isinstance(scope, RedirectResponse):
        return scope
    now = utcnow()
    wanted = params.resolve(session, scope, now)
    rows = report.rows(session, scope, wanted, now)
    return _render(
        request,
        session,
        scope,
        title=report.title,
        api=report.api,
        params=params,
        wanted=wanted,
        rows=rows,
        columns=report.columns,
        chart=report.chart(rows),
        extra=report.extra,
    )


@report_pages.get("/agents", response_class=HTMLResponse)
def agents_report(request: Request, session: DbSession, params: Filter) -> Response:
    return _show(request, session, params, AGENTS)


AGENT_COLUMNS = [
    Column("username", "Agent"),
    Column("logged_in_seconds", "Logged in", hms),
    Column("ready_seconds", "Ready", hms),
    Column("talk_seconds", "Talk", hms),
    Column("wrap_up_seconds", "Wrap-up", hms),
    Column("pause_seconds", "Pause", hms),
    Column("pause_by_reason", "Pause by reason", counts),
    Column("calls", "Calls"),
    Column("connects", "Connects"),
    Column("results", "Results", counts),
]


def _agent_chart(rows: Sequence[AgentPerformanceRow]) -> dict[str, Any]:
    return {
        "title": "Hours per agent",
        "labels": [r.username for r in rows],
        "series": [
            {"name": name, "values": [round(getattr(r, key) / 3600, 2) for r in rows]}
            for name, key in (
                ("talk (h)", "talk_seconds"),
                ("wrap-up (h)", "wrap_up_seconds"),
                ("ready (h)", "ready_seconds"),
                ("pause (h)", "pause_seconds"),
            )
        ],
    }


@report_pages.get("/results", response_class=HTMLResponse)
def results_report(request: Request, session: DbSession, params: Filter) -> Response:
    return _show(request, session, params, RESULTS)


RESULT_COLUMNS = [
    Column("day", "Day"),
    Column("campaign", "Campaign"),
    Column("result_code", "Result code"),
    Column("result_text", "Meaning"),
    Column("calls", "Calls"),
]


def _result_chart(rows: Sequence[ResultRow]) -> dict[str, Any]:
    totals: defaultdict[str, int] = defaultdict(int)
    for row in rows:
        totals[row.result_code] += row.calls
    codes = sorted(totals)
    return {
        "title": "Calls per result code",
        "labels": codes,
        "series": [{"name": "calls", "values": [totals[c] for c in codes]}],
    }


@report_pages.get("/campaigns", response_class=HTMLResponse)
def campaigns_report(
    request: Request, session: DbSession, params: Filter, period: Literal["hour", "day"] = "hour"
) -> Response:
    report = ReportPage[CampaignPeriodRow](
        f"Campaigns by {period}",
        "campaigns",
        lambda session, scope, wanted, now: service.campaign_periods(
            session, scope, wanted, period, now
        ),
        _period_columns(period),
        lambda rows: _period_chart(rows, period),
        {"period": period},
    )
    return _show(request, session, params, report)


def _period_columns(period: str) -> list[Column]:
    def when(value: datetime) -> str:
        return value.strftime("%Y-%m-%d %H:%M" if period == "hour" else "%Y-%m-%d")

    return [
        Column("period", period.title(), when),
        Column("campaign", "Campaign"),
        Column("attempts", "Attempts"),
        Column("live_answers", "Live answers"),
        Column("machines", "Machines"),
        Column("abandoned", "Abandoned"),
        Column("abandonment", "Abandonment", percent),
        Column("connects", "Connects"),
        Column("dials_per_connect", "Dials per connect", decimal),
        Column("occupancy", "Occupancy", percent),
    ]


def _period_chart(rows: Sequence[CampaignPeriodRow], period: str) -> dict[str, Any]:
    totals: dict[datetime, list[int]] = {}
    for row in rows:
        total = totals.setdefault(row.period, [0, 0, 0])
        total[0] += row.attempts
        total[1] += row.live_answers
        total[2] += row.connects
    shown = sorted(totals)
    pattern = "%H:%M" if period == "hour" else "%m-%d"
    return {
        "title": f"Attempts, live answers and connects per {period}",
        "labels": [p.strftime(pattern) for p in shown],
        "series": [
            {"name": name, "values": [totals[p][i] for p in shown]}
            for i, name in enumerate(("attempts", "live answers", "connects"))
        ],
    }


@report_pages.get("/compliance", response_class=HTMLResponse)
def compliance_report(request: Request, session: DbSession, params: Filter) -> Response:
    return _show(request, session, params, COMPLIANCE)


COMPLIANCE_COLUMNS = [
    Column("day", "Day"),
    Column("campaign", "Campaign"),
    Column("live_answers", "Live answers"),
    Column("abandoned", "Abandoned"),
    Column("abandonment", "Abandonment", percent),
    Column("rolling_30_days", "30 days", percent),
    Column("cap", "Cap", percent),
    Column("over_cap", "Over the cap", lambda v: "yes" if v else "no"),
    Column("outside_hours", "Calls outside hours"),
    Column("dnc_refused", "DNC hits refused"),
]


def _compliance_chart(rows: Sequence[ComplianceRow]) -> dict[str, Any]:
    return {
        "title": "Abandonment per campaign and day against the cap",
        "percent": True,
        "labels": [f"{r.day:%m-%d} {r.campaign}" for r in rows],
        "series": [
            {"name": "abandonment that day", "values": [r.abandonment for r in rows]},
            {"name": "over 30 days", "values": [r.rolling_30_days for r in rows]},
            {"name": "cap", "kind": "line", "values": [r.cap for r in rows]},
        ],
    }


AGENTS = ReportPage[AgentPerformanceRow](
    "Agent performance",
    "agent-performance",
    service.agent_performance,
    AGENT_COLUMNS,
    _agent_chart,
)
RESULTS = ReportPage[ResultRow](
    "Results per campaign and day",
    "results",
    lambda session, scope, wanted, _now: service.results(session, scope, wanted),
    RESULT_COLUMNS,
    _result_chart,
)
COMPLIANCE = ReportPage[ComplianceRow](
    "Compliance",
    "compliance",
    lambda session, scope, wanted, _now: service.compliance(session, scope, wanted),
    COMPLIANCE_COLUMNS,
    _compliance_chart,
)
