"""The ``sip`` telephony backend: the engine's interface on top of RFC 3725 call control.

The asyncio side (this module) validates commands against what the engine has already been
told, and hands them to the SIP thread; the SIP thread reports back with
``loop.call_soon_threadsafe``. A call's phase here moves only when its event is delivered, so a
command can never be judged against news the engine has not seen yet.
"""

import asyncio
import dataclasses
import itertools
import logging
import socket
import uuid
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

from opendialer.clock import Clock
from opendialer.media.amd import AmdDetector, BeepDetector
from opendialer.telephony.announcements import (
    DEFAULT_ANNOUNCEMENT,
    DEFAULT_ANNOUNCEMENT_FILE,
    announcement_path,
)
from opendialer.telephony.base import (
    AgentEndpoint,
    AudioStore,
    CallEvent,
    CallEventKind,
    CallId,
    CallStateError,
    OriginateRequest,
    TelephonyError,
    UnknownCallError,
)
from opendialer.telephony.sip.controller import SipController
from opendialer.telephony.sip.listen import BeepFinderFactory, ClassifierFactory, Heard, Listening
from opendialer.telephony.sip.media import MediaError, Spool
from opendialer.telephony.sip.options import (
    SipOptions,
    load_options,
    parse_sip_uri,
    split_host_port,
)
from opendialer.telephony.sip.parts import Phase, Target, Timers
from opendialer.telephony.sip.recording import RecordingError, write_stereo_wav
from opendialer.telephony.sip.stack import SipThread

log = logging.getLogger(__name__)

CALL_ID_PREFIX = "sip-"
_STOP_LINGER_SECONDS = 0.5  # after the last final: its BYE or CANCEL gets answered and ACKed
_PHASE_AFTER = {
    CallEventKind.AGENT_ANSWERED: Phase.DIALLING,
    CallEventKind.ANSWERED: Phase.ANSWERED,
    CallEventKind.AGENT_NO_ANSWER: Phase.ANSWERED,
    CallEventKind.AGENT_LOST: Phase.ANSWERED,
    CallEventKind.BRIDGED: Phase.BRIDGED,
}
_BEFORE_ANSWER = frozenset({Phase.AGENT_RINGING, Phase.DIALLING})
UNALLOCATED_NUMBER = 1  # Q.850: what a special-information tone announces
INCOMPATIBLE_DESTINATION = 88  # Q.850: a fax answered a voice call


class SipBackend:
    """A :class:`~opendialer.telephony.base.TelephonyBackend` speaking SIP through sippy."""

    _running_in_process: ClassVar["SipBackend | None"] = None

    def __init__(self, clock: Clock, options: SipOptions) -> None:
        self.clock = clock
        self.options = options
        self.port: int | None = None
        self._phases: dict[CallId, Phase] = {}
        self._queue: asyncio.Queue[CallEvent | None] = asyncio.Queue()
        self._ids = itertools.count()
        self._issued = 0
        self._addresses: dict[str, str] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._last_final = float("-inf")
        self._thread: SipThread | None = None
        self._controller: SipController | None = None
        self._audio_store: AudioStore | None = None
        self._spools: dict[CallId, Spool] = {}
        self._listenings: dict[CallId, Listening] = {}
        self._classifier_factory: ClassifierFactory | None = AmdDetector
        self._beep_factory: BeepFinderFactory | None = BeepDetector
        self._after_greeting: dict[CallId, str] = {}
        self._amd_calls: set[CallId] = set()  # calls whose answer waits for an AMD verdict
        self._writing: set[asyncio.Task[None]] = set()

    def set_audio_store(self, store: AudioStore | None) -> None:
        """Who keeps the recordings this backend writes (the server sets it after loading us)."""
        self._audio_store = store

    def set_classifier_factory(self, factory: ClassifierFactory | None) -> None:
        """The answering-machine classifier made for each call with AMD (default: the
        ``opendialer.media.amd`` detector with its default settings; None: tones only)."""
        self._classifier_factory = factory

    @classmethod
    def running_in_process(cls) -> "SipBackend | None":
        """The started backend of this process, if any (sippy allows one per process)."""
        return cls._running_in_process

    # -- lifecycle

    async def start(self) -> None:
        if self._controller is not None:
            return
        if SipBackend._running_in_process is not None:
            raise TelephonyError("a sip backend is already running in this process (one only)")
        self._loop = asyncio.get_running_loop()
        self._thread = await asyncio.to_thread(SipThread.shared)
        controller = SipController(
            self._thread,
            self.options,
            self._from_sip_thread,
            self._spool_from_sip_thread,
            self._tap_from_sip_thread,
        )
        for trunk in {self.options.trunk, *(r.trunk for r in self.options.routes)}:
            await self._address(split_host_port(trunk)[0], startup=True)
        try:
            self.port = await asyncio.to_thread(self._thread.call_sync, controller.open)
        except (OSError, MediaError) as exc:
            raise TelephonyError(f"sip backend cannot start: {exc}") from exc
        self._controller = controller
        SipBackend._running_in_process = self
        log.info("sip backend listening on %s:%s", self.options.bind_address, self.port)

    def healthy(self) -> bool:
        """Its SIP socket is open (/readyz)."""
        return self._controller is not None

    async def stop(self) -> None:
        controller, thread = self._controller, self._thread
        if controller is None or thread is None:
            return
        await asyncio.to_thread(thread.call_sync, controller.hangup_all)
        await asyncio.sleep(0)  # the finals were queued before call_sync returned
        assert self._loop is not None
        linger = self._last_final + _STOP_LINGER_SECONDS - self._loop.time()
        if linger > 0:
            await asyncio.sleep(linger)
        await asyncio.to_thread(thread.call_sync, controller.close)
        while self._writing:
            await asyncio.gather(*self._writing)
        self._controller = None
        SipBackend._running_in_process = None
        self._queue.put_nowait(None)

    async def events(self) -> AsyncIterator[CallEvent]:
        while (event := await self._queue.get()) is not None:
            yield event

    # -- calls

    async def originate(self, request: OriginateRequest) -> CallId:
        controller, call_id = self._running(), self._new_id()
        customer = await self._customer_target(request)
        self._phases[call_id] = Phase.DIALLING
        if request.amd:
            self._amd_calls.add(call_id)
        args = (customer, self._from_user(request), _headers(request), self._timers(request))
        self._send(controller.originate, call_id, *args, request.amd, None, request.record)
        return call_id

    async def originate_agent_first(
        self, agent: AgentEndpoint, request: OriginateRequest
    ) -> CallId:
        controller, call_id = self._running(), self._new_id()
        customer = await self._customer_target(request)
        self._phases[call_id] = Phase.AGENT_RINGING
        target, problem = await self._agent_target(agent)
        if target is None:
            self._deliver(call_id, CallEventKind.AGENT_NO_ANSWER, None, None, problem, agent.id)
            self._deliver(call_id, CallEventKind.CANCELLED, None, None, problem, agent.id)
            return call_id
        args = (customer, self._from_user(request), _headers(request), self._timers(request))
        agent_leg = (target, agent.id)
        self._send(controller.originate, call_id, *args, request.amd, agent_leg, request.record)
        return call_id

    async def cancel(self, call_id: CallId) -> None:
        phase = self._phase(call_id)
        if phase in _BEFORE_ANSWER:
            self._send(self._running().cancel, call_id)

    async def bridge(self, call_id: CallId, agent: AgentEndpoint) -> None:
        phase = self._phase(call_id)
        if phase is None:
            return
        if phase is not Phase.ANSWERED:
            raise CallStateError(f"cannot bridge {call_id} while {phase.name.lower()}")
        self._phases[call_id] = Phase.CONNECTING
        target, problem = await self._agent_target(agent)
        self._send(self._running().bridge, call_id, target, agent.id, problem)

    async def play_and_hangup(self, call_id: CallId, announcement: str) -> None:
        phase = self._phase(call_id)
        if phase is None:
            return
        if phase in _BEFORE_ANSWER:
            raise CallStateError(f"cannot play to {call_id}: not answered")
        self._phases[call_id] = Phase.ANNOUNCING
        listening = self._listenings.get(call_id)
        if listening is not None and listening.greeting is not None and not listening.closed:
            self._after_greeting[call_id] = announcement  # a machine: played after its beep
            return
        self._stop_listening(call_id)
        await self._announce(call_id, announcement)

    async def _announce(self, call_id: CallId, announcement: str, note: str = "") -> None:
        target: Target | Path | None
        if self.options.media == "rtpengine" and not announcement.startswith(("sip:", "sips:")):
            target = announcement_file(announcement)
        else:
            target = await self._announcement_target(announcement)
        self._send(self._running().announce, call_id, target, announcement + note)

    async def hangup(self, call_id: CallId) -> None:
        if self._phase(call_id) is not None:
            self._send(self._running().hangup, call_id)

    # -- the way back from the SIP thread

    def _from_sip_thread(
        self,
        call_id: CallId,
        kind: CallEventKind,
        status: int | None,
        cause: int | None,
        detail: str,
        agent_id: str | None,
    ) -> None:
        assert self._loop is not None
        deliver = partial(self._deliver, call_id, kind, status, cause, detail, agent_id)
        self._loop.call_soon_threadsafe(deliver)

    def _spool_from_sip_thread(self, call_id: CallId, spool: Spool) -> None:
        """A recorded call's pcap, sent just before its final event (same queue, so first)."""
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self._spools.__setitem__, call_id, spool)

    def _tap_from_sip_thread(self, call_id: CallId, tap: socket.socket) -> None:
        """The socket rtpengine sends an AMD call's customer audio to (before its ANSWERED)."""
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self._listen, call_id, tap)

    def _listen(self, call_id: CallId, tap: socket.socket) -> None:
        """Every call's ear from its dial: tones in early media and after the answer, and the
        AMD classifier from the answer on when the call asked for it."""
        if call_id not in self._phases:
            tap.close()
            return
        amd = call_id in self._amd_calls
        factory = self._classifier_factory if amd else None
        classifier = factory() if factory is not None else None
        on_heard = partial(self._heard, call_id)
        max_seconds, beeps = self.options.amd_max_seconds, self._beep_factory
        listening = Listening(tap, classifier, max_seconds, on_heard, beeps, verdict_due=amd)
        listening.greeting_over = partial(self._greeting_over, call_id)
        self._listenings[call_id] = listening

    def _stop_listening(self, call_id: CallId) -> None:
        listening = self._listenings.pop(call_id, None)
        if listening is not None:
            listening.close()

    def _greeting_over(self, call_id: CallId, why: str) -> None:
        """A machine's greeting ended: play the message waiting for it, if any."""
        self._listenings.pop(call_id, None)
        announcement = self._after_greeting.pop(call_id, None)
        log.info("sip %s: the machine's greeting is over (%s)", call_id, why)
        if announcement is not None and call_id in self._phases:
            note = f" (after the greeting: {why})"
            announcing = self._announce(call_id, announcement, note)
            task = asyncio.get_running_loop().create_task(announcing)
            self._writing.add(task)
            task.add_done_callback(self._writing.discard)

    def _heard(self, call_id: CallId, heard: Heard) -> None:
        listening = self._listenings.get(call_id)
        if listening is not None and listening.closed:
            del self._listenings[call_id]
        if call_id not in self._phases:
            return
        log.info("sip %s: heard %s (%s)", call_id, heard.what, heard.detail)
        if heard.what in _TONE_ENDINGS:  # the number reaches no person: it is invalid
            cause, why = _TONE_ENDINGS[heard.what]
            detail = f"{heard.detail}: {why}"
            self._send(self._running().end_as, call_id, CallEventKind.INVALID_NUMBER, cause, detail)
        elif heard.what == "machine":
            self._deliver(call_id, CallEventKind.ANSWERED_MACHINE, 200, None, heard.detail, None)
        else:
            ended = _greeting_ended_at(listening, heard)
            self._deliver(
                call_id, CallEventKind.ANSWERED_HUMAN, 200, None, heard.detail, None, ended
            )

    def _deliver(
        self,
        call_id: CallId,
        kind: CallEventKind,
        status: int | None,
        cause: int | None,
        detail: str,
        agent_id: str | None,
        greeting_ended_at: datetime | None = None,
    ) -> None:
        if call_id not in self._phases:
            return
        now = self.clock.now()
        event = CallEvent(call_id, kind, now, status, cause, agent_id, detail, greeting_ended_at)
        if event.final:
            del self._phases[call_id]
            self._after_greeting.pop(call_id, None)
            self._amd_calls.discard(call_id)
            self._stop_listening(call_id)
            self._last_final = asyncio.get_running_loop().time()
            log.info("sip %s ended: %s sip=%s q850=%s %s", call_id, kind, status, cause, detail)
        elif kind in _PHASE_AFTER:
            self._phases[call_id] = _PHASE_AFTER[kind]
        self._tell_listening(call_id, kind, now)
        if kind is CallEventKind.AGENT_NO_ANSWER:
            log.warning("sip %s: agent %s did not answer: %s", call_id, agent_id, detail)
        spool = self._spools.pop(call_id, None) if event.final else None
        if spool is None:
            self._queue.put_nowait(event)
            return
        task = asyncio.get_running_loop().create_task(self._write_recording(event, spool))
        self._writing.add(task)
        task.add_done_callback(self._writing.discard)

    async def _write_recording(self, final: CallEvent, spool: Spool) -> None:
        """Decode the call's pcap into a WAV, hand it to the store, then send the final event."""
        store = self._audio_store
        try:
            if store is None:
                raise RecordingError("no recording store is set on this backend")
            assert self.options.recording_dir is not None
            wav = Path(self.options.recording_dir) / "wav" / f"{uuid.uuid4().hex}.wav"
            await asyncio.to_thread(write_stereo_wav, spool, wav)
            store.store_audio(final.call_id, wav, datetime.fromtimestamp(spool.started, UTC))
        except Exception as exc:  # whatever went wrong, the call's final event must go out
            problem = f"recording failed: {type(exc).__name__}: {exc}"
            log.warning("sip %s: %s", final.call_id, problem)
            detail = f"{final.detail}; {problem}" if final.detail else problem
            final = dataclasses.replace(final, detail=detail)
        self._queue.put_nowait(final)

    def _tell_listening(self, call_id: CallId, kind: CallEventKind, at: datetime) -> None:
        """The answer starts the classifier's time; a bridged agent has replaced the tap."""
        listening = self._listenings.get(call_id)
        if listening is None:
            return
        if kind is CallEventKind.ANSWERED:
            listening.answered(at)
        elif kind is CallEventKind.BRIDGED:
            self._stop_listening(call_id)

    # -- helpers

    def _running(self) -> SipController:
        if self._controller is None:
            raise CallStateError("the sip telephony backend is not running")
        return self._controller

    def _send(self, work: Any, *args: object) -> None:
        assert self._thread is not None
        self._thread.call(work, *args)

    def _new_id(self) -> CallId:
        self._issued = next(self._ids) + 1
        return CallId(f"{CALL_ID_PREFIX}{self._issued - 1}")

    def _phase(self, call_id: CallId) -> Phase | None:
        phase = self._phases.get(call_id)
        if phase is None and not self._was_issued(call_id):
            raise UnknownCallError(f"no call {call_id!r} on this sip backend")
        return phase

    def _was_issued(self, call_id: str) -> bool:
        number = call_id.removeprefix(CALL_ID_PREFIX)
        is_ours = call_id.startswith(CALL_ID_PREFIX) and number.isdigit()
        return is_ours and int(number) < self._issued

    def _from_user(self, request: OriginateRequest) -> str:
        return self.options.caller_id or request.caller_id

    def _timers(self, request: OriginateRequest) -> Timers:
        options = self.options
        return Timers(
            ring_timeout=max(request.ring_timeout, options.min_ring_timeout),
            agent_ring_timeout=options.agent_ring_timeout,
            trunk_response_timeout=options.trunk_response_timeout,
            keepalive_interval=options.keepalive_interval,
            keepalive_timeout=options.keepalive_timeout,
            announcement_max_seconds=options.announcement_max_seconds,
            agent_lost_within=request.agent_lost_within,
        )

    async def _customer_target(self, request: OriginateRequest) -> Target:
        host, port = self.options.trunk_for(request.number)
        address = await self._address(host)
        user = self.options.dialled_user(request.number)
        return Target(user, host, port, (address or host, port))

    async def _agent_target(self, agent: AgentEndpoint) -> tuple[Target | None, str]:
        uri = self.options.agents.get(agent.id, agent.sip_uri)
        try:
            user, host, port = parse_sip_uri(uri)
        except ValueError as exc:
            return None, f"agent {agent.id}: {exc}"
        hop_host, hop_port = host, port
        if self.options.agent_proxy is not None:
            hop_host, hop_port = split_host_port(self.options.agent_proxy)
        address = await self._address(hop_host)
        if address is None:
            return None, f"agent {agent.id}: cannot resolve {hop_host!r} ({uri})"
        return Target(user, host, port, (address, hop_port)), ""

    async def _announcement_target(self, announcement: str) -> Target | None:
        if not announcement.startswith(("sip:", "sips:")):
            return None
        try:
            user, host, port = parse_sip_uri(announcement)
        except ValueError:
            return None
        address = await self._address(host)
        return Target(user, host, port, (address, port)) if address is not None else None

    async def _address(self, host: str, *, startup: bool = False) -> str | None:
        """The IPv4 address of ``host`` (cached); ``None``, or at start-up an error, if none."""
        if host in self._addresses:
            return self._addresses[host]
        assert self._loop is not None
        try:
            infos = await self._loop.getaddrinfo(host, None, family=socket.AF_INET)
        except OSError as exc:
            if startup:
                raise TelephonyError(f"sip backend: cannot resolve trunk {host!r}: {exc}") from exc
            log.warning("sip backend: cannot resolve %r: %s", host, exc)
            return None
        address = str(infos[0][4][0])
        self._addresses[host] = address
        return address


_TONE_ENDINGS = {
    "sit": (UNALLOCATED_NUMBER, "the network says the number cannot be reached"),
    "fax": (INCOMPATIBLE_DESTINATION, "a fax, not a person"),
}


def _greeting_ended_at(listening: Listening | None, heard: Heard) -> datetime | None:
    """When the person's greeting ended, by the clock of the call's ANSWERED event."""
    if listening is None or listening.answered_at is None or heard.greeting_ended_ms is None:
        return None
    return listening.answered_at + timedelta(milliseconds=heard.greeting_ended_ms)


def announcement_file(announcement: str) -> Path:
    """The WAV file rtpengine plays for ``announcement`` (a path, ``file:`` URI, or the default).

    Campaigns are checked when saved (``check_announcement``); a file gone since then falls
    back to the shipped message rather than leaving the customer in silence.
    """
    path = announcement_path(announcement)
    if path is not None and path.is_absolute() and path.is_file():
        return path
    if announcement != DEFAULT_ANNOUNCEMENT:
        log.warning("announcement %r is not a readable file: playing the default", announcement)
    return DEFAULT_ANNOUNCEMENT_FILE


def _headers(request: OriginateRequest) -> dict[str, str]:
    if request.attempt_id is None:
        return {}
    return {"X-Opendialer-Attempt": str(request.attempt_id)}


def create_backend(clock: Clock, options: Mapping[str, Any]) -> SipBackend:
    """Entry point ``sip``: options as :class:`~opendialer.telephony.sip.options.SipOptions`."""
    return SipBackend(clock, load_options(options))
