"""The server settles the cyclic garbage collector once it is built, and `opendialer simulate`
while it runs (opendialer.collector)."""

import gc
from collections.abc import Iterator

import pytest

from opendialer.collector import YOUNG_THRESHOLD, settle_after_start_up, start_up_frozen


@pytest.fixture
def restored_collector() -> Iterator[None]:
    threshold = gc.get_threshold()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)


def _in_a_generation(target: object) -> bool:
    return any(candidate is target for candidate in gc.get_objects())


@pytest.mark.usefixtures("restored_collector")
def test_what_lives_at_start_up_is_left_out_of_every_later_collection() -> None:
    made_at_start_up: list[list[int]] = [[]]  # a container: the collector tracks it
    assert _in_a_generation(made_at_start_up)

    settle_after_start_up()

    assert gc.is_tracked(made_at_start_up)
    assert not _in_a_generation(made_at_start_up)  # frozen: no generation walks it
    assert gc.get_freeze_count() > 0
    made_later: list[list[int]] = [[]]
    assert _in_a_generation(made_later)


@pytest.mark.usefixtures("restored_collector")
def test_the_young_generation_is_collected_less_often_and_the_older_as_before() -> None:
    _, middle, old = gc.get_threshold()

    settle_after_start_up()

    assert gc.get_threshold() == (YOUNG_THRESHOLD, middle, old)
    assert YOUNG_THRESHOLD > 700  # CPython's default


@pytest.mark.usefixtures("restored_collector")
def test_a_run_leaves_the_start_up_out_while_it_runs_and_gives_it_back() -> None:
    made_at_start_up: list[list[int]] = [[]]
    before = gc.get_threshold()

    with start_up_frozen():
        assert not _in_a_generation(made_at_start_up)
        assert gc.get_threshold() == (YOUNG_THRESHOLD, *before[1:])
        made_in_the_run: list[list[int]] = [[]]
        assert _in_a_generation(made_in_the_run)

    assert _in_a_generation(made_at_start_up)  # collected again, as before the run
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == before


@pytest.mark.usefixtures("restored_collector")
def test_a_failed_run_gives_the_collector_back_too() -> None:
    before = gc.get_threshold()
    with pytest.raises(RuntimeError), start_up_frozen():
        raise RuntimeError("the run failed")
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == before


@pytest.mark.usefixtures("restored_collector")
def test_a_run_in_a_settled_process_leaves_the_settled_objects_frozen() -> None:
    settled_object: list[list[int]] = [[]]
    settle_after_start_up()
    settled = gc.get_threshold()

    with start_up_frozen():
        pass

    assert not _in_a_generation(settled_object)  # the server's settling is not undone
    assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == settled
