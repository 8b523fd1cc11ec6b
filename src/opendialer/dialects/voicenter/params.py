"""Reading Voicenter request parameters: names case-insensitive, values loosely typed.

The vendor's examples send booleans as ``"true"`` and numbers as query-string text, so every
reader accepts the JSON type and its text form. A value of the wrong type raises
:class:`VoicenterError` with the generic code and a description naming the parameter.
"""

import math
from collections.abc import Iterable
from typing import Any

from opendialer.dialects.voicenter.errors import GENERIC, VoicenterError
from opendialer.inputs import InputRejected, loads_json, parse_int, text_problem
from opendialer.schemas import check_storable

CUSTOM_PREFIX = "var_"
TRUE_TEXT = frozenset({"true", "1", "yes", "on"})
FALSE_TEXT = frozenset({"false", "0", "no", "off"})


def invalid(name: str, reason: str) -> VoicenterError:
    return VoicenterError(GENERIC, f"Invalid {name}: {reason}")


class Params:
    """One request's parameters by lower-cased name; ``var_*`` ones also kept as custom data."""

    __slots__ = ("_values", "custom")

    def __init__(self, items: Iterable[tuple[str, Any]]) -> None:
        self._values: dict[str, Any] = {}
        self.custom: dict[str, Any] = {}
        for raw_name, value in items:
            name = str(raw_name).strip()
            if name.lower().startswith(CUSTOM_PREFIX):
                self.custom[name] = value
            self._values[name.lower()] = value

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> "Params":
        return cls(body.items())

    def raw(self, name: str) -> Any:
        return self._values.get(name.lower())

    def given(self, name: str) -> bool:
        """Present with a value (an empty string or null counts as absent)."""
        return self.raw(name) not in (None, "")

    def text(self, name: str, max_length: int) -> str | None:
        value = self.raw(name)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise invalid(name, "must be a string")
        text = str(value).strip()
        problem = text_problem(text)
        if problem is not None:
            raise invalid(name, problem)
        if len(text) > max_length:
            raise invalid(name, f"at most {max_length} characters")
        return text or None

    def integer(self, name: str, low: int, high: int) -> int | None:
        value = self.raw(name)
        if value is None or value == "":
            return None
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, str):
            try:
                value = parse_int(value)
            except InputRejected:
                raise invalid(name, "must be an integer") from None
        if isinstance(value, bool) or not isinstance(value, int):
            raise invalid(name, "must be an integer")
        if not low <= value <= high:
            raise invalid(name, f"must be between {low} and {high}")
        return value

    def number(self, name: str) -> float | None:
        value = self.raw(name)
        if value is None or value == "":
            return None
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                raise invalid(name, "must be a number") from None
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise invalid(name, "must be a number")
        return float(value)

    def boolean(self, name: str) -> bool | None:
        value = self.raw(name)
        if value is None or value == "":
            return None
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.strip().lower() in TRUE_TEXT | FALSE_TEXT:
            return value.strip().lower() in TRUE_TEXT
        raise invalid(name, 'must be true or false (or "true"/"false")')

    def custom_data(self) -> dict[str, Any] | None:
        """``CustomData`` (an object, or its JSON text) merged with every ``var_*`` parameter;
        None when neither is given."""
        value = self.raw("CustomData")
        if isinstance(value, str) and value.strip():
            try:
                value = loads_json(value)
            except InputRejected:
                raise invalid("CustomData", "must be a JSON object") from None
        if value in (None, ""):
            value = {}
        if not isinstance(value, dict):
            raise invalid("CustomData", "must be a JSON object")
        if not value and not self.custom:
            return None
        merged = {**value, **self.custom}
        try:
            check_storable(merged)
        except InputRejected as exc:
            raise invalid("CustomData", str(exc)) from None
        return merged
