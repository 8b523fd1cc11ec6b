"""Dialing services below the API: what a result code tells pacing."""

from sqlalchemy.orm import Session

from opendialer.accounts.service import NewTenant
from opendialer.dialing.service import set_result
from opendialer.models import CallOutcome, ResultCode, User, UserRole
from opendialer.scoping import Scope
from tests.engine.helpers import NOW, make_campaign, make_contact
from tests.factories import make_attempt


def test_a_machine_result_is_reported_once_per_call(session: Session, tenant: NewTenant) -> None:
    campaign = make_campaign(session, tenant)
    contact = make_contact(session, campaign, "+4930100")
    agent = User(tenant_id=tenant.tenant.id, username="agent", role=UserRole.AGENT)
    machine, sale = (
        ResultCode(
            tenant_id=tenant.tenant.id,
            campaign_id=campaign.id,
            code=code,
            text_en=code,
            text_de=code,
            answering_machine=code == "AM",
        )
        for code in ("AM", "SALE")
    )
    session.add_all([agent, machine, sale])
    session.flush()
    attempt = make_attempt(
        session,
        tenant.tenant.id,
        campaign_id=campaign.id,
        contact_id=contact.id,
        user_id=agent.id,
        phone_position=1,
        b_number="+4930100",
        started_at=NOW,
        outcome=CallOutcome.CONNECTED,
    )

    def result(code: ResultCode) -> int | None:
        return set_result(
            session,
            Scope.system(tenant.tenant.id),
            user_id=agent.id,
            attempt_id=attempt.id,
            code_id=code.id,
            now=NOW,
        )

    assert result(sale) is None
    assert result(machine) == campaign.id
    assert result(machine) is None  # the same call again: already counted
    assert result(sale) is None
    # Changed back and forth: counted again, which errs safe (fewer people, a wider margin).
    assert result(machine) == campaign.id
