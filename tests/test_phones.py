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
