"""Background tasks that live as long as a block (the engine, the outbox sender, the ACD loop)."""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Coroutine
from typing import Any


async def cancel_and_wait(task: "asyncio.Future[Any]") -> None:
    """Cancel ``task`` and wait until it has really stopped."""
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


@contextlib.asynccontextmanager
async def running(coroutine: Coroutine[Any, Any, None]) -> AsyncIterator[None]:
    """Run ``coroutine`` as a task while the block runs; cancel it and wait for it at the end."""
    task = asyncio.create_task(coroutine)
    try:
        yield
    finally:
        await cancel_and_wait(task)
