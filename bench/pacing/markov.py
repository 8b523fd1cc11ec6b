"""The exact optimum of the Markov pacing model (scenario S0), by linear programming.

State: ``b`` busy agents and ``n`` dials in progress. Agents free at rate ``mu`` each; each dial
resolves at rate ``nu``: a person with probability ``p`` (who takes a free agent, or is
abandoned when all ``N`` are busy), otherwise nothing. Dialling is instantaneous: in state
``(b, n)`` the dialer picks a target ``a >= n``. Uniformised at rate ``N mu + M nu`` this is a
finite MDP; the constrained average-reward problem (maximise mean busy agents subject to
abandoned <= alpha x live answers) is the LP over state-action frequencies ``x(b, n, a)``
(Altman, *Constrained Markov Decision Processes*, ch. 4). Its optimum may randomise in one state.
"""

import random
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp  # type: ignore[import-untyped]
from scipy.optimize import linprog  # type: ignore[import-untyped]

from bench.pacing.scenario import BenchScenario
from opendialer.engine.pacing.base import Observation, PacingDecision, PacingSnapshot

Action = tuple[int, float]
VISITED = 1e-6
"""State-action frequencies below this are solver noise: those states use the top-up rule."""


@dataclass(frozen=True, slots=True)
class MarkovModel:
    agents: int
    p: float
    dial_rate: float
    """nu: 1 / mean seconds from dial to resolution."""
    service_rate: float
    """mu: 1 / mean seconds of talk plus wrap-up."""
    max_in_flight: int = 80

    @classmethod
    def of(cls, scenario: BenchScenario) -> "MarkovModel":
        customers = scenario.sim.customers
        second = scenario.start_second
        p = _value(customers.p_live, second)
        ring = float(_value(customers.live_answer_after.mean, second))
        talk = float(_value(customers.talk_time.mean, second))
        wrap = float(_value(scenario.sim.agents.wrap_up.mean, second))
        return cls(scenario.agents_at(second), p, 1.0 / ring, 1.0 / (talk + wrap))


def _value(param: object, second: float) -> float:
    at = getattr(param, "at", None)
    return float(at(second)) if at is not None else float(param)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class MarkovSolution:
    alpha: float
    occupancy: float
    abandon_rate: float
    policy: dict[tuple[int, int], tuple[Action, ...]]
    """(busy, in flight) -> ((target in flight, probability), ...)."""


def _columns(model: MarkovModel) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every (b, n, a) with a >= n, as three integer arrays."""
    m = model.max_in_flight
    n_idx, a_idx = np.triu_indices(m + 1)
    count = len(n_idx)
    b = np.repeat(np.arange(model.agents + 1), count)
    return b, np.tile(n_idx, model.agents + 1), np.tile(a_idx, model.agents + 1)


def solve(model: MarkovModel, alpha: float) -> MarkovSolution:
    """Maximise occupancy subject to abandoned <= alpha x live answers, in the long run."""
    big_n, m = model.agents, model.max_in_flight
    b, n, a = _columns(model)
    cols = np.arange(len(b))
    states = (big_n + 1) * (m + 1)
    rate = big_n * model.service_rate + m * model.dial_rate

    def state(bb: np.ndarray, nn: np.ndarray) -> np.ndarray:
        result: np.ndarray = bb * (m + 1) + nn
        return result

    free = b * model.service_rate / rate
    fail = a * model.dial_rate * (1 - model.p) / rate
    live = a * model.dial_rate * model.p / rate
    stay = 1.0 - free - fail - live
    rows = [state(b, n), state(np.maximum(b - 1, 0), a), state(b, np.maximum(a - 1, 0))]
    rows += [state(np.minimum(b + 1, big_n), np.maximum(a - 1, 0)), state(b, a)]
    values = [np.ones(len(b)), -free, -fail, -live, -stay]
    balance = sp.csr_matrix(
        (np.concatenate(values), (np.concatenate(rows), np.tile(cols, 5))), shape=(states, len(b))
    )
    a_eq = sp.vstack([balance, sp.csr_matrix(np.ones((1, len(b))))])
    b_eq = np.zeros(states + 1)
    b_eq[-1] = 1.0
    abandon = live * (b == big_n)
    a_ub = sp.csr_matrix((abandon - alpha * live).reshape(1, -1))
    result = linprog(
        -b.astype(float) / big_n, A_ub=a_ub, b_ub=[0.0], A_eq=a_eq, b_eq=b_eq, method="highs"
    )
    if result.status != 0:
        raise RuntimeError(f"LP failed: {result.message}")
    x = np.maximum(result.x, 0.0)
    return MarkovSolution(
        alpha=alpha,
        occupancy=float(-result.fun),
        abandon_rate=float(x @ abandon / max(x @ live, 1e-12)),
        policy=_policy(model, b, n, a, x),
    )


def _policy(
    model: MarkovModel, b: np.ndarray, n: np.ndarray, a: np.ndarray, x: np.ndarray
) -> dict[tuple[int, int], tuple[Action, ...]]:
    """Action distributions in the states the optimum visits; elsewhere, top up to ``T(b)``.

    ``T(b)`` is the highest target used with ``b`` busy agents; below the lowest visited ``b``,
    one more dial per ``1 / p`` extra free agent.
    """
    chosen: dict[tuple[int, int], list[Action]] = {}
    for j in np.nonzero(x > VISITED)[0]:
        chosen.setdefault((int(b[j]), int(n[j])), []).append((int(a[j]), float(x[j])))
    policy: dict[tuple[int, int], tuple[Action, ...]] = {}
    for key, actions in chosen.items():
        total = sum(w for _, w in actions)
        policy[key] = tuple((act, w / total) for act, w in sorted(actions))
    tops: dict[int, int] = {}
    for (busy, flight), picks in policy.items():
        raised = max(act for act, _ in picks)
        tops[busy] = max(tops.get(busy, 0), raised if raised > flight else 0)
    lowest = min(tops)
    for busy in range(model.agents + 1):
        top = tops.get(busy)
        if top is None:
            top = tops[lowest] + round((lowest - busy) / model.p) if busy < lowest else 0
        top = min(top, model.max_in_flight)
        for flight in range(model.max_in_flight + 1):
            policy.setdefault((busy, flight), ((max(top, flight), 1.0),))
    return policy


class MarkovOptimalPolicy:
    """The LP's policy as a pacing policy; decides only when the state has changed."""

    name = "exact optimum"

    def __init__(self, solution: MarkovSolution, seed: int = 0) -> None:
        self.solution = solution
        self._rng = random.Random(seed)
        self._after: tuple[int, int] | None = None

    def decide(self, snapshot: PacingSnapshot) -> PacingDecision:
        busy, flight = len(snapshot.busy_agent_ages), len(snapshot.dials_in_progress)
        if (busy, flight) == self._after:
            return PacingDecision(0, float(flight), "no event since the last decision")
        actions = self.solution.policy.get((busy, flight), ((flight, 1.0),))
        pick, target = self._rng.random(), actions[-1][0]
        for act, weight in actions:
            pick -= weight
            if pick < 0:
                target = act
                break
        self._after = (busy, max(target, flight))
        return PacingDecision(
            dials=max(target - flight, 0),
            target_in_flight=float(target),
            reason=f"optimal target {target} with {busy} busy",
            inputs={"busy": float(busy), "in_flight": float(flight)},
        )

    def observe(self, observation: Observation) -> None:
        return None
