"""Where Prometheus reads the metrics (OPENDIALER_METRICS): nowhere (off), at /metrics on the
main port behind a bearer token (main), or on a port of their own (port), e.g. one only the
monitoring network reaches."""

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import FastAPI, Header
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest, start_http_server
from starlette.concurrency import run_in_threadpool

from opendialer.db import connection_slot
from opendialer.errors import Unauthorized
from opendialer.observability.metrics import Metrics
from opendialer.security import same_secret
from opendialer.web.routes import IndexedRouter, OneTripRoute
from opendialer.web.state import AppState, AppStateDep

log = logging.getLogger(__name__)
router = IndexedRouter(route_class=OneTripRoute, tags=["operations"])


def install_metrics(app: FastAPI, state: AppState) -> Metrics | None:
    """The app's metrics (None when off), and the /metrics route when they are served here."""
    if state.settings.metrics == "off":
        return None
    state.metrics = Metrics(state.sessions, lambda: state.engine)
    if state.settings.metrics == "main":
        app.include_router(router)
    return state.metrics


@router.get(
    "/metrics",
    summary="Metrics for Prometheus (text format); needs OPENDIALER_METRICS_TOKEN",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}, 401: {"description": "No token"}},
)
async def metrics_page(
    state: AppStateDep, authorization: Annotated[str | None, Header()] = None
) -> Response:
    settings = state.settings
    expected = settings.metrics_token.get_secret_value() if settings.metrics_token else ""
    scheme, _, given = (authorization or "").partition(" ")
    if not expected or scheme.lower() != "bearer" or not same_secret(expected, given):
        raise Unauthorized("Send the metrics token: Authorization: Bearer <token>")
    metrics = state.metrics
    if metrics is None:  # pragma: no cover - the route exists only with metrics on
        raise Unauthorized("metrics are off")
    async with connection_slot(state.sessions):  # the scrape reads the database
        body = await run_in_threadpool(generate_latest, metrics.registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)


@contextlib.asynccontextmanager
async def metrics_server(state: AppState) -> AsyncIterator[None]:
    """With OPENDIALER_METRICS=port: Prometheus's own HTTP server, in a thread, while the app
    runs. ``state.metrics_port`` says where it listens (port 0 asks the OS for one)."""
    settings, metrics = state.settings, state.metrics
    if settings.metrics != "port" or metrics is None:
        yield
        return
    server, thread = start_http_server(
        settings.metrics_port, settings.metrics_host, registry=metrics.registry
    )
    state.metrics_port = server.server_port
    log.info("metrics at http://%s:%s/metrics", settings.metrics_host, server.server_port)
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
