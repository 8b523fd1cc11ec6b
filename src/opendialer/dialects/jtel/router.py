"""The jtel dialect's routes: contacts, campaigns, ACD; mounted under ``jtel_base_path``."""

from opendialer.dialects.jtel import acd, campaigns, contacts
from opendialer.dialects.jtel.routing import not_routed
from opendialer.dialects.kit import answer_all_paths
from opendialer.web.routes import IndexedRouter, OneTripRoute

router = IndexedRouter(route_class=OneTripRoute)
router.include_router(contacts.router)
router.include_router(campaigns.router)
router.include_router(acd.router)
answer_all_paths(router, not_routed)  # last: anything else answers in the jtel envelope too
