"""A real server killed with SIGKILL at random moments: after a restart nothing stays stuck.

Each kill hits the real ``opendialer demo`` process (sim telephony, simulated agents) while it
dials. The restarted server either has the same engine id (it closes its own leftovers at start)
or a new one (it takes over once the dead engine's 3 s lease has run out). After each restart:
no attempt from before it is open, no contact is in a call that is not up, no agent is busy since
before it, and the campaign dials again. ``bench/crash_recovery.py`` does the same 20+ times.
"""

import random
from pathlib import Path

from bench.crash_harness import DemoServer, KillResult, kill_and_restart
from sqlalchemy import create_engine

from opendialer.db import SessionMaker, unit_of_work
from opendialer.models import EngineLease

# (engine that is killed, engine that restarts): twice the same, then a different one
RESTARTS = (("crash-a", "crash-a"), ("crash-a", "crash-a"), ("crash-a", "crash-b"))


def test_sigkill_at_random_moments_leaves_nothing_stuck(
    database_url: str, sessions: SessionMaker, tmp_path: Path
) -> None:
    db = create_engine(database_url)
    server = DemoServer(database_url, tmp_path)
    rng = random.Random(17)
    results: list[KillResult] = []
    server.start(RESTARTS[0][0])
    try:
        for engine_id, next_engine_id in RESTARTS:
            result = kill_and_restart(
                server, db, rng, engine_id=engine_id, next_engine_id=next_engine_id
            )
            assert result.stuck.recovered, (engine_id, next_engine_id, result)
            results.append(result)
    finally:
        server.kill()
        db.dispose()
    assert sum(r.left_open for r in results) > 0  # the kills did leave calls to recover
    with unit_of_work(sessions) as session:
        assert session.get(EngineLease, "crash-a") is None  # taken over by crash-b
        assert session.get(EngineLease, "crash-b") is not None
