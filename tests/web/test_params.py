"""Dates a route takes outside a body model (query, path, header, cookie, form) are checked for
the supported years like a body's (opendialer.inputs.check_date): a year-1 value with an offset,
or a day after 9999-12-31, overflowed Python's datetime on its way to the database (500s in the
audit trail, the reports and the recordings' search)."""

import types
from collections.abc import Iterator
from datetime import date
from typing import Annotated, Any, Union, get_args, get_origin

import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from pydantic import AfterValidator

from opendialer.inputs import check_date
from opendialer.web.params import SupportedAwareDatetime, SupportedDate


def _unchecked_date(annotation: Any) -> bool:
    """Whether ``annotation`` takes a date or datetime not checked by ``check_date``."""
    if get_origin(annotation) is Annotated:
        base, *metadata = get_args(annotation)
        if any(isinstance(m, AfterValidator) and m.func is check_date for m in metadata):
            return False
        return _unchecked_date(base)
    if get_origin(annotation) in (Union, types.UnionType):
        return any(_unchecked_date(arg) for arg in get_args(annotation))
    return isinstance(annotation, type) and issubclass(annotation, date)


def _parameters(dependant: Dependant) -> Iterator[tuple[str, Any]]:
    fields = [
        *dependant.path_params,
        *dependant.query_params,
        *dependant.header_params,
        *dependant.cookie_params,
        *dependant.body_params,
    ]
    for field in fields:
        yield field.name, field.field_info.annotation
    for sub in dependant.dependencies:
        yield from _parameters(sub)


def test_every_date_parameter_of_every_route_is_checked(app: FastAPI) -> None:
    unchecked = {
        f"{context.path_format}: {name}"
        for context in iter_route_contexts(app.routes)
        if isinstance(context.original_route, APIRoute)
        for name, annotation in _parameters(context.dependant)
        if _unchecked_date(annotation)
    }
    assert not unchecked, sorted(unchecked)


def test_the_check_finds_an_unchecked_date() -> None:
    assert _unchecked_date(date | None)
    assert _unchecked_date(Annotated[date | None, "other metadata"])
    assert not _unchecked_date(SupportedDate | None)
    assert not _unchecked_date(Annotated[SupportedAwareDatetime | None, "other metadata"])
    assert not _unchecked_date(int | str)


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/audit?since=0001-01-01T00:00:00%2B05:00",
        "/api/v1/audit?until=9999-12-31T23:59:59-05:00",
        "/api/v1/reports/results?date_from=0001-01-01",
        "/api/v1/reports/campaigns?date_to=9999-12-31",
        "/api/v1/reports/agent-performance?date_from=9999-12-31&format=csv",
        "/api/v1/recordings?day=0001-01-01",
    ],
)
def test_dates_at_the_calendars_edges_are_invalid_parameters(api: TestClient, url: str) -> None:
    response = api.get(url)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "validation_error"
    assert "is not in 1900..2999" in response.text


def test_a_form_date_at_the_calendars_edge_is_invalid(api: TestClient) -> None:
    files = {"file": ("a.wav", b"RIFF", "audio/wav")}
    data = {"recorded_at": "0001-01-01T00:00:00+05:00"}
    response = api.post("/api/v1/recordings", files=files, data=data)
    assert response.status_code == 422, response.text
    assert "is not in 1900..2999" in response.text
