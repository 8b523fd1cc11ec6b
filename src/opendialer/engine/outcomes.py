"""Every attempt's one terminal state, and what it does to the contact and its number.

``start_attempt`` writes the history row when a number is dialled; ``finish_attempt`` closes it
and, in the same transaction, updates the number's tries and last cause, the contact's next try
or its end, and the DNC list, following the campaign's result codes and retry rules.
"""

from collections.abc import Iterable
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from functools import cache
from typing import Any, Protocol

from sqlalchemy import (
    Insert,
    Select,
    Table,
    Update,
    and_,
    bindparam,
    insert,
    inspect,
    select,
    update,
)
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
)
from opendialer.models.call import ATTEMPTS
from opendialer.models.campaign import CAMPAIGNS
from opendialer.models.contact import CONTACTS, PHONES
from opendialer.scoping import Scope

RETRY_RULES: Table = RetryRule.__table__  # type: ignore[assignment]
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


class CampaignRules(Protocol):
    """What closing an attempt needs of its campaign (an ORM ``Campaign`` or a plain row)."""

    @property
    def id(self) -> int: ...
    @property
    def tenant_id(self) -> int: ...
    @property
    def max_tries_per_number(self) -> int: ...
    @property
    def retry_delay_seconds(self) -> int: ...


@dataclass(frozen=True, slots=True)
class CampaignRulesRow:
    id: int
    tenant_id: int
    max_tries_per_number: int
    retry_delay_seconds: int


@cache
def _campaign_rules_statement() -> Select[Any]:
    return select(*(CAMPAIGNS.c[f.name] for f in fields(CampaignRulesRow))).where(
        CAMPAIGNS.c.id == bindparam("campaign_id")
    )


def campaign_rules(session: Session, campaign_id: int) -> CampaignRulesRow | None:
    """The campaign's retry settings (None once it is deleted), without loading the campaign."""
    row = session.execute(_campaign_rules_statement(), {"campaign_id": campaign_id}).first()
    return CampaignRulesRow(*row) if row is not None else None


@dataclass(frozen=True, slots=True)
class Started:
    """An attempt just written (plain values: the dial is placed after its commit)."""

    id: int
    contact_id: int
    a_number: str | None


def start_attempt(
    session: Session, campaign: CampaignRules, claim: Claim, now: datetime, engine_id: str
) -> Started:
    """The attempt's history row, written before the number is dialled (one ``INSERT``)."""
    values = {
        "tenant_id": campaign.tenant_id,
        "campaign_id": campaign.id,
        "contact_id": claim.contact_id,
        "phone_position": claim.position,
        "a_number": claim.caller_id,
        "b_number": claim.e164,
        "started_at": now,
        "engine_id": engine_id,
    }
    attempt_id = session.execute(_start_statement(), values).scalar_one()
    return Started(attempt_id, claim.contact_id, claim.caller_id)


@cache
def _start_statement() -> Insert:
    return insert(ATTEMPTS).returning(ATTEMPTS.c.id)


def _default_rule(campaign: CampaignRules, outcome: CallOutcome) -> Rule:
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


def _outcome_rule(
    campaign: CampaignRules, outcome: CallOutcome, rule: tuple[Any, ...] | None
) -> Rule:
    """The campaign's rule for ``outcome`` from its row's columns (None: it has none)."""
    if rule is None:
        return _default_rule(campaign, outcome)
    done, delay, max_tries, mark_invalid, add_to_dnc = rule
    return Rule(
        done=done,
        delay=timedelta(seconds=delay),
        max_tries=max_tries,
        mark_invalid=mark_invalid,
        add_to_dnc=add_to_dnc,
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


class Dialable(Protocol):
    """A number as the retry rule sees it (an ORM ``ContactPhone`` or a plain row)."""

    @property
    def e164(self) -> str | None: ...
    @property
    def invalid(self) -> bool: ...
    @property
    def tries(self) -> int: ...


def any_left(
    campaign: CampaignRules, phones: Iterable[Dialable], rule: Rule, dnc: Dialable | None
) -> bool:
    """Whether one of the contact's numbers may still be dialled after ``rule`` (``dnc``: the
    number the rule puts on the DNC list)."""
    limit = min(rule.max_tries or campaign.max_tries_per_number, campaign.max_tries_per_number)
    return any(
        not p.invalid
        and p.e164 is not None
        and p.tries < limit
        and not (rule.add_to_dnc and p is dnc)
        for p in phones
    )


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
        _add_to_dnc(session, campaign.tenant_id, phone.e164)
    contact.claimed_at = None
    contact.claimed_by = None
    if rule.done or not any_left(campaign, contact.phones, rule, phone):
        finished_now = contact.status is not ContactStatus.DONE
        contact.status = ContactStatus.DONE  # before the CRM's read flushes: one UPDATE
        if finished_now:
            crm.enqueue_contact_done(session, contact, at)
        return
    contact.status = ContactStatus.PENDING
    contact.next_try_at = at + rule.delay


def _add_to_dnc(session: Session, tenant_id: int, e164: str) -> None:
    """The tenant-wide list, through the DNC service (idempotent: an existing entry stays)."""
    add_numbers(session, Scope.system(tenant_id), None, [e164], source="result_code")


def finish_attempt(
    session: Session, campaign: CampaignRules, attempt: CallAttempt, ending: Ending
) -> None:
    """Close the attempt and apply its consequences, all in the caller's transaction (see
    :func:`close`; the ORM copies of what it wrote are expired, so they read it back)."""
    attempt_id, contact_id = attempt.id, attempt.contact_id
    session.flush()
    close(session, campaign, attempt_id, ending)
    session.expire(attempt)
    contact = session.identity_map.get(session.identity_key(Contact, contact_id))
    if contact is not None:
        for phone in inspect(contact).dict.get("phones", ()):  # only those loaded
            session.expire(phone)
        session.expire(contact)


def close(session: Session, campaign: CampaignRules, attempt_id: int, ending: Ending) -> bool:
    """Close the attempt and apply its consequences, in the caller's transaction: the
    attempt, its number and its contact written with one ``UPDATE`` each (plain statements:
    an attempt ends once per dial, and ORM objects cost more than the work). Nothing (False)
    if the attempt has already ended (an attempt ends exactly once) or is not ``campaign``'s
    (its campaign was deleted)."""
    values = _ending_values(ending)
    bound = {"attempt_id": attempt_id, "of_campaign_id": campaign.id, **values}
    row = session.execute(_close_statement(tuple(values)), bound).first()
    if row is None:
        return False
    tenant_id, contact_id, position = row
    crm.enqueue_call_finished(session, Scope.system(tenant_id), attempt_id, ending.at)
    rows = session.execute(
        _contact_numbers_statement(),
        {"contact_id": contact_id, "rule_campaign_id": campaign.id, "outcome": ending.outcome},
    ).all()
    if not rows:
        session.flush()
        return True
    first = rows[0]
    contact = _Contact(*first[:_CONTACT_WIDTH])
    numbers = [
        _Number(*row[_CONTACT_WIDTH:_RULE_AT]) for row in rows if row[_CONTACT_WIDTH] is not None
    ]
    found_rule = None if first[_RULE_AT] is None else tuple(first[_RULE_AT + 1 :])
    rule = _outcome_rule(campaign, ending.outcome, found_rule)
    _close_contact(session, campaign, contact, numbers, position, rule, ending)
    session.flush()
    return True


_ENDING_COLUMNS = (
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
)


def _ending_values(ending: Ending) -> dict[str, object]:
    """The ending's known fields (an unknown one leaves the attempt's value alone)."""
    values = {name: getattr(ending, name) for name in _ENDING_COLUMNS}
    known = {name: value for name, value in values.items() if value is not None}
    return {**known, "ended_at": ending.at}


@cache
def _close_statement(columns: tuple[str, ...]) -> Update:
    """The attempt's closing ``UPDATE ... RETURNING``, built once per set of columns."""
    attempt = ATTEMPTS.c
    return (
        update(ATTEMPTS)
        .where(
            attempt.id == bindparam("attempt_id"),
            attempt.campaign_id == bindparam("of_campaign_id"),
            attempt.outcome.is_(None),
        )
        .values({name: bindparam(name, type_=attempt[name].type) for name in columns})
        .returning(attempt.tenant_id, attempt.contact_id, attempt.phone_position)
    )


@dataclass(slots=True)
class _Contact:
    id: int
    tenant_id: int
    campaign_id: int
    external_id: str | None
    user_data: str | None
    tries: int
    result_code_id: int | None
    status: ContactStatus


@dataclass(slots=True)
class _Number:
    id: int
    position: int
    e164: str | None
    invalid: bool
    tries: int


_CONTACT_WIDTH = len(fields(_Contact))
_RULE_AT = _CONTACT_WIDTH + len(fields(_Number))
_RULE_COLUMNS = ("done", "retry_delay_seconds", "max_tries", "mark_invalid", "add_to_dnc")


@cache
def _contact_numbers_statement() -> Select[Any]:
    """The contact's columns, its numbers' and the campaign's retry rule for the outcome, in
    one statement: a row per number (the number's columns None for a contact without one),
    each with the rule's id and columns (None without a rule: one at most per campaign and
    outcome); no row when the contact is gone."""
    contact = [CONTACTS.c[f.name] for f in fields(_Contact)]
    numbers = [PHONES.c[f.name] for f in fields(_Number)]
    rule = [RETRY_RULES.c.id, *(RETRY_RULES.c[name] for name in _RULE_COLUMNS)]
    rule_for_outcome = and_(
        RETRY_RULES.c.campaign_id == bindparam("rule_campaign_id"),
        RETRY_RULES.c.outcome == bindparam("outcome", type_=RETRY_RULES.c.outcome.type),
    )
    return (
        select(*contact, *numbers, *rule)
        .outerjoin(PHONES, PHONES.c.contact_id == CONTACTS.c.id)
        .outerjoin(RETRY_RULES, rule_for_outcome)
        .where(CONTACTS.c.id == bindparam("contact_id"))
    )


def _close_contact(
    session: Session,
    campaign: CampaignRules,
    contact: _Contact,
    numbers: list[_Number],
    position: int | None,
    rule: Rule,
    ending: Ending,
) -> None:
    """The number's try and the contact's next step, one ``UPDATE`` each."""
    at = ending.at
    number = next((n for n in numbers if n.position == position), None)
    changes: dict[str, object] = {
        "tries": contact.tries + 1,
        "last_call_at": at,
        "last_result_mailbox": ending.outcome is CallOutcome.MACHINE,
        "claimed_at": None,
        "claimed_by": None,
    }
    if number is not None:
        _record_on_number(session, number, ending, rule)
        changes["next_phone_position"] = number.position % MAX_PHONES + 1
        if rule.add_to_dnc and number.e164 is not None:
            _add_to_dnc(session, campaign.tenant_id, number.e164)
    contact.tries += 1
    if rule.done or not any_left(campaign, numbers, rule, number):
        changes["status"] = ContactStatus.DONE
        if contact.status is not ContactStatus.DONE:
            crm.enqueue_contact_done(session, contact, at)
    else:
        changes.update(status=ContactStatus.PENDING, next_try_at=at + rule.delay)
    _update_by_id(session, CONTACTS, contact.id, changes)


def _record_on_number(session: Session, number: _Number, ending: Ending, rule: Rule) -> None:
    number.tries += 1
    changes: dict[str, object] = {
        "tries": number.tries,
        "last_cause": ending.cause_code,
        "last_attempt_at": ending.at,
    }
    if ending.outcome is CallOutcome.ABANDONED:
        changes["abandoned_at"] = ending.at
    if rule.mark_invalid:
        number.invalid = changes["invalid"] = True
    _update_by_id(session, PHONES, number.id, changes)


def _update_by_id(session: Session, table: Table, row_id: int, changes: dict[str, object]) -> None:
    """One row's ``UPDATE`` with a statement built once per set of columns."""
    statement = _update_statement(table, tuple(changes))
    session.execute(statement, {"row_id": row_id, **changes})


@cache
def _update_statement(table: Table, columns: tuple[str, ...]) -> Update:
    return (
        update(table)
        .where(table.c.id == bindparam("row_id"))
        .values({name: bindparam(name, type_=table.c[name].type) for name in columns})
    )


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
