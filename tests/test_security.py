from urllib.parse import parse_qs

import pytest

from opendialer.crm.payloads import sign_body, verify_signature
from opendialer.security import (
    dummy_password_check,
    hash_password,
    link_key,
    sign_path,
    verify_password,
    verify_signed_path,
)

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


@pytest.mark.parametrize("signature", ["é" * 64, "\ud800", "ﬁ", ""])
def test_any_text_as_signature_is_refused_not_an_error(signature: str) -> None:
    assert not verify_signed_path(SECRET, PATH, 1_000, signature, 0)


def test_link_keys_differ_per_tenant_and_generation() -> None:
    keys = {link_key(SECRET, tenant, generation) for tenant in (1, 2) for generation in (0, 1)}
    assert len(keys) == 4
    assert link_key(SECRET, 1, 0) == link_key(SECRET, 1, 0)
    assert link_key("other", 1, 0) != link_key(SECRET, 1, 0)


def test_password_checks() -> None:
    stored = hash_password("right")
    assert verify_password("right", stored)
    assert not verify_password("wrong", stored)
    assert not verify_password("right", "scrypt$bad")
    dummy_password_check("anything")  # runs a real scrypt and returns nothing


@pytest.mark.parametrize("v1", ["é" * 64, "\ud800", ""])
def test_webhook_signature_check_refuses_any_text(v1: str) -> None:
    header = sign_body("k" * 32, b"{}", 1_000).split("v1=")[0] + f"v1={v1}"
    assert not verify_signature("k" * 32, b"{}", header, 1_000, 300)
    assert not verify_signature("k" * 32, b"{}", "t=\u00b2,v1=00", 1_000, 300)
