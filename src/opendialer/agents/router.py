"""Native API: agents (being built)."""

from fastapi import APIRouter

router = APIRouter(tags=["agents"])
