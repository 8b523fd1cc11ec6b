"""The admin pages (issue 21 §3): campaigns, lists and contacts with the CSV import, DNC, users
and groups, recordings, exports and CRM.

Each page is a shell; its script (``static/admin.js``) works through the native API with the
page's login (session cookie + CSRF header), so every rule, scope and error is the API's own.
Supervisors may open the pages: what their role may not change, the API refuses (403), and the
page says so in words."""

from typing import Literal

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from opendialer.console.pages import _page, _page_login
from opendialer.models import User, UserRole
from opendialer.scoping import require_role
from opendialer.web.db import DbSession
from opendialer.web.routes import IndexedRouter, OneTripRoute

AdminSection = Literal[
    "campaigns", "import", "contacts", "dnc", "users", "recordings", "exports", "crm"
]
# The navigation, in order: (section, title).
SECTIONS: tuple[tuple[AdminSection, str], ...] = (
    ("campaigns", "Campaigns"),
    ("import", "Import"),
    ("contacts", "Contacts"),
    ("dnc", "Do not call"),
    ("users", "Users and groups"),
    ("recordings", "Recordings"),
    ("exports", "Exports"),
    ("crm", "CRM"),
)

admin_pages = IndexedRouter(
    route_class=OneTripRoute, prefix="/console/admin", include_in_schema=False
)


@admin_pages.get("/{section}", response_class=HTMLResponse)
def admin_page(section: AdminSection, request: Request, session: DbSession) -> Response:
    """Supervisors and admins; an agent gets 403."""
    login = _page_login(request, session)
    if isinstance(login, RedirectResponse):
        return login
    require_role(login.scope, UserRole.SUPERVISOR)
    user = session.get_one(User, login.scope.user_id)
    return _page(
        request,
        f"admin/{section}.html",
        csrf_token=login.record.csrf_token,
        user=user,
        section=section,
        sections=SECTIONS,
        is_admin=login.scope.role is UserRole.ADMIN,
    )
