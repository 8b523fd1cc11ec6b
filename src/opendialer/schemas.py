"""Reusable Pydantic building blocks for request and response schemas."""

from datetime import date, time
from typing import Annotated, Any
from zoneinfo import available_timezones

from pydantic import AfterValidator, BaseModel, ConfigDict, WithJsonSchema, field_validator

from opendialer.inputs import check_date, check_int, check_text


def _check_timezone(value: str) -> str:
    if value not in available_timezones():
        raise ValueError(f"unknown time zone {value!r} (use an IANA name like 'Europe/Berlin')")
    return value


TimeZoneName = Annotated[str, AfterValidator(_check_timezone)]


def _wall_clock(value: time) -> time:
    if value.tzinfo is not None:
        raise ValueError("a time of day without an offset (it is read in the zone it applies in)")
    return value


# JSON Schema's "time" format is RFC 3339's full-time, which requires an offset ("09:00:00Z"):
# a wall-clock time is documented by its pattern instead, so answers match the OpenAPI.
LocalTime = Annotated[
    time,
    AfterValidator(_wall_clock),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?$",
            "description": "A wall-clock time, HH:MM or HH:MM:SS, without an offset",
            "examples": ["09:00", "20:30:00"],
        }
    ),
]


class InputModel(BaseModel):
    """Request bodies: unknown fields are errors, so typos do not pass silently."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="after")
    @classmethod
    def _storable(cls, value: Any) -> Any:
        """Every field of every request body fits the database (opendialer.inputs)."""
        check_storable(value)
        return value


def check_storable(value: Any) -> None:
    """Text without NUL or lone surrogates, 64-bit integers, dates within the supported years,
    also inside lists and maps; raises :class:`opendialer.inputs.InputRejected` (a ValueError)."""
    if isinstance(value, str):
        check_text(value)
    elif isinstance(value, int):
        check_int(value)
    elif isinstance(value, date):
        check_date(value)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            check_storable(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            check_storable(key)
            check_storable(item)


class OutputModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)
