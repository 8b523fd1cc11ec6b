"""Phone numbers: normalisation to E.164 and the zones a number rings in.

Numbers are read with ``rphonenumbers``, the ``phonenumbers`` API on a Rust port of Google's
libphonenumber: the same answers (tests/test_phones.py compares the two) seven times faster,
which is what lets a million-row import parse two million numbers in seconds. Time zones come
from ``phonenumbers`` itself, which the port does not cover.
"""

from dataclasses import dataclass
from functools import lru_cache

import phonenumbers
import rphonenumbers
from phonenumbers import timezone as phone_timezone
from rphonenumbers import PhoneNumber

MAX_RAW_LENGTH = 64


@dataclass(frozen=True, slots=True)
class Phone:
    raw: str
    e164: str | None  # None when the number is not a valid, dialable number

    @property
    def valid(self) -> bool:
        return self.e164 is not None


def _parse_valid(text: str, region: str | None) -> PhoneNumber | None:
    """A number of a possible length for its country's numbering plan.

    Numbering plans change faster than library releases (phonenumbers 9 rejects Israel's
    050-123-4567, the Voicenter example), so an exact-length match is enough; a number that turns
    out not to exist is marked invalid when the network answers 404/484.
    """
    try:
        number = rphonenumbers.parse(text, region)
    except rphonenumbers.NumberParseException:
        return None
    # The cheap test first: full validation matches the number against every number type's
    # pattern, a quarter of the cost of an import; only what the length test rejects needs it.
    reason = rphonenumbers.is_possible_number_with_reason(number)
    known_country = rphonenumbers.region_code_for_number(number) not in (None, "ZZ", "001")
    plausible = known_country and not number.italian_leading_zero
    if reason == rphonenumbers.ValidationResult.IS_POSSIBLE and plausible:
        return number
    return number if rphonenumbers.is_valid_number(number) else None


def normalize(raw: str, region: str) -> Phone:
    return Phone(raw, e164_or_none(raw, region))


def e164_or_none(raw: str, region: str) -> str | None:
    """``raw`` in E.164, read as the tenant's region would, else as international digits.

    "0501234567" in IL and "+49 89 1234567" anywhere both work; so do digits that already start
    with a country code but lack the "+" ("972501234567", "49894614950703"), as the Voicenter and
    jtel examples write them. None when it is not a valid, dialable number.
    """
    text = raw.strip()
    if not text or len(text) > MAX_RAW_LENGTH:
        return None
    number = _parse_valid(text, region.upper())
    if number is None and text.isdigit() and not text.startswith("0"):
        number = _parse_valid("+" + text, None)
    if number is None:
        return None
    e164: str = rphonenumbers.format_number(number, rphonenumbers.PhoneNumberFormat.E164)
    return e164


def international_digits(e164: str) -> str:
    """E.164 without the "+", as the vendor APIs print numbers."""
    return e164.removeprefix("+")


@lru_cache(maxsize=65536)
def time_zones(e164: str) -> tuple[str, ...]:
    """Every IANA zone the number may ring in; empty when phonenumbers cannot tell."""
    number = phonenumbers.parse(e164, None)
    zones = phone_timezone.time_zones_for_number(number)
    return tuple(z for z in zones if z != "Etc/Unknown")


# Numbers a caller ID must not be: the callee pays for calling back, or cannot.
_NOT_A_CALLER_ID = {
    phonenumbers.PhoneNumberType.PREMIUM_RATE: "a premium-rate number",
    phonenumbers.PhoneNumberType.SHARED_COST: "a shared-cost number",
}


def caller_id_problem(raw: str, region: str) -> tuple[str | None, str | None]:
    """A caller ID as E.164 and None, or None and why it may not be presented: not a valid
    number (short codes are not), or a premium-rate or shared-cost number."""
    e164 = e164_or_none(raw, region)
    if e164 is None:
        return None, "not a valid phone number (short numbers are not valid caller IDs)"
    kind = _NOT_A_CALLER_ID.get(phonenumbers.number_type(phonenumbers.parse(e164)))
    return (None, kind) if kind is not None else (e164, None)


@lru_cache(maxsize=65536)
def area_of(e164: str) -> tuple[str, str] | None:
    """(country, area described by phonenumbers) of a geographic number; None for the rest
    (mobile, toll-free and numbers whose area the library does not describe)."""
    try:
        number = phonenumbers.parse(e164)
    except phonenumbers.NumberParseException:
        return None
    country = phonenumbers.region_code_for_number(number)
    from phonenumbers import geocoder  # its data takes 0.3 s to load: only when asked

    area = geocoder.description_for_number(number, "en")
    country_name = geocoder.country_name_for_number(number, "en")
    if not country or not area or area == country_name:
        return None
    return country, area


def area_key(e164: str) -> str | None:
    """``area_of`` as one string ("DE Berlin"), as a caller-ID pool stores it for its look-up."""
    found = area_of(e164)
    return None if found is None else f"{found[0]} {found[1]}"
