"""No route sends a dependency through a worker thread that does not need one.

FastAPI runs a plain ``def`` dependency in a worker thread: a round trip through the thread
pool that costs more CPU than most such functions do (about 400 Python calls each). Only a
dependency that uses the database (it takes the request's session, or depends on one that
does) belongs there; any other is ``async def`` (``web.state.on_loop`` makes one of a plain
reader of the app's parts).
"""

import inspect
from collections.abc import Callable, Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

from opendialer.web.db import _read_session, _request_session
from opendialer.web.routes import OneTripRoute

SESSIONS = {_request_session, _read_session}


def _runs_in_a_thread(call: Callable[..., Any]) -> bool:
    if inspect.isclass(call):
        return True  # FastAPI calls a class (its __init__) in the thread pool
    target = call if inspect.isfunction(call) else getattr(call, "__call__", call)  # noqa: B004
    return not (inspect.iscoroutinefunction(target) or inspect.isasyncgenfunction(target))


def _uses_the_database(dependant: Dependant) -> bool:
    return any(sub.call in SESSIONS or _uses_the_database(sub) for sub in dependant.dependencies)


def _threaded_without_database(dependant: Dependant) -> Iterator[str]:
    for sub in dependant.dependencies:
        call = sub.call
        if call is not None and _runs_in_a_thread(call) and not _uses_the_database(sub):
            yield f"{call.__module__}.{call.__qualname__}"
        yield from _threaded_without_database(sub)


def _dependants(app: FastAPI) -> Iterator[tuple[str, Dependant]]:
    for context in iter_route_contexts(app.routes):
        if isinstance(context.original_route, APIRoute):
            yield str(context.path_format), context.dependant


def test_only_database_dependencies_run_in_worker_threads(app: FastAPI) -> None:
    found = {
        f"{path}: {name}"
        for path, dependant in _dependants(app)
        for name in _threaded_without_database(dependant)
    }
    assert not found, sorted(found)


def test_the_check_finds_a_plain_dependency() -> None:
    def plain() -> int:
        return 1

    async def on_loop() -> int:
        return 1

    assert _runs_in_a_thread(plain)
    assert not _runs_in_a_thread(on_loop)


def test_every_plain_endpoint_using_the_database_makes_one_trip(app: FastAPI) -> None:
    """A router made without ``route_class=OneTripRoute`` would send its plain endpoints
    through three worker-thread trips (web/routes.py); Voicenter's plain route is the one
    exception (its own one trip, docs/engine.md)."""
    found = {
        f"{sorted(context.original_route.methods or ())} {context.path_format}"
        for context in iter_route_contexts(app.routes)
        if isinstance(context.original_route, APIRoute)
        and not isinstance(context.original_route, OneTripRoute)
        and _uses_the_database(context.dependant)
        and _runs_in_a_thread(inspect.unwrap(context.original_route.endpoint))
        and "voicenter" not in (context.original_route.tags or ())
    }
    assert not found, sorted(found)
