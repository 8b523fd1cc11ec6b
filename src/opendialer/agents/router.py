"""Native API: users (agents, supervisors, admins), agent groups and group membership."""

from typing import Annotated

from fastapi import Query, Response

from opendialer.accounts.roles import AdminScope, SupervisorScope
from opendialer.agents import service
from opendialer.agents.schemas import (
    GroupCreate,
    GroupMemberAdd,
    GroupRead,
    GroupUpdate,
    UserCreate,
    UserRead,
    UserUpdate,
)
from opendialer.models import AgentGroup, User, UserRole
from opendialer.pagination import Page, PageParams, fetch_page
from opendialer.web.db import DbSession
from opendialer.web.params import RecordId
from opendialer.web.routes import IndexedRouter, OneTripRoute

router = IndexedRouter(route_class=OneTripRoute, tags=["users and groups"])


@router.post("/users", status_code=201, response_model=UserRead)
def create_user(body: UserCreate, session: DbSession, who: AdminScope) -> User:
    return service.create_user(session, who, body)


@router.get("/users", response_model=Page[UserRead])
def list_users(
    session: DbSession,
    who: SupervisorScope,
    page: PageParams,
    role: UserRole | None = None,
    active: bool | None = None,
    extension: Annotated[str | None, Query(max_length=50)] = None,
    member_code: Annotated[str | None, Query(max_length=100)] = None,
) -> Page[UserRead]:
    stmt = service.users_query(
        who, role=role, active=active, extension=extension, member_code=member_code
    )
    return fetch_page(session, stmt, User.id, page, UserRead)


@router.get("/users/{user_id}", response_model=UserRead)
def get_user(user_id: RecordId, session: DbSession, who: SupervisorScope) -> User:
    return service.get_user(session, who, user_id)


@router.patch("/users/{user_id}", response_model=UserRead)
def update_user(user_id: RecordId, body: UserUpdate, session: DbSession, who: AdminScope) -> User:
    return service.update_user(session, who, user_id, body)


@router.delete("/users/{user_id}", status_code=204)
def delete_user(user_id: RecordId, session: DbSession, who: AdminScope) -> None:
    service.delete_user(session, who, user_id)


@router.get("/users/{user_id}/groups", response_model=Page[GroupRead])
def user_groups(
    user_id: RecordId, session: DbSession, who: SupervisorScope, page: PageParams
) -> Page[GroupRead]:
    user = service.get_user(session, who, user_id)
    return fetch_page(session, service.user_groups_query(user), AgentGroup.id, page, GroupRead)


@router.post("/groups", status_code=201, response_model=GroupRead)
def create_group(body: GroupCreate, session: DbSession, who: AdminScope) -> AgentGroup:
    return service.create_group(session, who, body)


@router.get("/groups", response_model=Page[GroupRead])
def list_groups(
    session: DbSession,
    who: SupervisorScope,
    page: PageParams,
    name: Annotated[str | None, Query(max_length=200, description="Part of the name")] = None,
) -> Page[GroupRead]:
    return fetch_page(session, service.groups_query(who, name), AgentGroup.id, page, GroupRead)


@router.get("/groups/{group_id}", response_model=GroupRead)
def get_group(group_id: RecordId, session: DbSession, who: SupervisorScope) -> AgentGroup:
    return service.get_group(session, who, group_id)


@router.patch("/groups/{group_id}", response_model=GroupRead)
def update_group(
    group_id: RecordId, body: GroupUpdate, session: DbSession, who: AdminScope
) -> AgentGroup:
    return service.update_group(session, who, group_id, body)


@router.delete("/groups/{group_id}", status_code=204)
def delete_group(group_id: RecordId, session: DbSession, who: AdminScope) -> None:
    service.delete_group(session, who, group_id)


@router.get("/groups/{group_id}/members", response_model=Page[UserRead])
def group_members(
    group_id: RecordId, session: DbSession, who: SupervisorScope, page: PageParams
) -> Page[UserRead]:
    group = service.get_group(session, who, group_id)
    return fetch_page(session, service.group_members_query(group), User.id, page, UserRead)


@router.post(
    "/groups/{group_id}/members",
    status_code=201,
    response_model=UserRead,
    responses={200: {"model": UserRead, "description": "Already a member"}},
)
def add_group_member(
    group_id: RecordId,
    body: GroupMemberAdd,
    session: DbSession,
    who: AdminScope,
    response: Response,
) -> User:
    """Add the user to the group: 201 when they join, 200 when they were already a member."""
    group = service.get_group(session, who, group_id)
    user, joined = service.add_group_member(session, group, body.user_id)
    if not joined:
        response.status_code = 200
    return user


@router.delete("/groups/{group_id}/members/{user_id}", status_code=204)
def remove_group_member(
    group_id: RecordId, user_id: RecordId, session: DbSession, who: AdminScope
) -> None:
    group = service.get_group(session, who, group_id)
    service.remove_group_member(session, group, user_id)
