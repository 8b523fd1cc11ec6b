"""One worker-thread trip per plain endpoint (opendialer.web.routes.OneTripRoute): the endpoint,
the validation of its answer and the commit of its session together; a failure at any of them
still leaves nothing written. Every request resolves to the same route with the routers' path
index (``IndexedRouter``) as without it."""

import re
from collections.abc import Callable, Iterator
from typing import Any

import anyio.to_thread
import pytest
from fastapi import APIRouter, FastAPI
from fastapi.routing import _IncludedRouter
from fastapi.testclient import TestClient
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.routing import BaseRoute, Match

from opendialer.accounts.roles import AdminScope
from opendialer.accounts.service import NewTenant
from opendialer.app import create_app
from opendialer.config import Settings
from opendialer.models import Tenant
from opendialer.web.db import DbSession
from opendialer.web.routes import IndexedRouter, OneTripRoute
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
    api: TestClient, trips: list[str], settings: Settings
) -> None:
    campaign = api.post("/api/v1/campaigns", json={"name": "C", "dial_mode": "predictive"})
    if settings.database_url.startswith("sqlite"):
        # The new key's look-up reads beside the request's session, which still joins a group.
        assert trips == ["_in_transaction", "_commit"], trips
    path = f"/api/v1/campaigns/{campaign.json()['id']}/contacts"
    assert api.post(path, json={"phones": ["030 1234567"]}).status_code == 201  # key verified
    trips.clear()

    response = api.post(path, json={"phones": ["030 7654321"]})

    assert response.status_code == 201, response.text
    # The key's lookup makes a trip of its own when its cached second has run out meanwhile.
    # On SQLite the trip is a group commit's (opendialer.db.GroupCommit), with this one writer.
    one_trip = "_commit" if settings.database_url.startswith("sqlite") else "_run"
    # (on SQLite a read of its own, ``_in_transaction``, beside the grouped session).
    key_lookups = ("authenticate_api_key", "_in_transaction")
    assert [trip for trip in trips if trip not in key_lookups] == [one_trip], trips
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


METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def _path_formats(app: FastAPI) -> set[str]:
    """Every route's path as the app serves it (prefixes included)."""
    formats: set[str] = set()
    for route in app.router.routes:
        if isinstance(route, _IncludedRouter):
            formats.update(context.path_format for context in route.effective_route_contexts())
        else:
            formats.add(getattr(route, "path_format", "/"))
    return formats


def _requests(app: FastAPI) -> list[tuple[str, str]]:
    """Each route's path with its parameters filled in, with and without a trailing slash and
    one level deeper, under every method; and paths no route has."""
    paths = {"/", "/nowhere", "/api/v1/nowhere", "/api/v1/campaigns/1/nowhere"}
    for path_format in _path_formats(app):
        path = re.sub(r"{[^}]+}", "1", path_format)
        paths.update({path, path.rstrip("/") or "/", path.rstrip("/") + "/", path + "/x"})
    return [(method, path) for path in sorted(paths) for method in METHODS]


def _selected(route: BaseRoute, scope: dict[str, Any]) -> object:
    """The endpoint (or app) that handles ``scope`` once the app chose ``route``."""
    while isinstance(route, _IncludedRouter):
        _, _, chosen, _ = route._match(scope)
        if chosen is None:
            return None
        route = chosen
    return getattr(route, "endpoint", getattr(route, "app", route))


def _resolved(app: FastAPI, method: str, path: str) -> tuple[Match, object]:
    """What the app's router picks for the request, as ``APIRouter.app`` picks it: the first
    full match, else the first partial one (a known path with another method: 405)."""
    scope: dict[str, Any] = {"type": "http", "method": method, "path": path, "root_path": ""}
    scope.update(headers=[], query_string=b"")
    partial: BaseRoute | None = None
    for route in app.router.routes:
        match, _ = route.matches(scope)
        if match == Match.FULL:
            return match, _selected(route, scope)
        if match == Match.PARTIAL and partial is None:
            partial = route
    if partial is None:
        return Match.NONE, None
    return Match.PARTIAL, _selected(partial, scope)


def _routers(app: FastAPI) -> list[IndexedRouter]:
    """The routers included into the app: every one an ``IndexedRouter``."""
    routers = [r.original_router for r in app.router.routes if isinstance(r, _IncludedRouter)]
    indexed = [router for router in routers if isinstance(router, IndexedRouter)]
    assert indexed == routers
    return indexed


def test_every_request_resolves_as_without_the_path_index(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    requests = _requests(app)
    indexed = [_resolved(app, method, path) for method, path in requests]
    routers = _routers(app)
    assert sum(router.path_index() is not None for router in routers) >= len(routers) - 2

    monkeypatch.setattr(IndexedRouter, "path_index", lambda _self: None)  # FastAPI's own way
    plain = [_resolved(app, method, path) for method, path in requests]

    assert indexed == plain
    assert sum(match == Match.FULL for match, _ in plain) > len(_path_formats(app))


def test_a_request_is_matched_only_by_the_routers_that_can_match_it(app: FastAPI) -> None:
    routers = _routers(app)
    asked = [
        router
        for router in routers
        if (index := router.path_index()) is not None
        and index.search("/api/v1/campaigns/7/contacts") is not None
    ]
    assert asked  # the contacts router, and those with a route that could take the path
    assert len(asked) < len(routers) / 4
