"""The bench's contact list: a finite list with retries, the 72 h rule and refills.

Times are seconds on the bench's clock, which runs across days (day ``d`` starts at
``d * 86 400``), so a contact rested until tomorrow or for 72 h after an abandon comes back on
the right day. Dials take the contact due longest ago first, as the engine's queue does.
"""

import enum
from bisect import bisect_right, insort
from dataclasses import dataclass, field

from opendialer.telephony.campaign_scenario import ContactListSpec
from opendialer.telephony.sim_scenario import second_of_day

DAY = 86_400.0
ABANDON_REST = 72 * 3600.0
SOON = 600.0
"""The pacing snapshot's "dialable soon": within the next 10 minutes."""


class Outcome(enum.Enum):
    REACHED = enum.auto()  # a person talked to an agent: done
    UNREACHED = enum.auto()  # no answer, busy, a machine: try again later
    ABANDONED = enum.auto()  # the dialer left the answer waiting: rest 72 h


@dataclass(slots=True)
class _Contact:
    tries: int = 0
    abandoned_at: float | None = None


@dataclass
class ContactList:
    spec: ContactListSpec
    contacts: list[_Contact] = field(default_factory=list)
    _due: list[tuple[float, int]] = field(default_factory=list)
    """(next try, contact) of every contact still to dial, in order."""
    redials: int = 0
    """Dials of a contact within 72 h of its abandoned call (a compliance violation)."""

    def __post_init__(self) -> None:
        self.add(self.spec.size, 0.0)

    def add(self, count: int, at: float) -> None:
        for _ in range(count):
            self.contacts.append(_Contact())
            self._due.append((at, len(self.contacts) - 1))
        self._due.sort()

    def refill(self, day: int, since: float, until: float) -> None:
        """Add the day's refills whose time of day falls in [since, until)."""
        for clock, count in self.spec.refills.items():
            at = day * DAY + second_of_day(clock)
            if since <= at < until:
                self.add(count, at)

    def dialable(self, now: float) -> int:
        return bisect_right(self._due, (now, float("inf")))

    def soon(self, now: float) -> int:
        return self.dialable(now + SOON)

    def take(self, now: float) -> tuple[int, int] | None:
        """The contact due longest ago and its try number, or None if none is due."""
        if not self._due or self._due[0][0] > now:
            return None
        _, index = self._due.pop(0)
        contact = self.contacts[index]
        if contact.abandoned_at is not None and now - contact.abandoned_at < ABANDON_REST:
            self.redials += 1
        contact.tries += 1
        return index, contact.tries - 1

    def finish(self, index: int, outcome: Outcome, at: float) -> None:
        """Retry an unreached contact later, rest an abandoned one 72 h, drop a reached one."""
        contact = self.contacts[index]
        if outcome is Outcome.REACHED or contact.tries >= self.spec.max_tries:
            return
        if outcome is Outcome.ABANDONED:
            contact.abandoned_at = at
            insort(self._due, (at + ABANDON_REST, index))
        else:
            insort(self._due, (at + self.spec.retry_after, index))
