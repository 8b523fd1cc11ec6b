"""Voicenter fixtures: an Israeli account with an agent-dialer and a smart-dialer campaign."""

from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from opendialer.accounts.service import NewTenant
from opendialer.campaigns.codes import CodeKey
from opendialer.campaigns.schemas import CampaignCreate
from opendialer.campaigns.service import create_campaign
from opendialer.config import Settings
from opendialer.db import SessionMaker, unit_of_work
from opendialer.models import DialMode, Tenant, User, UserRole
from opendialer.scoping import Scope
from tests.conftest import make_tenant

BASE = "/ForwardDialer/Dialer/"


@dataclass(frozen=True)
class Account:
    tenant_id: int
    code: str  # the account code (GetCampaignList)
    agent: str  # code of the agent-dialer campaign (progressive)
    smart: str  # code of the smart-dialer campaign (predictive)
    agent_id: int
    smart_id: int


def add_campaign(
    sessions: SessionMaker, tenant_id: int, name: str, mode: DialMode, key: CodeKey
) -> tuple[int, str]:
    with unit_of_work(sessions) as s:
        tenant = s.get_one(Tenant, tenant_id)
        campaign = create_campaign(
            s,
            Scope.system(tenant.id),
            CampaignCreate(name=name, dial_mode=mode, calling_days=[1, 2, 3, 4, 5, 6, 7]),
        )
        code = key.of(campaign)
        assert code is not None
        return campaign.id, code


def add_agent(sessions: SessionMaker, tenant_id: int, sip: str, name: str) -> int:
    with unit_of_work(sessions) as s:
        user = User(
            tenant_id=tenant_id,
            username=sip.lower(),
            role=UserRole.AGENT,
            display_name=name,
            member_code=sip,
            extension=sip[-3:],
            sip_uri=f"sip:{sip}@sim",
        )
        s.add(user)
        s.flush()
        return user.id


@pytest.fixture
def israel(sessions: SessionMaker) -> NewTenant:
    new = make_tenant(sessions, "Voicenter customer", region="IL")
    with unit_of_work(sessions) as s:
        s.get_one(Tenant, new.tenant.id).timezone = "Asia/Jerusalem"
    return new


@pytest.fixture
def code_key(settings: Settings) -> CodeKey:
    """The key the app under test makes campaign codes with."""
    return CodeKey(settings.secret_key.get_secret_value())


@pytest.fixture
def account(sessions: SessionMaker, israel: NewTenant, code_key: CodeKey) -> Account:
    tenant_id = israel.tenant.id
    agent_id, agent = add_campaign(sessions, tenant_id, "Campaign1", DialMode.PROGRESSIVE, code_key)
    smart_id, smart = add_campaign(sessions, tenant_id, "Campaign2", DialMode.PREDICTIVE, code_key)
    return Account(israel.tenant.id, israel.account_code, agent, smart, agent_id, smart_id)


def call(client: TestClient, method: str, body: Any = None, **query: Any) -> dict[str, Any]:
    """POST-JSON when a body is given, GET otherwise; the answer must be HTTP 200 JSON."""
    if body is None:
        response = client.get(BASE + method, params=query)
    else:
        response = client.post(BASE + method, json=body, params=query)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    answer: dict[str, Any] = response.json()
    return answer
