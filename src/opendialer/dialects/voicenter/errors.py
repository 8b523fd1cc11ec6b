"""Voicenter result codes and descriptions (spec 003, table 2.1), and the error that carries one.

The vendor numbers the same problem differently per method, so each method names its own pair;
:data:`GENERIC` (-1) is ours, for problems the vendor documents no code for (malformed JSON,
wrong types, an oversized body).
"""

from typing import Any

OK = 0
GENERIC = -1
INVALID_NUMBER = -2

OK_TEXT = "OK"
INVALID_CAMPAIGN = "Invalid campaign code"
CAMPAIGN_MISSING = "Campaign code missing"
TARGET_MISSING = "Target missing"
NUMBER_INVALID = "Number is invalid"
MEMBER_MISSING = "Member missing"
INTERNAL_ERROR = "Internal error occurred"
INVALID_ACCOUNT = "Invalid account code"
ACCOUNT_MISSING = "Account code missing"


class VoicenterError(Exception):
    """A non-zero ``ErrorCode`` with its ``Description`` and any extra fields of the envelope."""

    def __init__(self, error_code: int, description: str, **extra: Any) -> None:
        super().__init__(description)
        self.error_code = error_code
        self.description = description
        self.extra = extra

    def envelope(self) -> dict[str, Any]:
        return {**self.extra, "ErrorCode": self.error_code, "Description": self.description}


def ok(**payload: Any) -> dict[str, Any]:
    return {**payload, "ErrorCode": OK, "Description": OK_TEXT}


class UnknownCode(VoicenterError):
    """An account or campaign code that matches none: a failed credential check."""
