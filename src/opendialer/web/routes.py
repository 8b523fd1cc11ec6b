"""The app's routers and their route class.

``IndexedRouter``, every router of the app: FastAPI 0.165 asks each included router in turn
whether one of its routes matches a request, route by route, so a request to the seventeenth
router paid for every route of the sixteen before it. An ``IndexedRouter`` first tests the path
against one regular expression that every path its routes can match also matches, and answers
"no match" at once when it does not; otherwise FastAPI matches as before, so every request
resolves to the route it did (``tests/web/test_routes.py`` resolves every route both ways).

``OneTripRoute``, the route class of every router that uses the request's session: a plain
(synchronous) endpoint, the validation of its answer and the commit of its session in one trip
to a worker thread.

FastAPI runs a plain endpoint in a worker thread, then validates its answer in a second trip
(the response model may read attributes the ORM loads), and the session dependency commits in a
third: each trip is anyio's ``to_thread`` with its capacity limiter and a wake-up of the loop,
about a third of the loop's time on a cheap write. Here the endpoint becomes a coroutine that
makes one trip: the endpoint, its response model validated while the session can still load,
then the sessions it was given committed and closed (``opendialer.web.db.finish``), after which
the session dependency has nothing left to do in a thread. FastAPI then validates the model
again on the loop: a model instance passes as it is.

An endpoint that raises leaves its sessions to the dependency (rolled back there, as before);
so does an answer that does not validate (FastAPI raises its error on the loop).

On SQLite a writing request's trip is one writer of a group commit (``opendialer.db``,
``run_grouped``): the writers queued at that moment run in one trip and one transaction, each
in a savepoint of its own, so the failures above roll back that request's savepoint alone.
"""

import functools
import inspect
import re
from collections.abc import Callable, Sequence
from typing import Any

from anyio import to_thread
from fastapi.routing import APIRoute, APIRouter
from sqlalchemy.orm import Session
from starlette.responses import Response
from starlette.routing import BaseRoute, Match
from starlette.types import Scope

from opendialer.db import GROUPED, run_grouped
from opendialer.web.db import ONE_TRIP, finish

_NAMED_GROUP = re.compile(r"\(\?P<\w+>")


class IndexedRouter(APIRouter):
    """An ``APIRouter`` that rules out, with one regular expression, a request none of its routes
    can match (the module's doc)."""

    _index: tuple[int, re.Pattern[str] | None] = (-1, None)  # (routes counted, the expression)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        index = self.path_index()
        if index is not None and index.search(scope.get("path", "")) is None:
            return Match.NONE, {}
        return super().matches(scope)

    def path_index(self) -> re.Pattern[str] | None:
        """What every path one of the routes matches ends with, whatever prefix the router is
        included under; None when a route does not say (an included router, a host)."""
        counted, index = self._index
        if counted != len(self.routes):
            index = _any_path_of(self.routes)
            self._index = (len(self.routes), index)
        return index


def _any_path_of(routes: Sequence[BaseRoute]) -> re.Pattern[str] | None:
    """One expression for the routes' paths, anchored at the end only (a route's own expression
    matches its path without the prefix it is included under), its named groups unnamed (each
    route names its parameters again)."""
    bodies: list[str] = []
    for route in routes:
        pattern: re.Pattern[str] | None = getattr(route, "path_regex", None)
        if pattern is None:
            return None
        bodies.append(_NAMED_GROUP.sub("(?:", pattern.pattern.removeprefix("^").removesuffix("$")))
    return re.compile("(?:" + "|".join(bodies) + ")$") if bodies else None


class OneTripRoute(APIRoute):
    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        if _plain_function(endpoint):
            endpoint = self._in_one_trip(endpoint)
        super().__init__(path, endpoint, **kwargs)

    def _in_one_trip(self, endpoint: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(endpoint)
        async def one_trip(**values: Any) -> Any:
            work = functools.partial(self._run, endpoint, values)
            for value in values.values():
                if isinstance(value, Session) and GROUPED in value.info:
                    return await run_grouped(value, work)
            return await to_thread.run_sync(work)

        setattr(one_trip, ONE_TRIP, True)
        return one_trip

    def _run(self, endpoint: Callable[..., Any], values: dict[str, Any]) -> Any:
        answer = endpoint(**values)
        if self.response_field is not None and not _is_response(answer):
            validated, errors = self.response_field.validate(answer, {}, loc=("response",))
            if errors:
                return answer  # FastAPI raises the validation error; the dependency rolls back
            answer = validated
        for value in values.values():
            if isinstance(value, Session):
                finish(value)
        return answer


def _plain_function(endpoint: Callable[..., Any]) -> bool:
    """A synchronous function that returns its answer (not a generator: a stream)."""
    call = inspect.unwrap(endpoint)
    return inspect.isfunction(call) and not (
        inspect.iscoroutinefunction(call)
        or inspect.isgeneratorfunction(call)
        or inspect.isasyncgenfunction(call)
    )


def _is_response(answer: Any) -> bool:
    return isinstance(answer, Response)
