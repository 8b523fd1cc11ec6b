"""Reusable Pydantic building blocks for request and response schemas."""

from datetime import date
from typing import Annotated, Any
from zoneinfo import available_timezones

from fastapi import Path, Request
from pydantic import AfterValidator, BaseModel, ConfigDict, field_validator

from opendialer.errors import BadRequest
from opendialer.inputs import MAX_DB_INT, check_date, check_int, check_text, text_problem

RecordId = Annotated[int, Path(ge=1, le=MAX_DB_INT, description="Record id")]


def _check_timezone(value: str) -> str:
    if value not in available_timezones():
        raise ValueError(f"unknown time zone {value!r} (use an IANA name like 'Europe/Berlin')")
    return value


TimeZoneName = Annotated[str, AfterValidator(_check_timezone)]


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


def refuse_unstorable_parameters(request: Request) -> None:
    """Router dependency: no query or path parameter carries text the database refuses."""
    params = [*request.query_params.multi_items(), *request.path_params.items()]
    for name, value in params:
        problem = text_problem(str(value))
        if problem is not None:
            raise BadRequest(f"The parameter {name} {problem}", code="invalid_parameter")


class OutputModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)
