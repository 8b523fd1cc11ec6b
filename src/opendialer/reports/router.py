"""Native API: the reports, as JSON or as CSV (``?format=csv``), for supervisors and admins."""

import csv
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import Depends, Query
from fastapi.responses import Response
from pydantic import BeforeValidator, Field
from sqlalchemy.orm import Session

from opendialer.accounts.roles import SupervisorReadScope
from opendialer.inputs import MAX_DB_INT
from opendialer.models.base import utcnow
from opendialer.reports import service
from opendialer.reports.schemas import (
    AgentPerformanceRow,
    CampaignPeriodRow,
    ComplianceRow,
    Report,
    ReportFilter,
    ResultRow,
)
from opendialer.schemas import OutputModel
from opendialer.scoping import Scope, tenant_of
from opendialer.web.db import ReadSession
from opendialer.web.params import SupportedDate
from opendialer.web.routes import IndexedRouter, OneTripRoute

router = IndexedRouter(route_class=OneTripRoute, prefix="/reports", tags=["reports"])
Format = Annotated[Literal["json", "csv"], Query(description="csv: a file download")]


def _blank_is_none(value: object) -> object:
    """A form's empty field ("All", no date) is no filter."""
    return None if value == "" else value


Blank = BeforeValidator(_blank_is_none)
OptionalId = Annotated[Annotated[int, Field(ge=1, le=MAX_DB_INT)] | None, Blank, Query()]
OptionalDay = Annotated[SupportedDate | None, Blank]


async def report_clock() -> Callable[[], datetime]:
    """Where the reports read the time; tests pin it through ``dependency_overrides``."""
    return utcnow


Clock = Annotated[Callable[[], datetime], Depends(report_clock)]


@dataclass(frozen=True)
class FilterParams:
    """The filter every report takes: days (the tenant's), a campaign, an agent."""

    date_from: date | None
    date_to: date | None
    campaign_id: int | None
    user_id: int | None

    def resolve(self, session: Session, scope: Scope, now: datetime) -> ReportFilter:
        first = self.date_from or service.today(session, scope, now)
        return ReportFilter(first, self.date_to or first, self.campaign_id, self.user_id)


async def report_filter(
    date_from: Annotated[OptionalDay, Query(description="First day (default: today)")] = None,
    date_to: Annotated[OptionalDay, Query(description="Last day, included")] = None,
    campaign_id: OptionalId = None,
    user_id: OptionalId = None,
) -> FilterParams:
    return FilterParams(date_from, date_to, campaign_id, user_id)


Filter = Annotated[FilterParams, Depends(report_filter)]


def render(
    session: Session,
    scope: Scope,
    wanted: ReportFilter,
    rows: Sequence[OutputModel],
    name: str,
    fmt: str,
) -> Report[OutputModel] | Response:
    if fmt == "csv":
        return csv_response(rows, f"{name}-{wanted.date_from}-{wanted.date_to}.csv")
    return Report[OutputModel](
        date_from=wanted.date_from,
        date_to=wanted.date_to,
        time_zone=tenant_of(session, scope).timezone,
        rows=list(rows),
    )


def csv_text(rows: Sequence[OutputModel]) -> str:
    """One column per field; nested counts (pauses, results) as ``name=value; ...``."""
    out = io.StringIO()
    if rows:
        fields = list(type(rows[0]).model_fields)
        writer = csv.writer(out)
        writer.writerow(fields)
        for row in rows:
            data = row.model_dump(mode="json")
            writer.writerow([_cell(data[f]) for f in fields])
    return out.getvalue()


def _cell(value: object) -> object:
    if isinstance(value, dict):
        return "; ".join(f"{k}={v}" for k, v in sorted(value.items()))
    return "" if value is None else value


def csv_response(rows: Sequence[OutputModel], filename: str) -> Response:
    return Response(
        csv_text(rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get("/agent-performance", response_model=Report[AgentPerformanceRow])
def agent_performance(
    session: ReadSession,
    who: SupervisorReadScope,
    params: Filter,
    now: Clock,
    format: Format = "json",
) -> Report[OutputModel] | Response:
    """Per agent: logged-in, ready, talk, wrap-up and pause times (by reason), calls, connects
    and results."""
    wanted = params.resolve(session, who, now())
    rows = service.agent_performance(session, who, wanted, now())
    return render(session, who, wanted, rows, "agent-performance", format)


@router.get("/results", response_model=Report[ResultRow])
def results(
    session: ReadSession,
    who: SupervisorReadScope,
    params: Filter,
    now: Clock,
    format: Format = "json",
) -> Report[OutputModel] | Response:
    """Result codes set per campaign and day."""
    wanted = params.resolve(session, who, now())
    return render(session, who, wanted, service.results(session, who, wanted), "results", format)


@router.get("/campaigns", response_model=Report[CampaignPeriodRow])
def campaigns(
    session: ReadSession,
    who: SupervisorReadScope,
    params: Filter,
    now: Clock,
    period: Literal["hour", "day"] = "hour",
    format: Format = "json",
) -> Report[OutputModel] | Response:
    """Per campaign and hour (or day): attempts, live answers, machines, abandoned,
    abandonment, connects, dials per connect, occupancy."""
    wanted = params.resolve(session, who, now())
    rows = service.campaign_periods(session, who, wanted, period, now())
    return render(session, who, wanted, rows, f"campaigns-by-{period}", format)


@router.get("/compliance", response_model=Report[ComplianceRow])
def compliance(
    session: ReadSession,
    who: SupervisorReadScope,
    params: Filter,
    now: Clock,
    format: Format = "json",
) -> Report[OutputModel] | Response:
    """Per campaign and day: abandonment that day and over 30 days against the cap, calls
    outside hours (must be 0), numbers refused for DNC."""
    wanted = params.resolve(session, who, now())
    return render(
        session, who, wanted, service.compliance(session, who, wanted), "compliance", format
    )
