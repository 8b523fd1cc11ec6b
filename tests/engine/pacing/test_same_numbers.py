"""The predictive policy's look, computed with fewer copies (session 15), gives the very same
floating-point numbers as before, bit for bit, so no decision can move: the code it replaced is
kept here as the reference, and both run on many random tables, ages and horizons (the signs of
zeros and NaNs compared too, through the arrays' bytes). The one exception is the talk-then-wrap
chance from a kept convolution (session 18): a sum in another order, equal to the direct
(ages x horizons x bins) sum it replaced within 1e-12."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opendialer.engine.pacing.base import PacingSnapshot
from opendialer.engine.pacing.estimators import Convolution, FloatArray, SurvivalTable
from opendialer.engine.pacing.predictive import PredictivePolicy


def _reference_at_many(table: SurvivalTable, x: FloatArray) -> FloatArray:
    index = (np.maximum(x, 0.0) / table.step).astype(np.intp)
    np.minimum(index, len(table.cdf) - 1, out=index)
    result: FloatArray = table.cdf[index]
    return result


def _reference_ends_within(
    table: SurvivalTable, ages: FloatArray, horizons: FloatArray, then: SurvivalTable | None
) -> FloatArray:
    alive = 1.0 - _reference_at_many(table, ages)
    if then is None:
        ended = (
            _reference_at_many(table, ages[:, None] + horizons[None, :]) - (1.0 - alive)[:, None]
        )
        mean = table.mean
    else:
        u, mass = then.masses(horizons)
        shifted = ages[:, None, None] + horizons[None, :, None] - u[None, None, :]
        ends = _reference_at_many(table, shifted)
        ended = np.einsum("ahu,hu->ah", ends - (1.0 - alive)[:, None, None], mass)
        mean = table.mean + then.mean
    known = alive > 1e-9
    chance = ended / np.where(known, alive, 1.0)[:, None]
    fallback = np.minimum(horizons / max(mean, 1.0), 1.0)
    result: FloatArray = np.clip(np.where(known[:, None], chance, fallback[None, :]), 0.0, 1.0)
    return result


def _reference_in_flight(
    policy: PredictivePolicy, ages: FloatArray, p: float, human: SurvivalTable, taus: FloatArray
) -> tuple[FloatArray, FloatArray]:
    answered = _reference_at_many(human, ages)
    other = _reference_at_many(policy.other_ring.table(), ages)
    alive = np.maximum(p * (1.0 - answered) + (1.0 - p) * (1.0 - other), 1e-9)
    later = _reference_at_many(human, ages[:, None] + taus[None, :])
    chance = np.clip(p * (later - answered[:, None]) / alive[:, None], 0.0, 1.0)
    return chance.sum(axis=0), (chance * (1.0 - chance)).sum(axis=0)


@st.composite
def tables(draw: st.DrawFn) -> SurvivalTable:
    """A distribution on a grid: steps of 1 (durations) and not (ring times), mass anywhere,
    including all of it early (agents past the grid's mass: the fallback)."""
    step = draw(st.sampled_from([1.0, 0.25, 0.5, 3.0]))
    masses = draw(st.lists(st.floats(0.0, 10.0), min_size=1, max_size=120))
    total = sum(masses) or 1.0
    cdf = np.minimum(np.cumsum(np.array(masses)) / total, 1.0)
    cdf[-1] = 1.0
    mean = draw(st.floats(0.0, 500.0))
    return SurvivalTable(step, cdf, mean)


def _values(low: float, high: float, size: int) -> st.SearchStrategy[FloatArray]:
    edges = st.sampled_from([0.0, -0.0, 0.5, 1.0, 2.75, 1e-12])
    return st.lists(st.floats(low, high) | edges, min_size=0, max_size=size).map(
        lambda xs: np.array(xs, dtype=np.float64)
    )


def _same(a: FloatArray, b: FloatArray) -> bool:
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


@settings(max_examples=400, deadline=None)
@given(tables(), _values(-5.0, 400.0, 40))
def test_at_many_is_bit_for_bit_the_same(table: SurvivalTable, x: FloatArray) -> None:
    assert _same(table.at_many(x), _reference_at_many(table, x))
    grid = x[:, None] + x[None, :]
    assert _same(table.at_many_consuming(grid.copy()), _reference_at_many(table, grid))


@settings(max_examples=400, deadline=None)
@given(tables(), tables(), _values(0.0, 300.0, 25), _values(0.0, 40.0, 8), st.booleans())
def test_ends_within_is_bit_for_bit_the_same(
    table: SurvivalTable, then: SurvivalTable, ages: FloatArray, raw: FloatArray, chained: bool
) -> None:
    horizons = np.sort(np.abs(raw)) if len(raw) else np.array([2.0])
    following = then if chained else None
    if following is not None:  # the bins of what follows cover the horizons (a 4 h grid does)
        horizons = np.minimum(horizons, then.step * (len(then.cdf) - 1))
    new = table.ends_within(ages, horizons, following)
    reference = _reference_ends_within(table, ages, horizons, following)
    if following is not None and following.step == table.step:  # the kept convolution
        assert np.allclose(new, reference, rtol=0.0, atol=1e-12)
    else:
        assert _same(new, reference)


def _random_table(rng: np.random.Generator, step: float, bins: int, mean: float) -> SurvivalTable:
    """Mass in about half the bins, so some ages have no call left alive."""
    masses = rng.random(bins) * (rng.random(bins) < 0.5)
    masses[0] += 1e-3
    cdf = np.minimum(np.cumsum(masses) / masses.sum(), 1.0)
    cdf[-1] = 1.0
    return SurvivalTable(step, cdf, mean)


@pytest.mark.parametrize("step", [1.0, 0.25, 3.0, 0.7])
def test_the_kept_convolution_is_the_direct_sum(step: float) -> None:
    """Random tables, ages (0, past the grid, past the last mass: the fallback) and horizons
    (below one step, between steps): the gather from the kept convolution gives the direct
    (ages x horizons x bins) sum's chances."""
    rng = np.random.default_rng(int(step * 100))
    fallback = known = 0
    for _ in range(50):
        talk = _random_table(rng, step, int(rng.integers(1, 150)), 60.0)
        wrap = _random_table(rng, step, int(rng.integers(2, 60)), 15.0)
        grid_end = step * len(talk.cdf)
        ages = np.concatenate([rng.random(40) * 1.2 * grid_end, [0.0, grid_end, 3 * grid_end]])
        horizons = np.sort(np.concatenate([rng.random(5) * 12 * step, [0.3 * step, step]]))
        horizons = np.minimum(horizons, step * (len(wrap.cdf) - 1))
        chance = talk.ends_within(ages, horizons, then=wrap)
        reference = _reference_ends_within(talk, ages, horizons, wrap)
        assert np.allclose(chance, reference, rtol=0.0, atol=1e-12)
        alive = 1.0 - _reference_at_many(talk, ages)
        fallback += int((alive <= 1e-9).sum())
        known += int((alive > 1e-9).sum())
    assert fallback > 50 and known > 1000  # both sides of the fallback were tried


def test_the_convolution_is_kept_for_the_same_tables_and_horizons() -> None:
    rng = np.random.default_rng(7)
    talk, wrap = _random_table(rng, 1.0, 100, 60.0), _random_table(rng, 1.0, 30, 15.0)
    ages, horizons = rng.random(10) * 100, np.array([2.0, 5.0, 9.0])
    talk.ends_within(ages, horizons, then=wrap)
    assert talk.last_convolution is not None
    kept = talk.last_convolution[2]
    assert isinstance(kept, Convolution)
    talk.ends_within(ages + 1.0, horizons, then=wrap)
    assert talk.last_convolution[2] is kept
    talk.ends_within(ages, horizons + 1.0, then=wrap)
    assert talk.last_convolution[2] is not kept
    newer = talk.last_convolution[2]
    other_wrap = _random_table(rng, 1.0, 30, 15.0)
    chance = talk.ends_within(ages, horizons + 1.0, then=other_wrap)
    assert talk.last_convolution[2] is not newer
    reference = _reference_ends_within(talk, ages, horizons + 1.0, other_wrap)
    assert np.allclose(chance, reference, rtol=0.0, atol=1e-12)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.floats(0.0, 60.0), min_size=0, max_size=30),
    st.lists(st.floats(0.0, 40.0), min_size=1, max_size=80),
    st.floats(0.0, 1.0),
)
def test_the_dials_in_flight_are_bit_for_bit_the_same(
    dial_ages: list[float], rings: list[float], p: float
) -> None:
    policy = PredictivePolicy()
    for at, seconds in enumerate(rings):
        policy.human_ring.add(float(at), seconds)
        policy.other_ring.add(float(at), seconds * 1.7)
    human = policy.human_ring.table()
    taus, answered = policy._answer_times(human)
    assert _same(answered, _reference_at_many(human, taus))
    snapshot = PacingSnapshot(
        now=100.0,
        agents_logged_in=1,
        agents_ready=0,
        busy_agent_ages=(),
        dials_in_progress=tuple(dial_ages),
        waiting_callers=0,
        abandon_target=0.03,
    )
    mean, var = policy._in_flight(snapshot, p, human, taus, np.zeros(1))
    if not dial_ages:
        return
    ref_mean, ref_var = _reference_in_flight(policy, np.array(dial_ages), p, human, taus)
    assert _same(mean[0], ref_mean) and _same(var[0], ref_var)
