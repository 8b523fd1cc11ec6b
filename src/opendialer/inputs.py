"""The rules every face applies to what arrives from outside, in one place.

Each function here closes one class of hostile input for every face at once (docs/architecture.md,
"Hostile input"): integers in non-ASCII digits or beyond a 64-bit database column, text with NUL
characters or lone surrogates, JSON nested deep enough to exhaust the recursion limit, dates at the
calendar's edges, and form bodies percent-encoded in a legacy charset. Faces call them while they
parse and turn :class:`InputRejected` into an error of their own vocabulary.
"""

import json
import re
from collections.abc import Iterator
from datetime import date
from functools import cache
from typing import Any, TypeVar
from urllib.parse import unquote_to_bytes

MIN_DB_INT = -(2**63)
MAX_DB_INT = 2**63 - 1
MAX_JSON_DEPTH = 64
# Far enough from datetime's own limits (years 1 and 9999) that any offset or day added to an
# accepted value still fits, and wide enough for any call, schedule or birth date.
MIN_YEAR = 1900
MAX_YEAR = 2999

_ASCII_INT = re.compile(r"[+-]?[0-9]{1,19}")
_SURROGATE = re.compile("[\ud800-\udfff]")
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
# The only way JSON text decodes to text ``text_problem`` refuses: raw NUL is not valid JSON, and
# a strictly decoded file holds no lone surrogates.
_UNSTORABLE_ESCAPE = re.compile(r"\\u(?:0000|[dD][89a-fA-F])")
# A JSON string (its escapes included) or a bracket: strings are skipped whole, so brackets
# inside them do not count towards the depth.
_JSON_TOKEN = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)


class InputRejected(ValueError):
    """A value no face accepts; the message says why, for the face's own error body."""


def parse_int(text: str, low: int = MIN_DB_INT, high: int = MAX_DB_INT) -> int:
    """An integer written in ASCII digits (``str.isdigit()`` also passes ``²`` and ``٣``),
    within ``[low, high]`` (by default the range of a 64-bit database integer)."""
    stripped = text.strip()
    if _ASCII_INT.fullmatch(stripped) is None:
        raise InputRejected(f"{text[:40]!r} is not an integer written in the digits 0-9")
    return check_int(int(stripped), low, high)


def check_int(value: int, low: int = MIN_DB_INT, high: int = MAX_DB_INT) -> int:
    if not low <= value <= high:
        shown = value if abs(value) < 10**30 else "the number"
        raise InputRejected(f"{shown} is not in {low}..{high}")
    return value


def declared_length(header: str) -> int:
    """A Content-Length header's value; 0 when it is not a length (the body is counted anyway)."""
    try:
        return parse_int(header, 0)
    except InputRejected:
        return 0


def text_problem(value: str) -> str | None:
    """Why ``value`` cannot be stored as text on every database, or None when it can.

    PostgreSQL refuses NUL in text, and a lone surrogate cannot be encoded as UTF-8 at all.
    """
    if "\x00" in value:
        return "must not contain NUL characters"
    if _SURROGATE.search(value) is not None:
        return "must not contain unpaired surrogate code points"
    return None


def nested_text_problem(value: Any) -> str | None:
    """``text_problem`` of the first text in a decoded JSON value (keys included), or None."""
    for text in _texts(value):
        problem = text_problem(text)
        if problem is not None:
            return problem
    return None


def _texts(value: Any) -> Iterator[str]:
    """Every text in a decoded JSON value, keys included (its depth is already bounded)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def json_may_be_unstorable(text: str, start: int = 0, end: int | None = None) -> bool:
    """Whether JSON text (or ``text[start:end]``) may decode to text ``text_problem`` refuses:
    one search, so that only such text is walked with ``nested_text_problem``."""
    found = _UNSTORABLE_ESCAPE.search(text, start, len(text) if end is None else end)
    return found is not None


def check_text(value: str) -> str:
    problem = text_problem(value)
    if problem is not None:
        raise InputRejected(f"text {problem}")
    return value


D = TypeVar("D", bound=date)


def check_date(value: D) -> D:
    """A date or datetime within years MIN_YEAR..MAX_YEAR (same type back)."""
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise InputRejected(f"the year {value.year} is not in {MIN_YEAR}..{MAX_YEAR}")
    return value


def json_depth(raw: bytes, limit: int) -> int:
    """How deep ``raw`` nests, counted up to ``limit + 1`` (cheap when it cannot be deeper)."""
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return 0  # cannot exceed the limit: skip the scan
    depth = 0
    for match in _JSON_TOKEN.finditer(raw):
        token = match.group()
        if token in (b"[", b"{"):
            depth += 1
            if depth > limit:
                return depth
        elif token in (b"]", b"}"):
            depth -= 1
    return 0


def loads_json(
    raw: bytes | str, max_depth: int = MAX_JSON_DEPTH, *, item_checks: bool = False
) -> Any:
    """JSON with nesting limited to ``max_depth``; any failure is an :class:`InputRejected`.

    Lone surrogates inside strings are refused too (``"\\ud800"`` is valid JSON syntax), unless
    ``item_checks``: the caller checks every text it keeps, item by item, so that one bad item
    does not refuse a whole batch. NaN and Infinity are not JSON and are refused.
    """
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    if json_depth(data, max_depth) > max_depth:
        raise InputRejected(f"the JSON nests deeper than {max_depth} levels")
    try:
        # as json.loads decodes bytes, with one decoder for every call
        value = _decoder().decode(data.decode(json.detect_encoding(data), "surrogatepass"))
    except (ValueError, RecursionError) as exc:
        raise InputRejected(f"the body is not valid JSON: {exc}") from None
    if not item_checks and _SURROGATE_ESCAPE.search(data) is not None:
        _refuse_surrogates(value)
    return value


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


@cache
def _decoder() -> json.JSONDecoder:
    """One decoder (``json.loads`` with an argument makes a new one per call)."""
    return json.JSONDecoder(parse_constant=_reject_constant)


def _refuse_surrogates(value: Any) -> None:
    """Walk a decoded document for unpaired surrogates."""
    if any(_SURROGATE.search(text) is not None for text in _texts(value)):
        raise InputRejected("the JSON contains an unpaired surrogate (\\ud800-\\udfff)")


def form_charset(content_type: str) -> str | None:
    """The ``charset=`` parameter of a Content-Type header, lower-cased, or None."""
    for part in content_type.split(";")[1:]:
        name, _, value = part.strip().partition("=")
        if name.strip().lower() == "charset" and value.strip():
            return value.strip().strip('"').lower()
    return None


def _form_field(field: bytes) -> tuple[bytes, bytes]:
    name, _, value = field.partition(b"=")
    return unquote_to_bytes(name.replace(b"+", b" ")), unquote_to_bytes(value.replace(b"+", b" "))


def decode_form(body: bytes, content_type: str = "") -> list[tuple[str, str]]:
    """An ``application/x-www-form-urlencoded`` body as (name, value) pairs.

    The percent-escapes are decoded as bytes first, then the bytes are read in the declared
    ``charset=``; without one, as UTF-8 when every pair is valid UTF-8, otherwise (PHP clients
    that ``urlencode()`` ISO-8859-1 text) the whole body as Windows-1252, or ISO-8859-1 when it
    holds a byte Windows-1252 leaves undefined. Never a replacement character.
    """
    pairs = [_form_field(field) for field in body.split(b"&") if field]
    declared = form_charset(content_type)
    for charset in [declared] if declared else ["utf-8", "cp1252", "iso-8859-1"]:
        try:
            return [(name.decode(charset), value.decode(charset)) for name, value in pairs]
        except LookupError:
            raise InputRejected(f"unknown charset {declared!r}") from None
        except UnicodeDecodeError:
            if declared:
                raise InputRejected(f"the form body is not valid {declared}") from None
    raise AssertionError("ISO-8859-1 decodes any byte")  # pragma: no cover
