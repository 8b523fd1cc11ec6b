from urllib.parse import parse_qs

from opendialer.security import sign_path, verify_signed_path

SECRET = "s3cret"
PATH = "/api/v1/recordings/7/audio"


def _signature(query: str) -> tuple[int, str]:
    fields = parse_qs(query)
    return int(fields["expires"][0]), fields["signature"][0]


def test_signed_path_verifies_until_it_expires() -> None:
    expires, signature = _signature(sign_path(SECRET, PATH, 1_000))
    assert verify_signed_path(SECRET, PATH, expires, signature, now=999.0)
    assert not verify_signed_path(SECRET, PATH, expires, signature, now=1_001.0)


def test_signature_binds_path_expiry_and_secret() -> None:
    expires, signature = _signature(sign_path(SECRET, PATH, 1_000))
    assert not verify_signed_path(SECRET, "/api/v1/recordings/8/audio", expires, signature, 0)
    assert not verify_signed_path(SECRET, PATH, expires + 1, signature, 0)
    assert not verify_signed_path("other", PATH, expires, signature, 0)
