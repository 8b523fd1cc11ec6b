"""The ASGI application: built by create_app(), never at import time; its parts are built
and started by the composition root, ``opendialer.wiring``."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, Depends, FastAPI
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from opendialer import __version__
from opendialer.accounts.login_router import router as login_router
from opendialer.accounts.router import router as accounts_router
from opendialer.acd.router import router as acd_router
from opendialer.agents.router import router as agents_router
from opendialer.agents.session_router import router as agent_session_router
from opendialer.audit import context as faces
from opendialer.audit.router import router as audit_router
from opendialer.campaigns.router import router as campaigns_router
from opendialer.compliance.router import router as compliance_router
from opendialer.config import Settings, get_settings
from opendialer.console.router import mount_console
from opendialer.contacts.imports.router import router as import_router
from opendialer.contacts.router import router as contacts_router
from opendialer.crm.router import router as crm_router
from opendialer.dialects.jtel.router import router as jtel_router
from opendialer.dialects.minicrm.router import router as minicrm_router
from opendialer.dialects.mmdial.router import router as mmdial_router
from opendialer.dialects.voicenter.router import PREFIX as VOICENTER_PREFIX
from opendialer.dialects.voicenter.router import router as voicenter_router
from opendialer.dialing.router import router as dialing_router
from opendialer.dnc.router import router as dnc_router
from opendialer.exports.router import router as exports_router
from opendialer.inputs import MAX_JSON_DEPTH
from opendialer.middleware import AuditFaces, BodySizeLimit, JsonDepthLimit
from opendialer.observability.exposition import install_metrics
from opendialer.observability.health import router as health_router
from opendialer.observability.requests import RequestContext
from opendialer.recordings.router import router as recordings_router
from opendialer.reports.router import router as reports_router
from opendialer.web.errors import install_error_handlers
from opendialer.web.params import refuse_unstorable_parameters
from opendialer.web.state import attach
from opendialer.whatif.router import router as whatif_router
from opendialer.wiring import build_state, running_parts

API_V1 = "/api/v1"


def native_routers() -> tuple[APIRouter, ...]:
    """The native API's domain routers, each included under ``/api/v1``."""
    return (
        accounts_router,
        login_router,
        campaigns_router,
        contacts_router,
        import_router,
        dnc_router,
        agents_router,
        dialing_router,
        agent_session_router,
        crm_router,
        acd_router,
        recordings_router,
        exports_router,
        compliance_router,
        reports_router,
        whatif_router,
        audit_router,
    )


def include_native_api(app: FastAPI) -> None:
    """Each domain router straight into the app, not through one ``/api/v1`` router: FastAPI
    matches an included router's routes again at every level of nesting, on every request."""
    for domain_router in native_routers():
        app.include_router(
            domain_router, prefix=API_V1, dependencies=[Depends(refuse_unstorable_parameters)]
        )


def _faces(settings: Settings) -> list[tuple[str, str]]:
    """Each face's path prefix, for the audit trail."""
    return [
        (VOICENTER_PREFIX + "/", faces.VOICENTER),
        ("/api/v1/", faces.NATIVE),
        ("/Api/", faces.MINICRM),
        (settings.mmdial_base_path.rstrip("/") + "/", faces.MMDIAL),
        (settings.jtel_base_path.rstrip("/") + "/", faces.JTEL),
        ("/console", faces.CONSOLE),
    ]


def create_app(settings: Settings | None = None) -> FastAPI:
    state = build_state(settings or get_settings())
    settings = state.settings

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        async with running_parts(state):
            yield

    app = FastAPI(
        title="opendialer",
        version=__version__,
        description="Outbound dialer and contact-center server. Native API under /api/v1.",
        lifespan=lifespan,
    )
    attach(app, state)
    install_error_handlers(app)
    # First: routes are matched in order, and AddCall is the hottest path of all.
    app.include_router(voicenter_router)
    include_native_api(app)
    app.include_router(minicrm_router)
    app.include_router(mmdial_router, prefix=settings.mmdial_base_path.rstrip("/"))
    app.include_router(jtel_router, prefix=settings.jtel_base_path)
    mount_console(app)
    app.include_router(health_router)
    metrics = install_metrics(app, state)
    # Added first so it runs inside BodySizeLimit: it only ever holds a bounded body.
    app.add_middleware(JsonDepthLimit, max_depth=MAX_JSON_DEPTH, prefixes=("/api/v1/",))
    app.add_middleware(
        BodySizeLimit,
        max_bytes=settings.max_body_bytes,
        max_import_bytes=settings.max_import_bytes,
        path_limits={"/Api/CallLog": settings.max_calllog_bytes},
        own_limit_prefixes=(VOICENTER_PREFIX + "/",),
    )
    app.add_middleware(AuditFaces, faces=_faces(settings))
    app.add_middleware(
        RequestContext, metrics=metrics.http if metrics else None, access_log=settings.access_log
    )
    if settings.trusted_proxies:  # outermost: everything inside sees the real client address
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxies)
    return app
