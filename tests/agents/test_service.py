"""Agents service: lookups the dialects and the engine use, passwords, membership rules."""

import pytest
from sqlalchemy.orm import Session

from opendialer.accounts.service import NewTenant, authenticate_user
from opendialer.agents import service
from opendialer.agents.schemas import GroupCreate, UserCreate, UserUpdate
from opendialer.errors import Conflict, NotFound, Unauthorized
from opendialer.models import AgentSession, AgentState, User
from opendialer.scoping import Scope
from opendialer.security import verify_password


def _user(session: Session, tenant: NewTenant, username: str, **fields: object) -> User:
    return service.create_user(
        session,
        Scope.system(tenant.tenant.id),
        UserCreate.model_validate({"username": username, **fields}),
    )


def test_lookup_by_extension_and_member_code_stays_in_the_tenant(
    session: Session, tenant: NewTenant, other_tenant: NewTenant
) -> None:
    anna = _user(session, tenant, "anna", extension="201", member_code="SIPSIP1")
    theirs = _user(session, other_tenant, "anna", extension="201", member_code="SIPSIP1")
    tid = tenant.tenant.id
    assert service.get_user_by_extension(session, Scope.system(tid), "201") is anna
    assert service.get_user_by_member_code(session, Scope.system(tid), "SIPSIP1") is anna
    assert (
        service.get_user_by_member_code(session, Scope.system(other_tenant.tenant.id), "SIPSIP1")
        is theirs
    )
    assert service.get_user_by_extension(session, Scope.system(tid), "202") is None
    assert (
        service.get_user_by_member_code(session, Scope.system(tid), "sipsip1") is None
    )  # exact match


def test_find_groups_by_name_is_a_partial_match_ignoring_case(
    session: Session, tenant: NewTenant, other_tenant: NewTenant
) -> None:
    tid = tenant.tenant.id
    for name in ("Sales Berlin", "Sales Munich", "Support", "100% Sales"):
        service.create_group(session, Scope.system(tid), GroupCreate(name=name))
    service.create_group(
        session, Scope.system(other_tenant.tenant.id), GroupCreate(name="Sales Hamburg")
    )

    def names(part: str) -> list[str]:
        return [g.name for g in service.find_groups_by_name(session, Scope.system(tid), part)]

    assert names("sales") == ["Sales Berlin", "Sales Munich", "100% Sales"]
    assert names("Berlin Sales") == []
    assert names("ES BER") == ["Sales Berlin"]
    assert names("0%") == ["100% Sales"]  # % is a plain character, not a wildcard
    assert names("_") == []


def test_password_is_hashed_kept_verbatim_and_can_be_removed(
    session: Session, tenant: NewTenant
) -> None:
    anna = _user(session, tenant, "anna", password="  spaced pass  ")
    assert anna.password_hash is not None and "spaced" not in anna.password_hash
    assert verify_password("  spaced pass  ", anna.password_hash)
    session.commit()
    principal = authenticate_user(session, f"anna@{tenant.tenant.id}", "  spaced pass  ")
    assert principal.user_id == anna.id
    service.update_user(session, Scope.system(tenant.tenant.id), anna.id, UserUpdate(password=None))
    assert anna.password_hash is None
    session.commit()
    with pytest.raises(Unauthorized):
        authenticate_user(session, f"anna@{tenant.tenant.id}", "  spaced pass  ")


def test_a_signed_in_agent_cannot_be_deleted(session: Session, tenant: NewTenant) -> None:
    tid = tenant.tenant.id
    anna = _user(session, tenant, "anna")
    session.add(AgentSession(user_id=anna.id, tenant_id=tid, state=AgentState.READY))
    session.flush()
    with pytest.raises(Conflict) as raised:
        service.delete_user(session, Scope.system(tid), anna.id)
    assert raised.value.code == "agent_signed_in"
    agent = session.get(AgentSession, anna.id)
    assert agent is not None
    agent.state = AgentState.LOGGED_OUT
    service.delete_user(session, Scope.system(tid), anna.id)
    session.expire_all()
    assert session.get(User, anna.id) is None


def test_membership_is_idempotent_and_tenant_scoped(
    session: Session, tenant: NewTenant, other_tenant: NewTenant
) -> None:
    tid = tenant.tenant.id
    anna = _user(session, tenant, "anna")
    stranger = _user(session, other_tenant, "stranger")
    group = service.create_group(session, Scope.system(tid), GroupCreate(name="Sales"))
    assert service.add_group_member(session, group, anna.id) == (anna, True)
    assert service.add_group_member(session, group, anna.id) == (anna, False)
    with pytest.raises(NotFound):
        service.add_group_member(session, group, stranger.id)
    assert service.group_members(session, group) == [anna]
    assert service.user_groups(session, anna) == [group]
    service.remove_group_member(session, group, anna.id)
    with pytest.raises(NotFound):
        service.remove_group_member(session, group, anna.id)
    assert service.group_members(session, group) == []


def test_member_code_is_unique_per_tenant_on_update(session: Session, tenant: NewTenant) -> None:
    tid = tenant.tenant.id
    _user(session, tenant, "anna", member_code="m1")
    bob = _user(session, tenant, "bob", member_code="m2")
    with pytest.raises(Conflict) as raised:
        service.update_user(session, Scope.system(tid), bob.id, UserUpdate(member_code="m1"))
    assert raised.value.code == "duplicate_member_code"
    same = service.update_user(session, Scope.system(tid), bob.id, UserUpdate(member_code="m2"))
    assert same.member_code == "m2"  # keeping one's own value is no conflict
