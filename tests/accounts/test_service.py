"""Logins: a name resolves to one user before any password is hashed; every failure costs
exactly one scrypt, so neither CPU nor time grows with the tenants or tells names apart."""

import hashlib
from collections.abc import Callable
from typing import Any

import pytest

from opendialer.accounts.service import NewTenant, authenticate_user
from opendialer.db import SessionMaker, unit_of_work
from opendialer.errors import Unauthorized
from opendialer.models import User
from opendialer.security import hash_password
from tests.conftest import make_tenant


@pytest.fixture
def scrypt_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the real scrypt runs (each one still runs)."""
    calls: list[int] = []
    real: Callable[..., bytes] = hashlib.scrypt

    def counting(*args: Any, **kwargs: Any) -> bytes:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr("opendialer.security.hashlib.scrypt", counting)
    return calls


@pytest.fixture
def tenants(sessions: SessionMaker) -> list[NewTenant]:
    """Five tenants, each with its own user called admin (as every tenant has)."""
    return [make_tenant(sessions, f"T{i}") for i in range(5)]


def login(sessions: SessionMaker, name: str, password: str) -> int:
    with unit_of_work(sessions) as session:
        return authenticate_user(session, name, password).tenant_id


@pytest.mark.parametrize(
    "name",
    ["admin", "nobody", "admin@999999", "admin@²", "admin@", "@", "admin@1@2", "admin@" + "9" * 40],
)
def test_a_failed_login_costs_one_hash(
    sessions: SessionMaker, tenants: list[NewTenant], scrypt_calls: list[int], name: str
) -> None:
    with pytest.raises(Unauthorized):
        login(sessions, name, "wrong")
    assert len(scrypt_calls) == 1


def test_the_right_password_of_a_shared_name_needs_the_tenant(
    sessions: SessionMaker, tenants: list[NewTenant], scrypt_calls: list[int]
) -> None:
    third = tenants[2]
    with pytest.raises(Unauthorized, match="@<tenant id>"):
        login(sessions, "admin", third.admin_password)
    assert login(sessions, f"admin@{third.tenant.id}", third.admin_password) == third.tenant.id
    assert len(scrypt_calls) == 2
    with pytest.raises(Unauthorized):  # another tenant's password for this tenant's admin
        login(sessions, f"admin@{third.tenant.id}", tenants[1].admin_password)


def test_unique_names_and_names_with_at_signs(
    sessions: SessionMaker, tenants: list[NewTenant]
) -> None:
    tenant_id = tenants[0].tenant.id
    with unit_of_work(sessions) as session:
        for name in ("solo", "ann@example.com"):
            session.add(User(tenant_id=tenant_id, username=name, password_hash=hash_password("pw")))
    assert login(sessions, "solo", "pw") == tenant_id
    assert login(sessions, "ann@example.com", "pw") == tenant_id
    assert login(sessions, f"ann@example.com@{tenant_id}", "pw") == tenant_id
    with pytest.raises(Unauthorized):
        login(sessions, "solo", "wrong")
