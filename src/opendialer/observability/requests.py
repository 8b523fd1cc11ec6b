"""Per request: an id (the caller's X-Request-ID when it is sane, else a new one) bound to every
log line the request causes and returned in ``X-Request-ID``; one access log line; and, when
metrics are on, the request counted by route template and status with its latency."""

import logging
import re
import time
import uuid

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from opendialer.observability.metrics import HttpMetrics

REQUEST_ID_HEADER = b"x-request-id"
# A caller's id is kept only when it cannot smuggle anything into a log line or a header.
_SANE_REQUEST_ID = re.compile(rb"^[A-Za-z0-9._:-]{1,128}$")
UNMATCHED = "<unmatched>"  # no route: one label, not one per probed path
log = logging.getLogger("opendialer.http")


def request_id_of(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == REQUEST_ID_HEADER and _SANE_REQUEST_ID.match(value):
            return bytes(value).decode("ascii")
    return uuid.uuid4().hex


def route_template(scope: Scope) -> str:
    """The matched route's path with its parameters as written in the code (cardinality stays
    bounded whatever the callers send)."""
    # FastAPI keeps an included router's routes relative to its prefix; the matched route's
    # effective context has the whole path (what fastapi.routing.iter_route_contexts lists).
    fastapi_scope = scope.get("fastapi")
    context = fastapi_scope.get("effective_route_context") if fastapi_scope else None
    path = getattr(context, "path_format", None) or getattr(scope.get("route"), "path_format", None)
    return path if isinstance(path, str) else UNMATCHED


class RequestContext:
    def __init__(
        self, app: ASGIApp, metrics: HttpMetrics | None = None, access_log: bool = True
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_of(scope)
        status = 500  # what the client gets when the app fails before it answers
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [*message.get("headers", []), (REQUEST_ID_HEADER, request_id.encode())]
                message = {**message, "headers": headers}
            await send(message)

        with structlog.contextvars.bound_contextvars(request_id=request_id):
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                self._finished(scope, status, time.perf_counter() - started)

    def _finished(self, scope: Scope, status: int, seconds: float) -> None:
        route = route_template(scope)
        if self.metrics is not None:
            self.metrics.observe(scope["method"], route, status, seconds)
        if self.access_log:
            log.info(
                "request",
                extra={
                    "method": scope["method"],
                    # The template, not the path: a path can hold a link's token
                    # (/Api/Recordings/{token}). An unknown path is logged as sent.
                    "route": scope["path"] if route == UNMATCHED else route,
                    "status": status,
                    "duration_ms": round(seconds * 1000, 2),
                },
            )
