import asyncio
import time
from datetime import UTC, datetime, timedelta

import pytest

from opendialer.clock import VIRTUAL_EPOCH, Clock, RealClock, VirtualClock, sleep_until


def test_an_eight_hour_sleep_finishes_at_once() -> None:
    clock = VirtualClock()
    started = time.perf_counter()
    clock.run(clock.sleep(8 * 3600))
    assert time.perf_counter() - started < 0.5
    assert clock.monotonic() == 8 * 3600
    assert clock.now() == VIRTUAL_EPOCH + timedelta(hours=8)


def test_concurrent_sleeps_wake_in_time_order() -> None:
    clock = VirtualClock()
    woke: list[tuple[str, float]] = []

    async def sleeper(name: str, seconds: float) -> None:
        await clock.sleep(seconds)
        woke.append((name, clock.monotonic()))

    async def main() -> None:
        await asyncio.gather(
            sleeper("hour", 3600),
            sleeper("second", 1),
            sleeper("minute", 60),
            sleeper("day", 86400),
        )

    clock.run(main())
    assert woke == [("second", 1), ("minute", 60), ("hour", 3600), ("day", 86400)]


def test_callbacks_fire_at_their_virtual_time() -> None:
    clock = VirtualClock()
    fired: list[tuple[str, float]] = []

    async def main() -> None:
        clock.call_later(5, lambda: fired.append(("later", clock.monotonic())))
        clock.call_at(2.5, lambda: fired.append(("at", clock.monotonic())))
        cancelled = clock.call_later(1, lambda: fired.append(("cancelled", clock.monotonic())))
        cancelled.cancel()
        await clock.sleep(10)

    clock.run(main())
    assert fired == [("at", 2.5), ("later", 5)]


def test_the_same_program_gives_the_same_order() -> None:
    def trace() -> list[int]:
        clock = VirtualClock()
        order: list[int] = []

        async def worker(n: int) -> None:
            for step in range(3):
                await clock.sleep((n * 7 + step * 3) % 5)
                order.append(n)

        async def main() -> None:
            await asyncio.gather(*(worker(n) for n in range(20)))

        clock.run(main())
        return order

    assert trace() == trace()


def test_timeouts_and_threads_work_on_virtual_time() -> None:
    clock = VirtualClock()

    async def main() -> tuple[bool, int]:
        timed_out = False
        try:
            async with asyncio.timeout(30):
                await clock.sleep(3600)
        except TimeoutError:
            timed_out = True
        from_thread = await asyncio.to_thread(lambda: 42)
        return timed_out, from_thread

    assert clock.run(main()) == (True, 42)
    assert clock.monotonic() == pytest.approx(30)


def test_sleep_until_a_wall_clock_time() -> None:
    clock = VirtualClock(datetime(2025, 3, 1, 7, 30, tzinfo=UTC))
    clock.run(sleep_until(clock, datetime(2025, 3, 1, 9, 0, tzinfo=UTC)))
    assert clock.now() == datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def test_speed_x_runs_time_faster_than_real() -> None:
    clock = VirtualClock(speed=200)
    started = time.perf_counter()
    clock.run(clock.sleep(10))
    elapsed = time.perf_counter() - started
    assert 0.04 < elapsed < 1.0
    assert clock.monotonic() >= 10


def test_a_virtual_clock_refuses_a_foreign_loop() -> None:
    clock = VirtualClock()
    with pytest.raises(RuntimeError, match="its own loop"):
        asyncio.run(clock.sleep(1))


def test_rejects_naive_start_and_bad_speed() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        VirtualClock(datetime(2025, 1, 1))
    with pytest.raises(ValueError, match="positive"):
        VirtualClock(speed=0)


def test_real_clock_keeps_real_time() -> None:
    clock: Clock = RealClock()
    fired: list[float] = []

    async def main() -> float:
        before = clock.monotonic()
        clock.call_at(before + 0.01, lambda: fired.append(clock.monotonic()))
        await clock.sleep(0.03)
        return clock.monotonic() - before

    assert clock.run(main()) >= 0.03
    assert len(fired) == 1
    assert clock.now().tzinfo is UTC
    assert abs((clock.now() - datetime.now(UTC)).total_seconds()) < 1
