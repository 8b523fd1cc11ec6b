"""Fixtures for the mmDial dialect: an admin's Basic-auth client, storage in tmp_path."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from opendialer.accounts.service import NewTenant
from opendialer.config import Settings

BASE = "/mmdial/api/"


@pytest.fixture(autouse=True)
def storage(settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(settings, "recordings_dir", tmp_path / "recordings")
    monkeypatch.setattr(settings, "exports_dir", tmp_path / "exports")
    return tmp_path


@pytest.fixture
def mm(app: FastAPI, tenant: NewTenant) -> Iterator[TestClient]:
    """A client signed in as the tenant's admin with HTTP Basic."""
    auth = (f"{tenant.admin_user}@{tenant.tenant.id}", tenant.admin_password)
    with TestClient(
        app, base_url="http://testserver" + BASE, raise_server_exceptions=False
    ) as client:
        client.auth = auth
        yield client
