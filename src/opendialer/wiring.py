"""The composition root: the app's parts built and started in one place.

``build_state`` makes what exists before the event loop (settings, database, the failed-credential
guard); ``running_parts`` starts what lives on the loop for the app's lifetime (the agent push,
the dialing engine with its telephony backend, the CRM outbox sender, housekeeping) and stops them
in reverse order. Routes read the parts through ``opendialer.web.state``.
"""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from opendialer.accounts.guard import AuthGuard
from opendialer.accounts.verified_keys import VerifiedKeys, watch_key_changes
from opendialer.clock import RealClock
from opendialer.config import Settings
from opendialer.console.phone_watch import phone_watch
from opendialer.console.push import AgentPush
from opendialer.contacts.imports.progress import ImportProgressBoard
from opendialer.crm.sender import outbox_sender
from opendialer.db import SessionMaker, create_db_engine, create_sessionmaker
from opendialer.dialing.recent_counts import RecentCounts
from opendialer.engine import state_log
from opendialer.engine.listeners import Listeners
from opendialer.engine.pacing.select import policy_for
from opendialer.engine.runner import Engine
from opendialer.engine.simulation import SimulatedAgents
from opendialer.engine.wrap_up import WrapUpTimer
from opendialer.housekeeping import housekeeping
from opendialer.observability.exposition import metrics_server
from opendialer.recordings.service import CallRecorder
from opendialer.tasks import running
from opendialer.telephony import TelephonyBackend, load_backend
from opendialer.telephony.sim_scenario import Scenario
from opendialer.web.state import AppState

log = logging.getLogger(__name__)


def build_state(settings: Settings) -> AppState:
    db_engine = create_db_engine(
        settings.database_url, forbid_on_loop=True, async_wait=settings.database_wait_seconds
    )
    sessions = create_sessionmaker(db_engine)
    watch_key_changes()
    return AppState(
        settings=settings,
        db_engine=db_engine,
        sessions=sessions,
        auth_guard=AuthGuard(settings, sessions),
        verified_keys=VerifiedKeys(settings.api_key_cache_seconds),
        import_progress=ImportProgressBoard(),
        recent_counts=RecentCounts(settings.live_counts_seconds),
    )


@contextlib.asynccontextmanager
async def running_parts(state: AppState) -> AsyncIterator[None]:
    """The parts on the event loop, for the app's lifetime; the database closed after them."""
    settings = state.settings
    state.agent_push = AgentPush(asyncio.get_running_loop())
    try:
        tell = state.agent_push.notify_from_thread
        with (
            state_log.publishing(state.sessions, tell),
            state_log.listening(state.db_engine.url, tell),  # other servers' changes
        ):
            async with (
                dialing_engine(state, state.agent_push),
                outbox_sender(state.sessions, settings) as state.outbox_sender,
                housekeeping(state.sessions, settings),
                metrics_server(state),
                phone_watch(state.sessions, settings),
            ):
                yield
        await asyncio.to_thread(state.auth_guard.written)
    finally:
        state.engine = state.outbox_sender = None
        state.db_engine.dispose()


@contextlib.asynccontextmanager
async def dialing_engine(state: AppState, push: AgentPush) -> AsyncIterator[None]:
    """Build the telephony backend and the engine at start-up, stop them at shutdown.

    A missing or broken backend raises TelephonyConfigError here, so the server does not start.
    """
    settings = state.settings
    if not settings.engine_enabled:
        yield
        return
    clock = RealClock()
    backend = load_backend(
        settings.telephony_backend, clock=clock, options=settings.telephony_options
    )
    engine = Engine(
        state.sessions,
        backend,
        clock,
        engine_id=settings.engine_id,
        lease_seconds=settings.engine_lease_seconds,
        reread_seconds=settings.engine_reread_seconds,
        policy_factory=policy_for,
        recorder=_recorder_for(backend, settings),
    )
    simulated = _simulated_agents(state.sessions, settings, clock)
    timer = WrapUpTimer(engine)
    engine.listener = Listeners(*(x for x in (simulated, push, timer) if x is not None))
    if simulated is not None:
        simulated.engine = engine
        simulated.ready_idle()  # agents left paused or in wrap-up by a crash (timers died)
    engine.tick_lateness.observer = state.metrics.ticks if state.metrics else None
    state.engine = engine
    async with running(_serve_once_bound(state, engine)):
        yield
        await engine.stop(0)  # at once, unless a signal already drained it (safe_stop.py)
        await timer.close()


async def _serve_once_bound(state: AppState, engine: Engine) -> None:
    """Run the engine, once the server's port is bound when a server runs the app (cli): a
    server that cannot bind its port must not have dialled."""
    if state.port_bound is not None:
        await state.port_bound.wait()
    log.info("engine %s starts dialling", engine.engine_id)
    state.engine_running = True
    try:
        await engine.serve()
    finally:
        state.engine_running = False


def _recorder_for(backend: TelephonyBackend, settings: Settings) -> CallRecorder:
    recorder = CallRecorder(settings.recordings_dir)
    set_recording_hook = getattr(backend, "set_recording_hook", None)
    if callable(set_recording_hook):  # backends that leave the audio to the dialer (sim)
        set_recording_hook(recorder)
    set_audio_store = getattr(backend, "set_audio_store", None)
    if callable(set_audio_store):  # backends that write the audio themselves (sip + rtpengine)
        set_audio_store(recorder)
    return recorder


def _simulated_agents(
    sessions: SessionMaker, settings: Settings, clock: RealClock
) -> SimulatedAgents | None:
    if not settings.simulate_agents:
        return None
    return SimulatedAgents(sessions, clock, Scenario(), seed=0)
