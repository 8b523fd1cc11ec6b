import random

import phonenumbers
import pytest
from phonenumbers import PhoneNumberType

from opendialer import phones
from opendialer.phones import international_digits, normalize, time_zones


def test_national_numbers_use_the_region() -> None:
    assert normalize("0501234567", "IL").e164 == "+972501234567"
    assert normalize("089 4614950703", "DE").e164 == "+49894614950703"


def test_international_digits_without_plus_are_understood() -> None:
    assert normalize("972501234567", "IL").e164 == "+972501234567"
    assert normalize("49894614950703", "IL").e164 == "+49894614950703"


def test_invalid_numbers_have_no_e164() -> None:
    for raw in ["", "   ", "abc", "12", "0000000", "+49 1", "9" * 70]:
        phone = normalize(raw, "DE")
        assert phone.e164 is None and not phone.valid and phone.raw == raw


def test_raw_is_kept() -> None:
    phone = normalize(" +49 (30) 1234567 ", "DE")
    assert phone.raw == " +49 (30) 1234567 " and phone.e164 == "+49301234567"


def test_international_digits() -> None:
    assert international_digits("+972501234567") == "972501234567"


def test_time_zones() -> None:
    assert time_zones("+49301234567") == ("Europe/Berlin",)
    us_zones = time_zones("+18005550100")  # toll free: the whole country
    assert len(us_zones) > 1
    assert time_zones("+12125550100") == ("America/New_York",)


# rphonenumbers reads the numbers; it must give the answers phonenumbers gives -----------------


def _written_forms(number: phonenumbers.PhoneNumber) -> list[str]:
    forms = [
        phonenumbers.format_number(number, style)
        for style in (
            phonenumbers.PhoneNumberFormat.E164,
            phonenumbers.PhoneNumberFormat.INTERNATIONAL,
            phonenumbers.PhoneNumberFormat.NATIONAL,
            phonenumbers.PhoneNumberFormat.RFC3966,
        )
    ]
    # ... and as people mistype them: 00 for +, a digit short, a digit too many, no +
    e164 = forms[0]
    return [*forms, e164.replace("+", "00"), e164[:-1], e164 + "7", e164[1:]]


def _example_cases() -> list[tuple[str, str]]:
    types = (PhoneNumberType.FIXED_LINE, PhoneNumberType.MOBILE, PhoneNumberType.TOLL_FREE)
    cases = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for number_type in types:
            example = phonenumbers.example_number_for_type(region, number_type)
            if example is not None:
                cases += [
                    (text, home) for text in _written_forms(example) for home in (region, "DE")
                ]
    return cases


def _junk_cases() -> list[tuple[str, str]]:
    rng = random.Random(20261123)
    alphabet = "0123456789 +-()/.#*xabcext:;\uff10\uff11\uff12"  # and full-width digits
    return [
        (
            "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 24))),
            rng.choice(("DE", "IL", "US", "GB", "IT", "AT", "CH", "FR")),
        )
        for _ in range(5000)
    ]


def _disagreements(
    cases: list[tuple[str, str]], monkeypatch: pytest.MonkeyPatch
) -> tuple[list[tuple[tuple[str, str], str | None, str | None]], int]:
    """(case, ours, phonenumbers') wherever normalize() answers differently on phonenumbers,
    and how many cases phonenumbers accepts."""
    ours = [normalize(text, home).e164 for text, home in cases]
    monkeypatch.setattr(phones, "rphonenumbers", phonenumbers)  # the reference library
    reference = [normalize(text, home).e164 for text, home in cases]
    differences = [(c, o, r) for c, o, r in zip(cases, ours, reference, strict=True) if o != r]
    return differences, sum(e is not None for e in reference)


def test_rphonenumbers_normalises_every_example_number_as_phonenumbers_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cases = _example_cases()
    differences, accepted = _disagreements(cases, monkeypatch)
    assert len(cases) > 10_000 and accepted > 5_000
    assert differences == []


def test_rphonenumbers_normalises_junk_as_phonenumbers_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    differences, _accepted = _disagreements(_junk_cases(), monkeypatch)
    assert differences == []
