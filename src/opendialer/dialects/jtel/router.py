"""The jtel dialect's routes: contacts, campaigns, ACD; mounted under ``jtel_base_path``."""

from fastapi import APIRouter

from opendialer.dialects.jtel import acd, campaigns, contacts
from opendialer.dialects.jtel.routing import not_routed

ANY_METHOD = ["GET", "POST", "PUT", "PATCH", "DELETE"]

router = APIRouter()
router.include_router(contacts.router)
router.include_router(campaigns.router)
router.include_router(acd.router)
# Last: anything else under the base path answers in the jtel envelope too.
router.add_api_route("/{path:path}", not_routed, methods=ANY_METHOD, include_in_schema=False)
