"""Every attempt's one terminal state, and what it does to the contact and its number.

``start_attempt`` writes the history row when a number is dialled; ``finish_attempt`` closes it
and, in the same transaction, updates the number's tries and last cause, the contact's next try
or its end, and the DNC list, following the campaign's result codes and retry rules.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from opendialer.compliance.service import revoke_consent
from opendialer.crm import service as crm
from opendialer.dnc.service import add_numbers
from opendialer.engine.selection import ABANDON_REDIAL_BLOCK, Claim
from opendialer.models import (
    MAX_PHONES,
    CallAttempt,
    CallOutcome,
    Campaign,
    Contact,
    ContactPhone,
    ContactStatus,
    ResultAction,
    ResultCode,
    RetryRule,
    Tenant,
)
from opendialer.scoping import Scope

BUSY_RETRY = timedelta(minutes=10)


@dataclass(frozen=True, slots=True)
class Ending:
    """How an attempt ended, as the engine saw it."""

    outcome: CallOutcome
    at: datetime
    sip_status: int | None = None
    cause_code: int | None = None
    alerted_at: datetime | None = None
    answered_at: datetime | None = None
    connected_at: datetime | None = None
    user_id: int | None = None
    caller_hangup: bool | None = None
    answered_by_machine: bool | None = None
    end_detail: str | None = None


@dataclass(frozen=True, slots=True)
class Rule:
    """The resolved retry rule for one ending."""

    done: bool = False
    delay: timedelta = timedelta(0)
    max_tries: int | None = None
    mark_invalid: bool = False
    add_to_dnc: bool = False


def start_attempt(
    session: Session, campaign: Campaign, claim: Claim, now: datetime, engine_id: str
) -> CallAttempt:
    attempt = CallAttempt(
        tenant_id=campaign.tenant_id,
        campaign_id=campaign.id,
        contact_id=claim.contact_id,
        phone_position=claim.position,
        a_number=claim.caller_id,
        b_number=claim.e164,
        started_at=now,
        engine_id=engine_id,
    )
    session.add(attempt)
    session.flush()
    return attempt


def _default_rule(campaign: Campaign, outcome: CallOutcome) -> Rule:
    delay = timedelta(seconds=campaign.retry_delay_seconds)
    match outcome:
        case CallOutcome.CONNECTED:
            return Rule(done=True)
        case CallOutcome.INVALID_NUMBER:
            return Rule(mark_invalid=True)
        case CallOutcome.BUSY:
            return Rule(delay=BUSY_RETRY)
        case CallOutcome.ABANDONED:
            return Rule(delay=ABANDON_REDIAL_BLOCK)
        case CallOutcome.CANCELLED:
            return Rule()
        case _:
            return Rule(delay=delay)


def _outcome_rule(session: Session, campaign: Campaign, outcome: CallOutcome) -> Rule:
    rule = session.scalar(
        select(RetryRule).where(RetryRule.campaign_id == campaign.id, RetryRule.outcome == outcome)
    )
    if rule is None:
        return _default_rule(campaign, outcome)
    return Rule(
        done=rule.done,
        delay=timedelta(seconds=rule.retry_delay_seconds),
        max_tries=rule.max_tries,
        mark_invalid=rule.mark_invalid,
        add_to_dnc=rule.add_to_dnc,
    )


def result_code_rule(campaign: Campaign, code: ResultCode) -> Rule:
    delay = timedelta(seconds=code.retry_delay_seconds or campaign.retry_delay_seconds)
    match code.action:
        case ResultAction.RETRY:
            return Rule(delay=delay, max_tries=code.max_tries)
        case ResultAction.INVALID_NUMBER:
            return Rule(mark_invalid=True)
        case ResultAction.ADD_TO_DNC:
            return Rule(done=True, add_to_dnc=True)
        case _:
            return Rule(done=True)


def _phone(contact: Contact, position: int | None) -> ContactPhone | None:
    return next((p for p in contact.phones if p.position == position), None)


def _record_on_phone(phone: ContactPhone, ending: Ending, rule: Rule) -> None:
    phone.tries += 1
    phone.last_cause = ending.cause_code
    phone.last_attempt_at = ending.at
    if ending.outcome is CallOutcome.ABANDONED:
        phone.abandoned_at = ending.at
    if rule.mark_invalid:
        phone.invalid = True


def apply_rule(
    session: Session,
    campaign: Campaign,
    contact: Contact,
    phone: ContactPhone | None,
    rule: Rule,
    at: datetime,
) -> None:
    """Schedule the contact's next try, or finish it; add the number to the DNC list if asked."""
    if rule.add_to_dnc and phone is not None and phone.e164 is not None:
        _add_to_dnc(session, campaign, phone.e164)
    limit = min(rule.max_tries or campaign.max_tries_per_number, campaign.max_tries_per_number)
    dialable = [
        p
        for p in contact.phones
        if not p.invalid
        and p.e164 is not None
        and p.tries < limit
        and not (rule.add_to_dnc and p is phone)
    ]
    contact.claimed_at = None
    contact.claimed_by = None
    if rule.done or not dialable:
        finished_now = contact.status is not ContactStatus.DONE
        contact.status = ContactStatus.DONE  # before the CRM's read flushes: one UPDATE
        if finished_now:
            crm.enqueue_contact_done(session, contact, at)
        return
    contact.status = ContactStatus.PENDING
    contact.next_try_at = at + rule.delay


def _add_to_dnc(session: Session, campaign: Campaign, e164: str) -> None:
    """The tenant-wide list, through the DNC service (idempotent: an existing entry stays)."""
    tenant = session.get_one(Tenant, campaign.tenant_id)
    add_numbers(session, Scope.system(tenant.id), None, [e164], source="result_code")


def finish_attempt(
    session: Session, campaign: Campaign, attempt: CallAttempt, ending: Ending
) -> None:
    """Close the attempt and apply its consequences, all in the caller's transaction."""
    if attempt.outcome is not None:
        return  # already terminal: an attempt ends exactly once
    for name in (
        "outcome",
        "sip_status",
        "cause_code",
        "alerted_at",
        "answered_at",
        "connected_at",
        "user_id",
        "caller_hangup",
        "answered_by_machine",
        "end_detail",
    ):
        value = getattr(ending, name)
        if value is not None:
            setattr(attempt, name, value)
    attempt.ended_at = ending.at
    crm.enqueue_call_finished(session, attempt)
    contact = session.get(Contact, attempt.contact_id) if attempt.contact_id else None
    if contact is None:
        session.flush()
        return
    rule = _outcome_rule(session, campaign, ending.outcome)
    phone = _phone(contact, attempt.phone_position)
    if phone is not None:
        _record_on_phone(phone, ending, rule)
        contact.next_phone_position = phone.position % MAX_PHONES + 1
    contact.tries += 1
    contact.last_call_at = ending.at
    contact.last_result_mailbox = ending.outcome is CallOutcome.MACHINE
    apply_rule(session, campaign, contact, phone, rule, ending.at)
    session.flush()


def set_result_code(
    session: Session, campaign: Campaign, attempt: CallAttempt, code: ResultCode, at: datetime
) -> None:
    """An agent's result code for a finished call: it overrides the outcome's own rule."""
    attempt.result_code_id = code.id
    contact = session.get(Contact, attempt.contact_id) if attempt.contact_id else None
    if contact is None:
        session.flush()
        return
    contact.result_code_id = code.id
    rule = result_code_rule(campaign, code)
    phone = _phone(contact, attempt.phone_position)
    if phone is not None and rule.mark_invalid:
        phone.invalid = True
    apply_rule(session, campaign, contact, phone, rule, at)
    if code.action is ResultAction.REVOKE_CONSENT:
        revoke_consent(session, contact, at)
    session.flush()
