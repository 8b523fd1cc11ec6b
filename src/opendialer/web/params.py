"""The native API's parameters: the record id in a path, the wall clock the handlers read, and
the router-wide check of every query and path parameter against the database's text rules
(``opendialer.inputs``)."""

from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated

from fastapi import Depends, Path, Request
from pydantic import AfterValidator, AwareDatetime

from opendialer.errors import OpendialerError
from opendialer.inputs import MAX_DB_INT, check_date, text_problem
from opendialer.models.base import utcnow

RecordId = Annotated[int, Path(ge=1, le=MAX_DB_INT, description="Record id")]
# Every date or datetime a route takes outside a body model (query, path, form): within the
# supported years, as InputModel checks a body's (a year-1 value with an offset, or a day after
# 9999-12-31, overflows Python's datetime on its way to the database: a 500).
SupportedDate = Annotated[date, AfterValidator(check_date)]
SupportedDatetime = Annotated[datetime, AfterValidator(check_date)]
SupportedAwareDatetime = Annotated[AwareDatetime, AfterValidator(check_date)]


async def wall_clock() -> Callable[[], datetime]:
    """Where the campaign-run and agent endpoints read the time; tests pin it through
    ``dependency_overrides``."""
    return utcnow


WallClock = Annotated[Callable[[], datetime], Depends(wall_clock)]


async def refuse_unstorable_parameters(request: Request) -> None:
    """Router dependency: no query or path parameter carries text the database refuses.

    Answered like any other invalid parameter (422 ``validation_error``).
    """
    params = [
        *(("query", name, value) for name, value in request.query_params.multi_items()),
        *(("path", name, str(value)) for name, value in request.path_params.items()),
    ]
    errors = [
        {"loc": [where, name], "type": "value_error", "msg": f"Value error, text {problem}"}
        for where, name, value in params
        if (problem := text_problem(value)) is not None
    ]
    if errors:
        raise OpendialerError(
            "The request is not valid", code="validation_error", status_code=422, details=errors
        )
