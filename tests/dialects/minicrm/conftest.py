"""MiniCRM fixtures: a Hungarian tenant (the examples' numbers), its client, an agent and a
contact holding the examples' number."""

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from opendialer.accounts.service import NewTenant
from opendialer.db import SessionMaker
from tests.conftest import make_tenant


@pytest.fixture
def hu_tenant(sessions: SessionMaker) -> NewTenant:
    """The examples' numbers are Hungarian national numbers."""
    return make_tenant(sessions, "Budapest Kft", region="HU")


@pytest.fixture
def hu_api(app: FastAPI, hu_tenant: NewTenant) -> Iterator[TestClient]:
    headers = {"Authorization": f"Bearer {hu_tenant.api_key}"}
    with TestClient(app, headers=headers, raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def contact_id(hu_api: TestClient) -> int:
    """An agent with extension 001 and a contact holding the examples' number (2nd position)."""
    user = hu_api.post("/api/v1/users", json={"username": "anna", "extension": "001"})
    assert user.status_code == 201, user.text
    campaign = hu_api.post("/api/v1/campaigns", json={"name": "C", "dial_mode": "progressive"})
    assert campaign.status_code == 201, campaign.text
    contact = hu_api.post(
        f"/api/v1/campaigns/{campaign.json()['id']}/contacts",
        json={"phones": ["+36 1 234 5678", "06 20 123 456"]},
    )
    assert contact.status_code == 201, contact.text
    return int(contact.json()["id"])
