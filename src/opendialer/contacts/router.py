"""Native API: contacts (being built)."""

from fastapi import APIRouter

router = APIRouter(tags=["contacts"])
