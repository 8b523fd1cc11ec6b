"""Online estimates for pacing: proportions, duration distributions and the abandonment ledger.

Every estimate forgets exponentially in *time* (a half-life in seconds), so it follows answer
rates and talk times that drift during the day, and starts from a weak prior so the first
decisions of a campaign are cautious rather than blind. Pure Python, no clock: callers pass the
time of each observation in seconds.
"""

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

LN2 = math.log(2.0)


def decay(elapsed: float, half_life: float) -> float:
    """The weight left after ``elapsed`` seconds with the given half-life."""
    return math.exp(-LN2 * max(elapsed, 0.0) / half_life)


class DecayingProportion:
    """The share of successes among recent trials, with a prior worth ``prior_weight`` trials."""

    def __init__(self, prior: float, prior_weight: float, half_life: float) -> None:
        self.prior = prior
        self.prior_weight = prior_weight
        self.half_life = half_life
        self._successes = 0.0
        self._trials = 0.0
        self._at: float | None = None

    def add(self, at: float, success: bool, weight: float = 1.0) -> None:
        self._age_to(at)
        self._trials += weight
        if success:
            self._successes += weight

    def _age_to(self, at: float) -> None:
        if self._at is not None and at > self._at:
            kept = decay(at - self._at, self.half_life)
            self._successes *= kept
            self._trials *= kept
        if self._at is None or at > self._at:
            self._at = at

    @property
    def trials(self) -> float:
        """The effective number of (decayed) trials behind the estimate, prior excluded."""
        return self._trials

    @property
    def mean(self) -> float:
        return (self._successes + self.prior * self.prior_weight) / (
            self._trials + self.prior_weight
        )


@dataclass(frozen=True, slots=True, eq=False)
class SurvivalTable:
    """A distribution on a grid: a value ``x`` lies in bin ``floor(x / step)`` and ``cdf[i]`` =
    P(X < (i + 1) * step), so ``at(x)`` counts x's whole bin; nothing lies past the grid."""

    step: float
    cdf: FloatArray
    mean: float
    last_masses: tuple[bytes, tuple[FloatArray, FloatArray]] | None = field(
        default=None, compare=False, repr=False
    )
    last_convolution: "tuple[SurvivalTable, bytes, Convolution] | None" = field(
        default=None, compare=False, repr=False
    )

    def at(self, x: float) -> float:
        """P(X <= x)."""
        index = int(x / self.step) if x > 0 else 0
        return float(self.cdf[index]) if index < len(self.cdf) else 1.0

    def at_many(self, x: FloatArray) -> FloatArray:
        """P(X <= x) for each element of ``x``."""
        return self._at_bins(np.maximum(x, 0.0))

    def at_many_consuming(self, x: FloatArray) -> FloatArray:
        """:meth:`at_many` of an array the caller made for it, which it overwrites (a policy's
        look asks for thousands of values: each copy costs)."""
        return self._at_bins(np.maximum(x, 0.0, out=x))

    def _at_bins(self, x: FloatArray) -> FloatArray:
        """``cdf[int(x / step)]`` for non-negative ``x`` (overwritten), the grid's end for the
        values past it. A step of 1 divides nothing: x / 1.0 is x, bit for bit."""
        if self.step != 1.0:
            np.divide(x, self.step, out=x)
        index = x.astype(np.intp)
        np.minimum(index, len(self.cdf) - 1, out=index)
        return self.cdf.take(index)

    def ends_within(
        self, ages: FloatArray, horizons: FloatArray, then: "SurvivalTable | None" = None
    ) -> FloatArray:
        """P(X <= a + h | X > a) for each age ``a`` (rows) and horizon ``h`` (columns).

        With ``then``, a second duration Y must follow X: P(X + Y <= a + h | X > a), summing
        ``P(Y = u) P(a < X <= a + h - u)`` over Y's bins, each taken at its middle ``u``. Past
        the longest duration seen (the condition has no mass), ``h`` over the mean duration.
        """
        alive = 1.0 - self.at_many(ages)
        dead = 1.0 - alive
        if then is None:
            ended = self.at_many_consuming(ages[:, None] + horizons[None, :])
            np.subtract(ended, dead[:, None], out=ended)
            mean = self.mean
        elif then.step == self.step:
            ended = self._convolved(horizons, then).ended(ages, horizons, alive)
            mean = self.mean + then.mean
        else:
            u, mass = then.masses(horizons)
            shifted = ages[:, None, None] + horizons[None, :, None] - u[None, None, :]
            ends = self.at_many_consuming(shifted)
            np.subtract(ends, dead[:, None, None], out=ends)
            ended = np.einsum("ahu,hu->ah", ends, mass)
            mean = self.mean + then.mean
        known = alive > 1e-9
        if known.all():  # the usual case: np.where would pick every element of chance
            chance = ended / alive[:, None]
        else:
            chance = ended / np.where(known, alive, 1.0)[:, None]
            fallback = np.minimum(horizons / max(mean, 1.0), 1.0)
            chance = np.where(known[:, None], chance, fallback[None, :])
        return chance.clip(0.0, 1.0, out=chance)

    def masses(self, horizons: FloatArray) -> tuple[FloatArray, FloatArray]:
        """The bins' middles ``u`` up to the longest horizon, and for each horizon the mass of
        each bin that fits in it (the last horizons' kept: a policy asks with the same ones
        until its answer-time table is rebuilt)."""
        key = horizons.tobytes()
        if self.last_masses is not None and self.last_masses[0] == key:
            return self.last_masses[1]
        middles = (np.arange(int(horizons.max() / self.step) + 1) + 0.5) * self.step
        u = np.asarray(middles, dtype=np.float64)
        mass = np.diff(self.cdf[: len(u)], prepend=0.0) * (u[None, :] <= horizons[:, None])
        object.__setattr__(self, "last_masses", (key, (u, mass)))
        return u, mass

    def _convolved(self, horizons: FloatArray, then: "SurvivalTable") -> "Convolution":
        """The :class:`Convolution` of this table with ``then``'s masses for these horizons
        (the last one kept: a policy asks with the same tables and horizons look after look)."""
        key = horizons.tobytes()
        kept = self.last_convolution
        if kept is not None and kept[0] is then and kept[1] == key:
            return kept[2]
        convolution = Convolution.of(self, *then.masses(horizons), horizons)
        object.__setattr__(self, "last_convolution", (then, key, convolution))
        return convolution

    def quantile(self, q: float) -> float:
        index = int(np.searchsorted(self.cdf, q))
        return min(index, len(self.cdf) - 1) * self.step


@dataclass(frozen=True, slots=True)
class Convolution:
    """``P(X > a + h - u)`` summed over a second duration's bins ``u`` (masses per horizon
    ``h``), for every talk bin ``n`` at once: ``survival[h, n] = sum_k mass[h, k] S(n - k)``.

    The middle of bin k is ``u = (k + 0.5) step``, so ``a + h - u`` falls in bin
    ``floor((a + h) / step - 0.5) - k``: the bin of ``a + h`` less half a bin picks a column,
    and a look needs only a gather instead of an (ages x horizons x bins) array. ``S`` is the
    survival ``1 - cdf``, clamped as the look-up clamps: bin 0's for a negative ``a + h - u``,
    the last bin's past the grid. In survival terms, ``ended = alive M - survival`` keeps the
    relative precision the direct sum of ``P(a + h - u) - P(a)`` has when few calls are still
    alive at age ``a``.
    """

    step: float
    survival: FloatArray
    """(horizons x talk bins + bins of the second duration - 1)."""
    total: FloatArray
    """The mass of the second duration within each horizon, ``M``."""

    @classmethod
    def of(
        cls, table: SurvivalTable, middles: FloatArray, mass: FloatArray, horizons: FloatArray
    ) -> "Convolution":
        """From :meth:`SurvivalTable.masses`' ``middles`` and ``mass`` for ``horizons``. A
        horizon's bins are the first ``fits`` (those whose middle it reaches), so one running
        sum over the bins gives each horizon's row as it passes that horizon's count (a fifth
        of the time of a convolution per horizon)."""
        fits = np.count_nonzero(middles[None, :] <= horizons[:, None], axis=1)
        edge = len(middles) - 1
        below = 1.0 - table.cdf
        padded = np.concatenate([np.full(edge, below[0]), below, np.full(edge, below[-1])])
        width = len(below) + edge
        survival = np.zeros((len(horizons), width))
        running = np.zeros(width)
        masses = mass[np.argmax(fits)]
        for k in range(int(fits.max())):  # padded[edge + n - k] is S at bin n - k, clamped
            running += masses[k] * padded[edge - k : edge - k + width]
            survival[fits == k + 1] = running
        return cls(table.step, survival, mass.sum(axis=1))

    def ended(self, ages: FloatArray, horizons: FloatArray, alive: FloatArray) -> FloatArray:
        """``P(a < X, X + Y <= a + h)`` for each age (rows) and horizon (columns)."""
        bins = ages[:, None] + horizons[None, :]
        if self.step != 1.0:
            np.divide(bins, self.step, out=bins)
        np.subtract(bins, 0.5, out=bins)
        np.maximum(bins, 0.0, out=bins)
        column = bins.astype(np.intp)
        width = self.survival.shape[1]
        np.minimum(column, width - 1, out=column)
        column += width * np.arange(len(horizons))
        ended = alive[:, None] * self.total[None, :]
        np.subtract(ended, self.survival.take(column), out=ended)
        return ended


class DecayingDistribution:
    """An empirical distribution of recent durations, time-weighted, with prior pseudo-samples.

    ``table()`` returns a :class:`SurvivalTable`, rebuilt once a tenth of the samples (at least
    ``min_rebuild``, at most ``rebuild_every``) is new.
    """

    def __init__(
        self,
        prior: Sequence[float],
        *,
        prior_weight: float,
        half_life: float,
        step: float,
        horizon: float,
        rebuild_every: int = 100,
        min_rebuild: int = 5,
        max_samples: int = 3000,
    ) -> None:
        self.prior = np.array(prior, dtype=np.float64)
        self.prior_weight = prior_weight
        self.half_life = half_life
        self.step = step
        self.size = int(horizon / step) + 1
        self.rebuild_every = rebuild_every
        self.min_rebuild = min_rebuild
        self._at = np.zeros(max_samples)
        self._value = np.zeros(max_samples)
        self._count = 0
        self._fresh = 0
        self._table: SurvivalTable | None = None
        self._latest = 0.0

    def add(self, at: float, value: float) -> None:
        slot = self._count % len(self._at)
        self._at[slot] = at
        self._value[slot] = max(value, 0.0)
        self._count += 1
        self._latest = max(self._latest, at)
        self._fresh += 1
        due = min(self.rebuild_every, max(self.min_rebuild, self.count // 10))
        if self._fresh >= due:
            self._table = None

    @property
    def count(self) -> int:
        return min(self._count, len(self._at))

    def table(self) -> SurvivalTable:
        if self._table is None:
            self._table = self._build()
            self._fresh = 0
        return self._table

    def _build(self) -> SurvivalTable:
        n = self.count
        each_prior = self.prior_weight / len(self.prior) if len(self.prior) else 0.0
        values = np.concatenate([self.prior, self._value[:n]])
        ages = self._latest - self._at[:n]
        weights = np.concatenate(
            [np.full(len(self.prior), each_prior), np.exp(-LN2 * ages / self.half_life)]
        )
        total = float(weights.sum())
        if total <= 0:
            return SurvivalTable(self.step, np.ones(self.size), 0.0)
        index = np.minimum((values / self.step).astype(np.intp), self.size - 1)
        mass = np.bincount(index, weights=weights, minlength=self.size)
        cdf = np.minimum(np.cumsum(mass) / total, 1.0)
        cdf[-1] = 1.0
        return SurvivalTable(self.step, cdf, float(np.dot(values, weights)) / total)


class AbandonLedger:
    """Live answers, abandoned calls and the answers agents found were machines, in a rolling
    window (Ofcom: 24 h; FTC: 30 days)."""

    def __init__(self, window: float = 86_400.0) -> None:
        self.window = window
        self._live: deque[float] = deque()
        self._abandoned: deque[float] = deque()
        self._machines: deque[float] = deque()

    def live_answer(self, at: float) -> None:
        self._live.append(at)

    def abandoned(self, at: float) -> None:
        self._abandoned.append(at)

    def answering_machine(self, at: float) -> None:
        self._machines.append(at)

    def counts(self, now: float) -> tuple[int, int, int]:
        """(live answers, abandoned, found to be machines) in the window ending at ``now``."""
        start = now - self.window
        for times in (self._live, self._abandoned, self._machines):
            while times and times[0] < start:
                times.popleft()
        return len(self._live), len(self._abandoned), len(self._machines)


def person_share(live: int, abandoned: int, machines: int) -> float:
    """The share of live answers that were people, from the ones agents talked to.

    Without AMD every machine counts as a live answer until an agent hears it; the abandoned
    ones are never heard, so they are people in the same share as the connected ones. One
    imagined person is added to both counts so that the first machine does not read as 100 %.
    """
    connected = max(live - abandoned, machines)
    return (connected - machines + 1) / (connected + 1)


@dataclass(frozen=True, slots=True)
class BudgetState:
    """Where a campaign stands against its abandonment cap in one window."""

    live: int
    """Live answers seen (classified as a person, machines agents found included)."""
    abandoned: int
    """Abandoned calls seen (not counting the unseen AMD false positives)."""
    target: float
    amd_false_positive: float
    person_share: float = 1.0
    """The share of ``live`` that were people (see :func:`person_share`)."""

    @property
    def persons(self) -> float:
        """People who answered, including the estimated ones AMD hung up on."""
        return self.person_share * self.live / (1.0 - self.amd_false_positive)

    @property
    def left(self) -> float:
        """Abandoned people still allowed if the window closed now (AMD estimate included)."""
        f = self.amd_false_positive
        return (self.target - f) * self.persons - self.person_share * self.abandoned


def allowed_rate(
    budget: BudgetState,
    *,
    confidence: float,
    lookahead: float,
    max_factor: float,
    supply: float | None = None,
) -> float:
    """The abandonment rate (per live answer seen) the next answers may have.

    The budget is spread over the next ``H = max(live, lookahead)`` live answers and counted
    in people, a share ``q`` of the live answers: the abandoned people planned for them,
    ``y = q x`` (Poisson), plus ``z`` standard deviations of what is still random must fit in
    what the window allows: ``y + z sqrt(V + y) = spare``. ``V`` holds the unseen AMD false
    positives of the whole window (binomial) and, when some answers are machines, how many of
    the calls already abandoned were people (binomial, ``q (1 - q)`` each). Zero when nothing
    is left. ``supply``, the live answers the contacts on hand can still bring, bounds ``H``.
    """
    f, z, q = budget.amd_false_positive, confidence, budget.person_share
    ahead = max(float(budget.live), lookahead)
    if supply is not None:  # no more answers can come than the contacts on hand bring
        ahead = min(ahead, supply)
    if ahead <= 0:
        return 0.0
    coming = q * ahead / (1.0 - f)  # people behind the next H live answers
    persons = budget.persons + coming
    unseen = persons * f * (1.0 - f) + budget.abandoned * q * (1.0 - q)
    spare = budget.left + (budget.target - f) * coming
    root = (-z + math.sqrt(z * z + 4.0 * max(spare + unseen, 0.0))) / 2.0
    planned = root * root - unseen
    if planned <= 0:
        return 0.0
    steady = (budget.target - f) / (1.0 - f)
    return min(planned / q / ahead, max_factor * steady)
