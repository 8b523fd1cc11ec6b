"""The cyclic garbage collector in the long-running server process.

A full collection walks every object the process tracks, and most of them are made once at
start-up (modules, classes, the app's routes and models: about 290,000 objects). Under
``bench/load_mixed.py --probe`` (32 clients, PostgreSQL) full collections ran every 6 s and
paused the event loop, its worker threads and the engine together for 190-570 ms each: about
4 s of pauses a minute, overlapping a fifth of all requests. With CPython's young threshold
(700 allocations) the objects of requests in flight outlive a few young collections and are
promoted, which is what kept triggering the full ones; freezing alone left 2.9 s a minute.
"""

import gc
from collections.abc import Iterator
from contextlib import contextmanager

# Allocations (net of deallocations) between two young collections; CPython's default is 700.
# Measured in the same loaded minute: 10,000 gave 45 collections, 0.3 s of pauses in all, the
# longest 24 ms; 50,000 gave 5 collections of 26-140 ms (the garbage of 50,000 allocations is
# freed at once).
YOUNG_THRESHOLD = 10_000


def settle_after_start_up() -> None:
    """Collect once, move every object alive now out of all future collections (``gc.freeze``:
    they live as long as the process), and collect the young generation every
    ``YOUNG_THRESHOLD`` allocations. Called once the server is built, before it serves."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)


@contextmanager
def start_up_frozen() -> Iterator[None]:
    """While the block runs, the objects alive at its start stay out of every collection
    (``gc.freeze``) and the young generation is collected every ``YOUNG_THRESHOLD``
    allocations; both are given back after. For a command's long run in a process that may go
    on (``opendialer simulate``, which the tests invoke too), whose full collections would
    otherwise walk the 160,000 objects of the imports again and again (in preparing a
    simulation's database: five of them, about 0.5 s). In a process already settled
    (:func:`settle_after_start_up`) what was frozen stays frozen: CPython unfreezes all or
    nothing, and the settled objects live as long as the process anyway."""
    saved = gc.get_threshold()
    settled = gc.get_freeze_count() > 0
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, *saved[1:])
    try:
        yield
    finally:
        gc.set_threshold(*saved)
        if not settled:
            gc.unfreeze()
