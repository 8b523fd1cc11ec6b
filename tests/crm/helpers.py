"""A real HTTP receiver on 127.0.0.1 that fails on cue, a hand-driven clock, and arranging
finished call attempts through the engine's own ``finish_attempt``."""

import asyncio
import json
import threading
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from opendialer.accounts.service import NewTenant
from opendialer.engine.outcomes import Ending, finish_attempt
from opendialer.models import CallAttempt, CallOutcome, Campaign, Contact, User
from tests.engine.helpers import NOW, make_campaign, make_contact
from tests.factories import make_attempt

T = TypeVar("T")


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """Answers each request by the next cue: an int status, "hang" (answer after the client
    gave up), or "hold" (answer only when ``release`` is set); then 200 when out of cues."""

    cues: dict[str, list[int | str]] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    hang_seconds: float = 1.0
    lock: threading.Lock = field(default_factory=threading.Lock)
    port: int = 0

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def answer(self, path: str, headers: dict[str, str], body: bytes) -> int | str:
        with self.lock:
            self.received.append(Received(path, headers, body))
            cues = self.cues.get(path, [])
            return cues.pop(0) if cues else 200

    def bodies(self, path: str) -> list[Any]:
        with self.lock:
            return [r.json() for r in self.received if r.path == path]


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            cue = receiver.answer(self.path, dict(self.headers.items()), body)
            if cue == "hang":
                receiver.release.wait(receiver.hang_seconds)
                cue = 200
            elif cue == "hold":
                receiver.release.wait(30)
                cue = 200
            assert isinstance(cue, int)
            payload = b'{"Skipped":0,"Processed":1,"Exists":0}'
            try:
                self.send_response(cue)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the sender gave up (timeout) or died (restart test)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def running_receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(receiver))
    server.daemon_threads = True
    receiver.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.release.set()
        server.shutdown()
        server.server_close()


class ManualClock:
    """Wall time moves only when the test says so; sleeps just yield to the loop."""

    def __init__(self, start: datetime) -> None:
        self.at = start

    def now(self) -> datetime:
        return self.at

    def advance(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)

    def monotonic(self) -> float:
        return self.at.timestamp()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(0.01)

    def call_later(self, delay: float, callback: Callable[[], object]) -> asyncio.TimerHandle:
        return asyncio.get_running_loop().call_later(0, callback)

    def call_at(self, when: float, callback: Callable[[], object]) -> asyncio.TimerHandle:
        return asyncio.get_running_loop().call_later(0, callback)

    def run(self, main: Coroutine[Any, Any, T]) -> T:
        return asyncio.run(main)


def arrange_campaign(session: Session, tenant: NewTenant) -> tuple[Campaign, User]:
    campaign = make_campaign(session, tenant)
    agent = User(tenant_id=tenant.tenant.id, username="agent7", extension="007")
    session.add(agent)
    session.flush()
    return campaign, agent


def finished_call(
    session: Session,
    campaign: Campaign,
    number: str,
    *,
    agent: User | None = None,
    talk_seconds: int = 30,
    started: datetime = NOW,
) -> tuple[CallAttempt, Contact]:
    """A dial that the engine closes with ``finish_attempt`` (answered when an agent is given)."""
    contact = make_contact(session, campaign, number)
    attempt = make_attempt(
        session,
        campaign.tenant_id,
        campaign_id=campaign.id,
        contact_id=contact.id,
        phone_position=1,
        b_number=number,
        started_at=started,
    )
    answered = started + timedelta(seconds=12)
    if agent is None:
        ending = Ending(CallOutcome.NO_ANSWER, at=started + timedelta(seconds=30))
    else:
        ending = Ending(
            CallOutcome.CONNECTED,
            at=answered + timedelta(seconds=talk_seconds),
            answered_at=answered,
            connected_at=answered,
            user_id=agent.id,
        )
    finish_attempt(session, campaign, attempt, ending)
    return attempt, contact
