"""mmDial request arguments: GET and POST merged (POST wins), PHP-style arrays.

``status[]=A&status[]=B`` is a list, ``leaddata[phone]=...`` a map; a JSON object body is
accepted too. A form body is read in its ``charset=``, else as UTF-8, falling back to
Windows-1252 / ISO-8859-1 (the spec's A24; opendialer.inputs.decode_form). Every name and value
is text the database can store (no NUL, no lone surrogate), or the request is refused.
"""

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from fastapi import Request

from opendialer.errors import NotFound
from opendialer.inputs import InputRejected, decode_form, loads_json, text_problem

MAX_FIELDS = 1000
_BRACKETS = re.compile(r"^([^\[\]]+)\[([^\[\]]*)\]$")


class ParamError(ValueError):
    """A malformed argument: rendered as the function's own error."""


@contextmanager
def unknown(message: str) -> Iterator[None]:
    """A service's 404 (missing, or another tenant's record) as mmDial's own error."""
    try:
        yield
    except NotFound:
        raise ParamError(message) from None


@dataclass
class Params:
    values: dict[str, str] = field(default_factory=dict)
    lists: dict[str, list[str]] = field(default_factory=dict)
    maps: dict[str, dict[str, str]] = field(default_factory=dict)

    def add(self, key: str, value: str) -> None:
        _storable(key, key)
        _storable(key, value)
        match = _BRACKETS.match(key)
        if match is None:
            self.values[key] = value
        elif match[2] == "":
            self.lists.setdefault(match[1], []).append(value)
        else:
            self.maps.setdefault(match[1], {})[match[2]] = value

    def merge(self, other: "Params") -> None:
        """``other`` (the POST body) wins for plain values and map keys; lists are replaced."""
        self.values.update(other.values)
        self.lists.update(other.lists)
        for name, mapping in other.maps.items():
            self.maps.setdefault(name, {}).update(mapping)

    def get(self, name: str) -> str | None:
        value = self.values.get(name)
        return None if value is None else value.strip()

    def required(self, name: str) -> str:
        value = self.get(name)
        if not value:
            raise ParamError(f"{name} is missing")
        return value

    def many(self, name: str) -> list[str]:
        """A list given as ``name[]=..``, or one plain value."""
        items = list(self.lists.get(name, []))
        single = self.get(name)
        if single:
            items.append(single)
        return [item.strip() for item in items if item.strip()]

    def mapping(self, name: str) -> dict[str, str]:
        return dict(self.maps.get(name, {}))


def _storable(name: str, text: str) -> str:
    problem = text_problem(text)
    if problem is not None:
        raise ParamError(f"The argument {name[:40]!r} {problem}")
    return text


def _from_pairs(pairs: list[tuple[str, str]]) -> Params:
    if len(pairs) > MAX_FIELDS:
        raise ParamError(f"More than {MAX_FIELDS} arguments")
    params = Params()
    for key, value in pairs:
        params.add(key, value)
    return params


def _from_json(body: bytes) -> Params:
    try:
        data = loads_json(body)
    except InputRejected as exc:
        raise ParamError(f"The body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ParamError("A JSON body must be an object")
    params = Params()
    for key, value in data.items():
        if isinstance(value, list):
            params.lists[key] = [_storable(key, _scalar(v)) for v in value]
        elif isinstance(value, dict):
            params.maps[key] = {
                _storable(key, k): _storable(k, _scalar(v)) for k, v in value.items()
            }
        else:
            params.values[_storable(key, key)] = _storable(key, _scalar(value))
    return params


def _scalar(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        raise ParamError("Nested values are not supported")
    return str(value)


async def read_params(request: Request) -> Params:
    """The query string, with the body's arguments merged over it."""
    params = _from_pairs(parse_qsl(request.url.query, keep_blank_values=True))
    if request.method != "POST":
        return params
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "multipart/form-data":
        form = await request.form()
        pairs = [(k, v) for k, v in form.multi_items() if isinstance(v, str)]
        params.merge(_from_pairs(pairs))
        return params
    body = await request.body()
    if content_type == "application/json" or body.lstrip().startswith(b"{"):
        params.merge(_from_json(body))
    elif body:
        try:
            params.merge(_from_pairs(decode_form(body, request.headers.get("content-type", ""))))
        except InputRejected as exc:
            raise ParamError(f"The form body cannot be read: {exc}") from None
    return params
