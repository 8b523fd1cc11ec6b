"""Campaign codes: what one is made of, and which texts name a campaign."""

import pytest

from opendialer.campaigns.codes import CodeKey, code_id, new_salt
from opendialer.security import hash_token

SECRET = "s" * 48


def test_a_code_is_the_id_and_a_signature_of_id_salt_and_secret() -> None:
    key, salt = CodeKey(SECRET), new_salt()
    code = key.code(42, salt)
    assert code is not None and code.startswith("42.") and len(code) == 3 + 32
    assert code_id(code) == 42
    assert key.code(42, salt) == code  # recomputed, not stored
    others = {key.code(43, salt), key.code(42, new_salt()), CodeKey("t" * 48).code(42, salt)}
    assert code not in others and len(others) == 3
    assert key.code(42, None) is None  # a code from before codes were derived


@pytest.mark.parametrize(
    "text",
    ["", "42", "42.", "042.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "42.AAAA", "x.AAAAAAAAAAAAAAAA" * 2,
     "42.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA ", "42.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==",
     "1" * 19 + ".AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "cNnBe03V3A9LdNIRXVslapVNhEKG75GO"],
)  # fmt: skip
def test_texts_not_shaped_like_a_derived_code_name_no_campaign_id(text: str) -> None:
    assert code_id(text) is None


def test_matches_the_derived_code_or_the_old_code_hash() -> None:
    key, salt = CodeKey(SECRET), new_salt()
    code = key.code(7, salt)
    assert code is not None
    assert key.matches(code, 7, salt, None)
    assert not key.matches(code, 8, salt, None)
    assert not key.matches(code, 7, None, None)
    old = "cNnBe03V3A9LdNIRXVslapVNhEKG75GO"
    assert key.matches(old, 7, None, hash_token(old))
    assert not key.matches(hash_token(old), 7, None, hash_token(old))
    assert not key.matches("\udcff", 7, salt, hash_token(old))  # any text, never an error
