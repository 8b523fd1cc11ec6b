"""Native API: dnc (being built)."""

from fastapi import APIRouter

router = APIRouter(tags=["dnc"])
