"""Native API: bulk contact import (being built)."""

from fastapi import APIRouter

router = APIRouter(tags=["contacts"])
