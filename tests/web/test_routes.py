"""One worker-thread trip per plain endpoint (opendialer.web.routes.OneTripRoute): the endpoint,
the validation of its answer and the commit of its session together; a failure at any of them
still leaves nothing written."""

from collections.abc import Callable, Iterator
from typing import Any

import anyio.to_thread
import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from opendialer.accounts.roles import AdminScope
from opendialer.accounts.service import NewTenant
from opendialer.app import create_app
from opendialer.config import Settings
from opendialer.models import Tenant
from opendialer.web.db import DbSession
from opendialer.web.routes import OneTripRoute
from opendialer.web.state import state_of


@pytest.fixture
def trips(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The name of every function sent to a worker thread (through anyio, as Starlette and
    FastAPI do)."""
    sent: list[str] = []
    run_sync = anyio.to_thread.run_sync

    async def counted(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        sent.append(getattr(function, "func", function).__name__)  # a partial's function
        return await run_sync(function, *args, **kwargs)

    monkeypatch.setattr(anyio.to_thread, "run_sync", counted)
    return sent


def test_a_native_create_makes_one_trip_to_a_worker_thread(
    api: TestClient, trips: list[str]
) -> None:
    campaign = api.post("/api/v1/campaigns", json={"name": "C", "dial_mode": "predictive"})
    path = f"/api/v1/campaigns/{campaign.json()['id']}/contacts"
    assert api.post(path, json={"phones": ["030 1234567"]}).status_code == 201  # key verified
    trips.clear()

    response = api.post(path, json={"phones": ["030 7654321"]})

    assert response.status_code == 201, response.text
    # The key's lookup makes a trip of its own when its cached second has run out meanwhile.
    assert [trip for trip in trips if trip != "authenticate_api_key"] == ["_run"], trips
    assert api.get(f"/api/v1/contacts/{response.json()['id']}").status_code == 200


class Named(BaseModel):
    name: str


def _renaming_router() -> APIRouter:
    router = APIRouter(route_class=OneTripRoute)

    @router.post("/renamed", response_model=Named)
    def rename(session: DbSession, who: AdminScope, valid: bool = True) -> Any:
        tenant = session.get_one(Tenant, who.tenant_id)
        tenant.name = "Renamed"
        return {"name": tenant.name} if valid else {"nom": tenant.name}

    return router


@pytest.fixture
def renaming_app(settings: Settings) -> Iterator[FastAPI]:
    app = create_app(settings)
    app.include_router(_renaming_router(), prefix="/test")
    yield app
    state_of(app).db_engine.dispose()


def _name(session: Session, tenant: NewTenant) -> str:
    session.expire_all()
    return session.scalars(select(Tenant.name).where(Tenant.id == tenant.tenant.id)).one()


def test_an_answer_that_fails_its_model_writes_nothing(
    renaming_app: FastAPI, tenant: NewTenant, session: Session
) -> None:
    headers = {"Authorization": f"Bearer {tenant.api_key}"}
    with TestClient(renaming_app, headers=headers, raise_server_exceptions=False) as client:
        refused = client.post("/test/renamed", params={"valid": "false"})
        assert refused.status_code == 500
        assert _name(session, tenant) == "Acme"

        answered = client.post("/test/renamed")
        assert answered.status_code == 200, answered.text
        assert answered.json() == {"name": "Renamed"}
        assert _name(session, tenant) == "Renamed"
