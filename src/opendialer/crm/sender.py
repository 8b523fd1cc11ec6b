"""The background sender: claims due outbox messages, posts them, records each result.

At-least-once: a message is marked delivered only after the CRM answered 2xx. A sender that
dies mid-delivery leaves its messages "delivering" with a lease; when the lease runs out any
sender (the restarted one, or another process) claims them again. Receivers de-duplicate by the
delivery id (webhooks) or by their own key (MiniCRM answers a repeat with ``Exists``).
The database work runs in a thread, so neither a slow CRM nor the database blocks the engine.
"""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import httpx

from opendialer import __version__
from opendialer.clock import Clock, RealClock
from opendialer.config import Settings
from opendialer.crm import service
from opendialer.crm.payloads import Outgoing, Plan, plan_requests
from opendialer.db import SessionMaker, unit_of_work
from opendialer.tasks import running

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Result:
    request: Outgoing
    status_code: int | None
    error: str | None  # None: delivered


def retry_policy(settings: Settings) -> service.RetryPolicy:
    return service.RetryPolicy(
        base_seconds=settings.outbox_retry_base_seconds,
        max_seconds=settings.outbox_retry_max_seconds,
        max_attempts=settings.outbox_max_attempts,
    )


class OutboxSender:
    def __init__(
        self,
        sessions: SessionMaker,
        settings: Settings,
        clock: Clock,
        *,
        batch_size: int = 500,
        concurrency: int = 8,
    ) -> None:
        self.sessions = sessions
        self.settings = settings
        self.clock = clock
        self.batch_size = batch_size
        self.policy = retry_policy(settings)
        self._limit = asyncio.Semaphore(concurrency)
        self._client: httpx.AsyncClient | None = None

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                timeout=self.settings.outbox_http_timeout_seconds,
                headers={"User-Agent": f"opendialer/{__version__}"},
                follow_redirects=False,
            )
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def serve(self) -> None:
        """Send until cancelled; idle between polls only when nothing was due."""
        try:
            while True:
                try:
                    claimed = await self.run_once()
                except Exception:  # a database hiccup must not end the sender
                    log.exception("outbox round failed")
                    claimed = 0
                if claimed == 0:
                    await self.clock.sleep(self.settings.outbox_poll_seconds)
        finally:
            await self.aclose()

    async def run_once(self) -> int:
        """One round: claim what is due, send it, record the results; returns the count claimed."""
        claimed, plan = await asyncio.to_thread(self._claim_and_plan)
        if plan.unsendable:
            await asyncio.to_thread(self._dead_letter, plan.unsendable)
        results = await asyncio.gather(*(self._send(r) for r in plan.requests))
        if results:
            await asyncio.to_thread(self._record, results)
        return claimed

    def _claim_and_plan(self) -> tuple[int, Plan]:
        lease = timedelta(seconds=self.settings.outbox_lease_seconds)
        with unit_of_work(self.sessions, immediate=True) as session:
            messages = service.claim_due(session, self.clock.now(), self.batch_size, lease)
        if not messages:
            return 0, Plan()
        with self.sessions() as session:
            return len(messages), plan_requests(session, self.settings, messages)

    def _dead_letter(self, unsendable: dict[int, str]) -> None:
        with unit_of_work(self.sessions, immediate=True) as session:
            for message_id, reason in unsendable.items():
                service.mark_failed(
                    session,
                    [message_id],
                    self.clock.now(),
                    reason,
                    None,
                    self.policy,
                    permanent=True,
                )

    async def _send(self, request: Outgoing) -> Result:
        async with self._limit:
            try:
                response = await self.client.post(
                    request.url, content=request.body, headers=request.headers
                )
            except httpx.TimeoutException:
                timeout = self.settings.outbox_http_timeout_seconds
                return Result(request, None, f"timed out after {timeout:g} s")
            except httpx.HTTPError as exc:
                return Result(request, None, f"{type(exc).__name__}: {exc}")
        if response.is_success:
            return Result(request, response.status_code, None)
        return Result(
            request, response.status_code, f"HTTP {response.status_code}: {response.text[:500]}"
        )

    def _record(self, results: list[Result]) -> None:
        now = self.clock.now()
        with unit_of_work(self.sessions, immediate=True) as session:
            for result in results:
                ids = result.request.message_ids
                if result.error is None:
                    service.mark_delivered(session, ids, now, result.status_code)
                else:
                    log.warning("delivery to %s failed: %s", result.request.url, result.error)
                    service.mark_failed(
                        session, ids, now, result.error, result.status_code, self.policy
                    )


@contextlib.asynccontextmanager
async def outbox_sender(
    sessions: SessionMaker, settings: Settings
) -> AsyncIterator[OutboxSender | None]:
    """Run the sender for the app's lifetime when ``settings.outbox_active``; the sender."""
    if not settings.outbox_active:
        yield None
        return
    sender = OutboxSender(sessions, settings, RealClock())
    async with running(sender.serve()):
        yield sender
