"""What-if: a campaign's last 30 days fitted into a scenario, then simulated with changes."""

import math
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from datetime import time as clock_time
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from opendialer.campaigns.service import get_campaign
from opendialer.clock import VIRTUAL_EPOCH
from opendialer.demo import SimulationSetup
from opendialer.engine.scratch_run import ScratchRun, run_in_scratch_database
from opendialer.engine.simulation import SimulationResult
from opendialer.errors import Conflict, OpendialerError
from opendialer.models import CallAttempt, CallOutcome, Campaign, DialMode, ResultCode
from opendialer.scoping import Scope
from opendialer.telephony.campaign_scenario import CampaignScenario
from opendialer.telephony.sim_scenario import Schedule, value_at
from opendialer.whatif.fit import (
    AttemptRow,
    CampaignRules,
    Figures,
    Fit,
    fit,
)
from opendialer.whatif.states import state_spans

HISTORY_DAYS = 30
ALL_DAY = (clock_time(0), clock_time(23, 59, 59))
CONTACTS_HEADROOM = 3.0
"""Fresh contacts for the simulated day: this many times the dials the history's rate and the
changed team would make, so the list never runs out (the what-if asks about agents and pacing,
not about the list)."""
MIN_CONTACTS = 500
MAX_AGENT_HOURS = 400.0
"""The largest what-if one request may run, in agents times virtual hours. The simulator spends
CPU per simulated attempt, so a day of 2,000 agents would keep a core busy for hours; bigger
questions belong to `opendialer simulate`, which a person can watch and stop."""


@dataclass(frozen=True)
class Changes:
    """What the what-if changes against the fitted campaign."""

    agents: int | None = None
    """Agents on duty all day instead of the fitted number per hour."""
    agents_delta: int = 0
    """Agents added to (or, negative, taken from) every hour of the fitted schedule."""
    abandon_target: float | None = None
    dial_mode: DialMode | None = None
    hours: float | None = None
    seed: int = 1


@dataclass(frozen=True)
class WhatIf:
    fit: Fit
    changes: Changes
    scenario: CampaignScenario
    """The fitted scenario with the changes, as simulated."""
    dial_mode: DialMode
    simulated: Figures
    run: SimulationResult


def fit_campaign(session: Session, scope: Scope, *, campaign_id: int, now: datetime) -> Fit:
    """The campaign's scenario fitted to its attempts and agents of the last 30 days."""
    campaign = get_campaign(session, scope, campaign_id)
    since = now - timedelta(days=HISTORY_DAYS)
    attempts = _attempts(session, campaign, since)
    if not attempts:
        raise Conflict(
            f"campaign {campaign_id} has no finished calls in the last {HISTORY_DAYS} days to "
            "fit a simulation to",
            code="no_history",
        )
    users = {a.user_id for a in attempts if a.user_id is not None}
    spans = state_spans(session, scope, user_ids=users, since=since, until=now)
    return fit(_rules(campaign), attempts, spans)


def _rules(campaign: Campaign) -> CampaignRules:
    return CampaignRules(
        name=campaign.name,
        timezone=campaign.timezone,
        abandon_target=campaign.abandon_target,
        amd=campaign.amd_enabled,
        ring_timeout=float(campaign.ring_timeout_seconds),
        dial_mode=campaign.dial_mode,
    )


def _attempts(session: Session, campaign: Campaign, since: datetime) -> list[AttemptRow]:
    machine_codes = select(ResultCode.id).where(ResultCode.answering_machine)
    rows = session.execute(
        select(
            CallAttempt.started_at,
            CallAttempt.answered_at,
            CallAttempt.connected_at,
            CallAttempt.ended_at,
            CallAttempt.outcome,
            or_(
                CallAttempt.outcome == CallOutcome.MACHINE,
                CallAttempt.answered_by_machine.is_(True),
                CallAttempt.result_code_id.in_(machine_codes),
            ),
            CallAttempt.user_id,
        ).where(
            CallAttempt.tenant_id == campaign.tenant_id,
            CallAttempt.campaign_id == campaign.id,
            CallAttempt.started_at >= since,
            CallAttempt.outcome.is_not(None),
            CallAttempt.test_call.is_(False),
        )
    ).all()
    return [
        AttemptRow(
            started_at=started,
            answered_at=answered,
            connected_at=connected,
            ended_at=ended,
            outcome=CallOutcome(str(outcome)),
            machine=bool(machine),
            user_id=user_id,
        )
        for started, answered, connected, ended, outcome, machine, user_id in rows
    ]


def simulate_changes(fitted: Fit, changes: Changes) -> WhatIf:
    """Run one day of the fitted campaign with the changes on a virtual clock."""
    scenario = fitted.scenario
    agents = _agents(scenario.agents, changes)
    scenario = scenario.model_copy(
        update={
            "agents": agents,
            "abandon_target": changes.abandon_target or scenario.abandon_target,
        }
    )
    mode = changes.dial_mode or fitted.rules.dial_mode
    team = max(1, round(_mean_over_shift(agents, scenario.start_second, scenario.hours)))
    hours = changes.hours or scenario.hours
    _check_size(team, hours)
    setup = replace(  # its agents: the most the schedule has on duty (the run follows it)
        SimulationSetup.of(scenario, _contacts(fitted.observed, team, hours), mode),
        calling_hours=ALL_DAY,
    )
    done = run_in_scratch_database(
        ScratchRun(
            scenario=scenario,
            setup=setup,
            hours=hours,
            seed=changes.seed,
            start=_shift_start(scenario.sim.timezone, scenario.start_second),
        )
    )
    return WhatIf(
        fit=fitted,
        changes=changes,
        scenario=scenario,
        dial_mode=mode,
        simulated=simulated_figures(done.result),
        run=done.result,
    )


def _check_size(team: int, hours: float) -> None:
    if team * hours > MAX_AGENT_HOURS:
        raise OpendialerError(
            f"{team} agents for {hours:g} virtual hours is {team * hours:g} agent-hours; "
            f"a what-if runs at most {MAX_AGENT_HOURS:g} (fewer agents or hours, or "
            "`opendialer simulate --scenario` with the answered scenario)",
            code="what_if_too_large",
            status_code=422,
        )


def _contacts(observed: Figures, team: int, hours: float) -> int:
    per_agent_hour = observed.attempts / max(observed.hours, 1 / 60) / max(observed.agents, 1.0)
    return max(MIN_CONTACTS, math.ceil(CONTACTS_HEADROOM * per_agent_hour * team * hours))


def _agents(fitted: float | Schedule, changes: Changes) -> float | Schedule:
    if changes.agents is not None:
        return float(changes.agents)
    if isinstance(fitted, Schedule):
        points = [(t, max(0.0, v + changes.agents_delta)) for t, v in fitted.points]
        return Schedule(points=tuple(points))
    return max(0.0, fitted + changes.agents_delta)


def _mean_over_shift(agents: float | Schedule, start: float, hours: float) -> float:
    """The fitted schedule's mean over the shift (what sizes the contact list)."""
    samples = [value_at(agents, start + minute * 60) for minute in range(int(hours * 60) or 1)]
    return sum(samples) / len(samples)


def _shift_start(timezone: str, second_of_day: float) -> datetime:
    """The virtual clock's start: the shift's first second, local time, on the virtual day."""
    day = VIRTUAL_EPOCH.astimezone(ZoneInfo(timezone)).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    return day + timedelta(seconds=second_of_day)


def simulated_figures(result: SimulationResult) -> Figures:
    tally = result.tally
    return Figures(
        days=1,
        agents=float(result.agents),
        hours=result.seconds / 3600,
        attempts=float(tally.attempts),
        live_answers=float(tally.live_answers),
        connects=float(tally.connects),
        abandoned=float(tally.abandoned),
        machines=float(tally.machines),
        occupancy=result.occupancy,
    )
