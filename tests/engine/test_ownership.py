"""The rules of campaign ownership: fair shares, take-over of expired leases, giving back."""

from datetime import UTC, datetime, timedelta

from opendialer.engine.ownership import Lease, fair_share, plan

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
HELD = NOW + timedelta(seconds=20)
EXPIRED = NOW - timedelta(seconds=1)


def test_a_lone_engine_takes_every_enabled_campaign() -> None:
    wanted = plan("a", {1, 2, 3}, {}, set(), NOW)
    assert sorted(wanted.take) == [1, 2, 3]
    assert wanted.give_back == []


def test_engines_take_no_more_than_their_fair_share() -> None:
    assert fair_share(5, 2) == 3
    assert fair_share(0, 3) == 0
    wanted = plan("b", {1, 2, 3, 4, 5}, {1: Lease("a", HELD)}, {"a", "b"}, NOW)
    assert len(wanted.take) == 3
    assert 1 not in wanted.take


def test_an_expired_lease_is_taken_and_a_held_one_is_not() -> None:
    leases = {1: Lease("dead", EXPIRED), 2: Lease("a", HELD)}
    wanted = plan("b", {1, 2}, leases, {"a", "b"}, NOW)
    assert wanted.take == [1]


def test_a_dead_engine_no_longer_counts_in_the_share() -> None:
    leases = {c: Lease("dead", EXPIRED) for c in (1, 2, 3, 4)}
    wanted = plan("b", {1, 2, 3, 4}, leases, {"b"}, NOW)
    assert sorted(wanted.take) == [1, 2, 3, 4]


def test_an_engine_with_two_more_than_another_gives_one_back() -> None:
    leases = {1: Lease("a", HELD), 2: Lease("a", HELD), 3: Lease("b", HELD), 4: Lease("b", HELD)}
    wanted = plan("a", {1, 2, 3, 4}, leases, {"a", "b", "c"}, NOW)  # c holds none: takes 2
    assert wanted.give_back == [2]
    assert wanted.keep == [1]


def test_shares_that_differ_by_one_are_stable() -> None:
    leases = {1: Lease("a", HELD), 2: Lease("a", HELD), 3: Lease("b", HELD)}
    assert plan("a", {1, 2, 3}, leases, {"a", "b"}, NOW).give_back == []
    assert plan("b", {1, 2, 3}, leases, {"a", "b"}, NOW).take == []


def test_a_lone_engine_keeps_all_it_holds() -> None:
    leases = {c: Lease("a", HELD) for c in (1, 2, 3)}
    wanted = plan("a", {1, 2, 3}, leases, {"a"}, NOW)
    assert wanted.keep == [1, 2, 3]
    assert wanted.give_back == []


def test_a_campaign_no_longer_enabled_is_given_back() -> None:
    leases = {1: Lease("a", HELD), 2: Lease("a", HELD)}
    wanted = plan("a", {1}, leases, {"a"}, NOW)
    assert wanted.give_back == [2]
    assert wanted.keep == [1]


def test_an_engine_far_above_its_share_gives_the_excess_back_at_once() -> None:
    leases = {c: Lease("a", HELD) for c in range(1, 7)}
    wanted = plan("a", set(range(1, 7)), leases, {"a", "b", "c"}, NOW)
    assert wanted.keep == [1, 2]
    assert wanted.give_back == [3, 4, 5, 6]
