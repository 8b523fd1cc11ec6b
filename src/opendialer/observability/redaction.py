"""Keep secrets out of the logs: values under secret-sounding keys, and anything shaped like
one of our credentials wherever it appears in a message."""

import re
from collections.abc import Mapping, MutableMapping
from functools import lru_cache
from typing import Any

REDACTED = "[redacted]"
SECRET_KEY_NAMES = re.compile(
    r"password|passwd|secret|token|api[_-]?key|authorization|cookie|credential|csrf", re.I
)
# API keys (od_), console logins (ods_) and call-log keys (cl_) as accounts/ makes them; the
# prefix stays readable so that a reader still knows which kind of credential it was.
CREDENTIAL_VALUES = re.compile(r"\b(ods_|od_|cl_)[A-Za-z0-9_-]{16,}")
BEARER_VALUES = re.compile(r"(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{8,}", re.I)
# One search that most text fails quickly: a log line per request pays for it.
_MAYBE_CREDENTIAL = re.compile(r"(?:ods_|od_|cl_)[A-Za-z0-9_-]{16}|(?:bearer|basic)\s", re.I)


def redact_text(text: str) -> str:
    if _MAYBE_CREDENTIAL.search(text) is None:
        return text
    text = CREDENTIAL_VALUES.sub(lambda m: m.group(1) + REDACTED, text)
    return BEARER_VALUES.sub(lambda m: f"{m.group(1)} {REDACTED}", text)


@lru_cache(maxsize=4096)
def is_secret_key(key: str) -> bool:
    return SECRET_KEY_NAMES.search(key) is not None


def redact_value(key: str, value: Any) -> Any:
    if is_secret_key(key):
        return REDACTED
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {str(k): redact_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_value(key, v) for v in value]
    return value


def redact_secrets(
    _logger: object, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: every key and value of the event, the message included."""
    for key in list(event_dict):
        event_dict[key] = redact_value(key, event_dict[key]) if key != "event" else event_dict[key]
    event = event_dict.get("event")
    if isinstance(event, str):
        event_dict["event"] = redact_text(event)
    return event_dict
