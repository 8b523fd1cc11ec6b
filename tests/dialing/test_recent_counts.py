"""The live view's counts are reused for a moment, then counted again."""

from opendialer.dialing.recent_counts import CampaignCounts, RecentCounts
from opendialer.dialing.schemas import ContactCounts, Rates


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def counts(pending: int) -> CampaignCounts:
    rates = Rates(attempts=0, live_answers=0, abandoned=0, answer_rate=None, abandonment=None)
    contacts = ContactCounts(pending=pending, due=pending, in_call=0, done=0, locked=0)
    return CampaignCounts(contacts, rates, rates)


def test_counts_are_reused_within_their_lifetime_then_counted_again() -> None:
    clock = Clock()
    recent = RecentCounts(1.0, clock)
    assert recent.get(7, lambda: counts(1)).contacts.pending == 1
    clock.now += 0.9
    assert recent.get(7, lambda: counts(2)).contacts.pending == 1
    assert recent.get(8, lambda: counts(3)).contacts.pending == 3  # another campaign's own
    clock.now += 0.1
    assert recent.get(7, lambda: counts(4)).contacts.pending == 4
    assert recent.get(7, lambda: counts(5)).contacts.pending == 4


def test_a_lifetime_of_zero_counts_every_time() -> None:
    recent = RecentCounts(0.0, Clock())
    assert recent.get(7, lambda: counts(1)).contacts.pending == 1
    assert recent.get(7, lambda: counts(2)).contacts.pending == 2


def test_forgotten_counts_are_counted_again() -> None:
    recent = RecentCounts(60.0, Clock())
    recent.get(7, lambda: counts(1))
    recent.forget()
    assert recent.get(7, lambda: counts(2)).contacts.pending == 2
