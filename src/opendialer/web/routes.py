"""The route class of every router that uses the request's session: a plain (synchronous)
endpoint, the validation of its answer and the commit of its session in one trip to a worker
thread.

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
"""

import functools
import inspect
from collections.abc import Callable
from typing import Any

from anyio import to_thread
from fastapi.routing import APIRoute
from sqlalchemy.orm import Session
from starlette.responses import Response

from opendialer.web.db import finish


class OneTripRoute(APIRoute):
    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        if _plain_function(endpoint):
            endpoint = self._in_one_trip(endpoint)
        super().__init__(path, endpoint, **kwargs)

    def _in_one_trip(self, endpoint: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(endpoint)
        async def one_trip(**values: Any) -> Any:
            return await to_thread.run_sync(functools.partial(self._run, endpoint, values))

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
