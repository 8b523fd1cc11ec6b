"""Who may call a native route, decided in its signature: the scope parameter's type names the
least role the route needs (agent < supervisor < admin), and the dependency behind the type is
the one place that calls :func:`opendialer.scoping.require_role` (a 403 ``forbidden``).

``...ReadScope`` types authenticate in a read-only transaction (see ``ReadScope``)."""

import inspect
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends

from opendialer.accounts.dependencies import current_principal, read_principal
from opendialer.models import UserRole
from opendialer.scoping import Scope, require_role

ScopeDependency = Callable[..., Any]


def _requiring(role: UserRole, principal: ScopeDependency) -> ScopeDependency:
    """``principal`` and the role check as one dependency with ``principal``'s parameters: a
    dependency wrapping it would be one more level for FastAPI to solve on every request."""

    async def dependency(**values: Any) -> Scope:
        who: Scope = await principal(**values)
        require_role(who, role)
        return who

    dependency.__name__ = f"{role.value}_{principal.__name__}"
    dependency.__signature__ = inspect.signature(principal)  # type: ignore[attr-defined]
    return dependency


agent_scope = _requiring(UserRole.AGENT, current_principal)
supervisor_scope = _requiring(UserRole.SUPERVISOR, current_principal)
admin_scope = _requiring(UserRole.ADMIN, current_principal)
agent_read_scope = _requiring(UserRole.AGENT, read_principal)
supervisor_read_scope = _requiring(UserRole.SUPERVISOR, read_principal)
admin_read_scope = _requiring(UserRole.ADMIN, read_principal)

AgentScope = Annotated[Scope, Depends(agent_scope)]
SupervisorScope = Annotated[Scope, Depends(supervisor_scope)]
AdminScope = Annotated[Scope, Depends(admin_scope)]
AgentReadScope = Annotated[Scope, Depends(agent_read_scope)]
SupervisorReadScope = Annotated[Scope, Depends(supervisor_read_scope)]
AdminReadScope = Annotated[Scope, Depends(admin_read_scope)]

# The role behind each dependency: the walk (tests/test_walk.py) reads a route's role here.
ROLE_DEPENDENCIES: dict[ScopeDependency, UserRole] = {
    agent_scope: UserRole.AGENT,
    supervisor_scope: UserRole.SUPERVISOR,
    admin_scope: UserRole.ADMIN,
    agent_read_scope: UserRole.AGENT,
    supervisor_read_scope: UserRole.SUPERVISOR,
    admin_read_scope: UserRole.ADMIN,
}
