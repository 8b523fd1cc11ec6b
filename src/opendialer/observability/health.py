"""``/healthz``: the process answers. ``/readyz``: it can do its work: the database answers and
is at the newest migration, the engine runs (when this server runs one) and its telephony
backend is up. Load balancers and orchestrators send traffic only to a ready server."""

import asyncio
from typing import Literal, Protocol, runtime_checkable

from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from opendialer import __version__, migrate
from opendialer.db import SessionMaker, run_unit_of_work
from opendialer.web.routes import IndexedRouter, OneTripRoute
from opendialer.web.state import AppState, AppStateDep

CHECK_TIMEOUT_SECONDS = 5.0  # a database that does not answer within this is not ready
Check = Literal["ok", "failing", "disabled"]
router = IndexedRouter(route_class=OneTripRoute, tags=["operations"])


@runtime_checkable
class ReportsHealth(Protocol):
    """A telephony backend that can say whether it is up (sim, sip); others count as up while
    the engine that started them runs."""

    def healthy(self) -> bool: ...


class Health(BaseModel):
    status: Literal["ok"] = "ok"
    version: str


class Readiness(BaseModel):
    status: Literal["ready", "not_ready"]
    checks: dict[str, Check] = Field(
        description="database (reachable), schema (at the newest migration), engine, telephony"
    )
    problems: list[str] = Field(default_factory=list, description="What is not ready, in words")


@router.get("/healthz", response_model=Health, summary="The process is alive")
def healthz() -> Health:
    return Health(version=__version__)


@router.get(
    "/readyz",
    response_model=Readiness,
    summary="The server can do its work",
    responses={503: {"model": Readiness, "description": "Something is not ready (see checks)"}},
)
async def readyz(state: AppStateDep) -> JSONResponse:
    readiness = await readiness_of(state)
    status = 200 if readiness.status == "ready" else 503
    return JSONResponse(readiness.model_dump(), status_code=status)


async def readiness_of(state: AppState) -> Readiness:
    checks: dict[str, Check] = {}
    problems: list[str] = []
    checks["database"], checks["schema"] = await _database(state.sessions, problems)
    checks["engine"], checks["telephony"] = _engine(state, problems)
    ready = all(value != "failing" for value in checks.values())
    return Readiness(status="ready" if ready else "not_ready", checks=checks, problems=problems)


async def _database(sessions: SessionMaker, problems: list[str]) -> tuple[Check, Check]:
    try:
        revision = await asyncio.wait_for(
            run_unit_of_work(sessions, lambda s: migrate.revision_of(s.connection()), writes=False),
            CHECK_TIMEOUT_SECONDS,
        )
    except Exception as exc:  # any failure to reach it is the answer, not an error
        problems.append(f"database unreachable: {type(exc).__name__}")
        return "failing", "failing"
    head = migrate.head_revision()
    if revision != head:
        problems.append(
            f"database at revision {revision or '(none)'}, not {head}: run `opendialer db upgrade`"
        )
        return "ok", "failing"
    return "ok", "ok"


def _engine(state: AppState, problems: list[str]) -> tuple[Check, Check]:
    settings = state.settings
    if not settings.engine_enabled:
        return "disabled", "disabled"
    engine = state.engine
    if engine is None or not state.engine_running:
        problems.append("the dialing engine is not running")
        return "failing", "failing"
    backend = engine.backend
    if isinstance(backend, ReportsHealth) and not backend.healthy():
        problems.append(f"the telephony backend ({settings.telephony_backend}) is down")
        return "ok", "failing"
    return "ok", "ok"
