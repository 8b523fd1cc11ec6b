"""Clients speaking the jtel dialect as a tenant's administrator (HTTP Basic)."""

import base64
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from opendialer.accounts.service import NewTenant

BASE = "/jtel"


def basic(tenant: NewTenant) -> dict[str, str]:
    token = f"{tenant.admin_user}@{tenant.tenant.id}:{tenant.admin_password}"
    return {"Authorization": "Basic " + base64.b64encode(token.encode()).decode()}


@pytest.fixture
def jtel(app: FastAPI, tenant: NewTenant) -> Iterator[TestClient]:
    with TestClient(
        app,
        base_url=f"http://testserver{BASE}",
        headers=basic(tenant),
        raise_server_exceptions=False,
    ) as client:
        yield client


@pytest.fixture
def other_jtel(app: FastAPI, other_tenant: NewTenant) -> Iterator[TestClient]:
    with TestClient(
        app,
        base_url=f"http://testserver{BASE}",
        headers=basic(other_tenant),
        raise_server_exceptions=False,
    ) as client:
        yield client
