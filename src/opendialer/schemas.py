"""Reusable Pydantic building blocks for request and response schemas."""

from typing import Annotated
from zoneinfo import available_timezones

from fastapi import Path
from pydantic import AfterValidator, BaseModel, ConfigDict

RecordId = Annotated[int, Path(ge=1, le=2**63 - 1, description="Record id")]


def _check_timezone(value: str) -> str:
    if value not in available_timezones():
        raise ValueError(f"unknown time zone {value!r} (use an IANA name like 'Europe/Berlin')")
    return value


TimeZoneName = Annotated[str, AfterValidator(_check_timezone)]


class InputModel(BaseModel):
    """Request bodies: unknown fields are errors, so typos do not pass silently."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class OutputModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)
