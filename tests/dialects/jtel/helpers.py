"""Arranging jtel test data through the native services."""

from typing import Any

from sqlalchemy.orm import Session

from opendialer.accounts.service import NewTenant
from opendialer.agents.schemas import GroupCreate
from opendialer.agents.service import create_group
from opendialer.campaigns.schemas import CampaignCreate, ResultCodeCreate
from opendialer.campaigns.service import create_campaign, create_result_code
from opendialer.models import AgentGroup, Campaign
from opendialer.scoping import Scope

NUMBERS = [f"+4989461495{700 + i}" for i in range(6)]


def campaign(session: Session, tenant: NewTenant, name: str = "Campaign 1000") -> Campaign:
    data = CampaignCreate(name=name, dial_mode="progressive", language_id=2)
    return create_campaign(session, Scope.system(tenant.tenant.id), data)


def result_code(session: Session, camp: Campaign, code: str, en: str, de: str) -> None:
    create_result_code(
        session, camp, ResultCodeCreate(code=code, text_en=en, text_de=de, type_id=3)
    )


def group(
    session: Session, tenant: NewTenant, name: str, no_duplicates: bool = False
) -> AgentGroup:
    data = GroupCreate(name=name, no_duplicate_events=no_duplicates)
    return create_group(session, Scope.system(tenant.tenant.id), data)


def import_body(campaign_id: int, user_data: str = "u1", **extra: Any) -> dict[str, Any]:
    return {
        "DiallerCampaignsID": campaign_id,
        "UserData": user_data,
        "Name": "Mustermann",
        "PhoneNumber1": NUMBERS[0],
        **extra,
    }
