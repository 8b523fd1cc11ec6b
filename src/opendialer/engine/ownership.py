"""Who paces which campaign when several engines share one database: the rules, no I/O.

Two engines pacing one campaign would each dial for the same agents and together overshoot the
abandonment cap, so a campaign is paced by exactly one engine: the holder of its lease
(``campaign_leases``, one row per campaign, see ``campaign_leases.py`` for the statements).
Each engine, every third of a lease, looks at the enabled campaigns, the leases and the live
engines, and :func:`plan` says what it takes, keeps and gives back:

- a campaign whose lease is free or ran out (its holder died) is taken, while this engine holds
  fewer than its fair share (enabled campaigns ÷ live engines, rounded up);
- an engine that holds more than its fair share gives the excess back, and one that holds two
  or more more than the least loaded live engine gives one back (it stops dialling it, lets
  its calls end, then deletes the lease), so a newly started engine gets its share within a
  few rounds and the shares differ by at most one;
- a campaign that is no longer enabled is given back.
"""

import math
from collections import Counter
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Lease:
    engine_id: str
    lease_until: datetime

    def expired(self, now: datetime) -> bool:
        return self.lease_until < now


@dataclass(frozen=True, slots=True)
class Plan:
    take: list[int] = field(default_factory=list)  # free or expired leases to acquire
    keep: list[int] = field(default_factory=list)  # held and still wanted: renew
    give_back: list[int] = field(default_factory=list)  # stop dialling, release once idle


def fair_share(campaigns: int, engines: int) -> int:
    """The most campaigns one engine should hold."""
    return math.ceil(campaigns / max(engines, 1))


def plan(
    me: str,
    enabled: Collection[int],
    leases: Mapping[int, Lease],
    live_engines: Collection[str],
    now: datetime,
) -> Plan:
    """What engine ``me`` does this round. ``live_engines``: engines whose own lease holds."""
    engines = set(live_engines) | {me}
    mine = sorted(c for c, lease in leases.items() if lease.engine_id == me)
    give_back = [c for c in mine if c not in enabled]
    keep = [c for c in mine if c in enabled]
    share = fair_share(len(enabled), len(engines))
    free = [c for c in sorted(enabled) if c not in leases or leases[c].expired(now)]
    free = [c for c in free if c not in keep]
    take = _spread(me, free)[: max(share - len(keep), 0)]
    least = _least_held(leases, engines - {me}, now)
    if not take and least is not None:
        excess = max(len(keep) - share, 1 if len(keep) - least >= 2 else 0)
        give_back += keep[len(keep) - excess :]
        keep = keep[: len(keep) - excess]
    return Plan(take=take, keep=keep, give_back=give_back)


def _least_held(leases: Mapping[int, Lease], others: set[str], now: datetime) -> int | None:
    """How many campaigns the least loaded other live engine holds; None when alone."""
    held = Counter(lease.engine_id for lease in leases.values() if not lease.expired(now))
    return min((held.get(engine, 0) for engine in others), default=None)


def _spread(me: str, free: list[int]) -> list[int]:
    """Engines starting together try the free campaigns in different orders, so fewer of their
    acquisitions collide (a collision is harmless: the database lets one win)."""
    if not free:
        return free
    start = sum(me.encode()) % len(free)
    return free[start:] + free[:start]
