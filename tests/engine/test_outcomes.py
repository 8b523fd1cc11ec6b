"""Attempt endings: one terminal state each, and their effect on numbers and contacts."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from opendialer.accounts.service import NewTenant
from opendialer.engine.outcomes import Ending, finish_attempt, set_result_code, start_attempt
from opendialer.engine.selection import claim_next
from opendialer.models import (
    CallAttempt,
    CallOutcome,
    Campaign,
    Contact,
    ContactStatus,
    DncEntry,
    ResultAction,
    ResultCode,
    RetryRule,
)
from tests.engine.helpers import NOW, make_campaign, make_contact
from tests.statements import statements_sent


def dial(session: Session, campaign: Campaign) -> CallAttempt:
    claim = claim_next(session, campaign, NOW, "t")
    assert claim is not None
    return session.get_one(CallAttempt, start_attempt(session, campaign, claim, NOW, "t").id)


def test_busy_retries_later_on_the_next_number(session: Session, tenant: NewTenant) -> None:
    campaign = make_campaign(session, tenant)
    contact = make_contact(session, campaign, "+4930100", "+4930101")
    attempt = dial(session, campaign)
    finish_attempt(session, campaign, attempt, Ending(CallOutcome.BUSY, NOW, 486, 17))
    session.refresh(contact)
    assert attempt.outcome is CallOutcome.BUSY and attempt.ended_at == NOW
    assert contact.status is ContactStatus.PENDING
    assert contact.next_try_at == NOW + timedelta(minutes=10)
    assert contact.next_phone_position == 2
    assert (contact.phones[0].tries, contact.phones[0].last_cause) == (1, 17)


def test_an_attempt_ends_once(session: Session, tenant: NewTenant) -> None:
    campaign = make_campaign(session, tenant)
    contact = make_contact(session, campaign, "+4930100")
    attempt = dial(session, campaign)
    finish_attempt(session, campaign, attempt, Ending(CallOutcome.NO_ANSWER, NOW))
    finish_attempt(session, campaign, attempt, Ending(CallOutcome.BUSY, NOW))
    assert attempt.outcome is CallOutcome.NO_ANSWER
    assert contact.phones[0].tries == 1


def test_invalid_number_is_flagged_and_last_number_finishes(
    session: Session, tenant: NewTenant
) -> None:
    campaign = make_campaign(session, tenant)
    contact = make_contact(session, campaign, "+4930100")
    finish_attempt(
        session, campaign, dial(session, campaign), Ending(CallOutcome.INVALID_NUMBER, NOW, 404, 1)
    )
    assert contact.phones[0].invalid is True
    assert contact.status is ContactStatus.DONE


def test_abandoned_marks_the_number_for_72_hours(session: Session, tenant: NewTenant) -> None:
    campaign = make_campaign(session, tenant)
    contact = make_contact(session, campaign, "+4930100")
    finish_attempt(session, campaign, dial(session, campaign), Ending(CallOutcome.ABANDONED, NOW))
    assert contact.phones[0].abandoned_at == NOW
    assert contact.next_try_at == NOW + timedelta(hours=72)


def test_out_of_tries_finishes_the_contact(session: Session, tenant: NewTenant) -> None:
    campaign = make_campaign(session, tenant)
    campaign.max_tries_per_number = 1
    contact = make_contact(session, campaign, "+4930100")
    finish_attempt(session, campaign, dial(session, campaign), Ending(CallOutcome.NO_ANSWER, NOW))
    assert contact.status is ContactStatus.DONE


def test_campaign_retry_rule_overrides_the_default(session: Session, tenant: NewTenant) -> None:
    campaign = make_campaign(session, tenant)
    session.add(
        RetryRule(
            campaign_id=campaign.id,
            outcome=CallOutcome.MACHINE,
            retry_delay_seconds=7200,
            add_to_dnc=False,
            done=False,
        )
    )
    contact = make_contact(session, campaign, "+4930100")
    finish_attempt(session, campaign, dial(session, campaign), Ending(CallOutcome.MACHINE, NOW))
    assert contact.next_try_at == NOW + timedelta(hours=2)
    assert contact.last_result_mailbox is True


@pytest.mark.parametrize(
    ("action", "status", "dnc"),
    [
        (ResultAction.DONE, ContactStatus.DONE, 0),
        (ResultAction.RETRY, ContactStatus.PENDING, 0),
        (ResultAction.ADD_TO_DNC, ContactStatus.DONE, 1),
    ],
)
def test_result_codes_decide_after_a_connect(
    session: Session, tenant: NewTenant, action: ResultAction, status: ContactStatus, dnc: int
) -> None:
    campaign = make_campaign(session, tenant)
    code = ResultCode(
        tenant_id=campaign.tenant_id,
        campaign_id=campaign.id,
        code="X",
        text_en="X",
        text_de="X",
        action=action,
        retry_delay_seconds=60,
    )
    session.add(code)
    contact = make_contact(session, campaign, "+4930100")
    attempt = dial(session, campaign)
    finish_attempt(session, campaign, attempt, Ending(CallOutcome.CONNECTED, NOW, user_id=None))
    assert contact.status == ContactStatus.DONE
    set_result_code(session, campaign, attempt, code, NOW)
    assert contact.status is status and contact.result_code_id == code.id
    assert attempt.result_code_id == code.id
    assert session.scalar(select(func.count()).select_from(DncEntry)) == dnc
    if action is ResultAction.RETRY:
        assert contact.next_try_at == NOW + timedelta(seconds=60)


def test_contact_claim_is_released(session: Session, tenant: NewTenant) -> None:
    campaign = make_campaign(session, tenant)
    make_contact(session, campaign, "+4930100")
    attempt = dial(session, campaign)
    contact = session.get_one(Contact, attempt.contact_id)
    assert contact.status is ContactStatus.IN_CALL
    finish_attempt(session, campaign, attempt, Ending(CallOutcome.CANCELLED, NOW))
    assert (contact.status, contact.claimed_by, contact.next_try_at) == (
        ContactStatus.PENDING,
        None,
        NOW,
    )


def test_a_finished_contact_is_written_once(session: Session, tenant: NewTenant) -> None:
    """Its end, its status and the CRM's queue in one flush, not an UPDATE per step."""
    campaign = make_campaign(session, tenant)
    contact = make_contact(session, campaign, "+4930100")
    attempt = dial(session, campaign)
    session.flush()
    session.expire_all()  # read afresh, as the engine's closing transaction does
    with statements_sent(session.connection().engine) as statements:
        finish_attempt(session, campaign, attempt, Ending(CallOutcome.CONNECTED, NOW))
    assert len([s for s in statements if s.startswith("UPDATE contacts ")]) == 1, statements
    session.refresh(contact)
    assert (contact.status, contact.tries) == (ContactStatus.DONE, 1)


def test_closing_reads_the_contact_its_numbers_and_the_rule_in_one_statement(
    session: Session, tenant: NewTenant
) -> None:
    """A rule that allows one try a number: the first number's end moves to the second (its
    delay, the rule's), the second's finishes the contact; a contact's numbers, its columns and
    the campaign's rule for the outcome are one SELECT."""
    campaign = make_campaign(session, tenant)
    session.add(
        RetryRule(
            campaign_id=campaign.id,
            outcome=CallOutcome.NO_ANSWER,
            retry_delay_seconds=600,
            max_tries=1,
        )
    )
    contact = make_contact(session, campaign, "+4930100", "+4930101")
    first = dial(session, campaign)
    session.flush()
    session.expire_all()
    with statements_sent(session.connection().engine) as statements:
        finish_attempt(session, campaign, first, Ending(CallOutcome.NO_ANSWER, NOW))
    tables = ("FROM contacts", "contact_phones", "retry_rules")
    reads = [s for s in statements if s.startswith("SELECT") and any(t in s for t in tables)]
    assert len(reads) == 1 and all(t in reads[0] for t in tables), reads
    session.refresh(contact)
    assert (contact.status, contact.next_try_at) == (
        ContactStatus.PENDING,
        NOW + timedelta(minutes=10),
    )
    contact.next_try_at = NOW
    session.flush()
    finish_attempt(session, campaign, dial(session, campaign), Ending(CallOutcome.NO_ANSWER, NOW))
    session.refresh(contact)
    assert contact.status is ContactStatus.DONE
    assert [p.tries for p in contact.phones] == [1, 1]
