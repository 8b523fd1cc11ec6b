"""The browser phone's settings (config.py) and credentials (console/phone.py)."""

import base64
import hashlib
import hmac
from typing import Any

import pytest
from pydantic import SecretStr, ValidationError

from opendialer.config import Settings
from opendialer.console.phone import browser_phone, phone_user, sip_password, turn_servers

SECRET = "s" * 40
PHONES: dict[str, Any] = {
    "softphone_domain": "phones.example.com",
    "softphone_ws_url": "wss://sip.example.com:8443",
    "softphone_secret": SecretStr(SECRET),
}


def phones(**fields: Any) -> Settings:
    return Settings.model_validate({**PHONES, **fields})


def test_the_three_phone_settings_go_together() -> None:
    with pytest.raises(ValidationError, match="OPENDIALER_SOFTPHONE_SECRET"):
        Settings(softphone_domain="phones.example.com", softphone_ws_url="wss://sip.example.com")
    with pytest.raises(ValidationError, match="OPENDIALER_SOFTPHONE_DOMAIN"):
        Settings(softphone_registrar_rpc="http://10.0.0.5:8080/RPC")
    with pytest.raises(ValidationError, match="shorter than 32"):
        phones(softphone_secret=SecretStr("short"))
    with pytest.raises(ValidationError, match="softphone_ws_url"):
        phones(softphone_ws_url="https://sip.example.com")
    assert phones().softphone_domain == "phones.example.com"


def test_a_browser_phone_is_a_uri_in_the_phone_domain() -> None:
    settings = phones()
    assert phone_user(settings, "sip:erika@phones.example.com") == "erika"
    assert phone_user(settings, "sip:erika@PHONES.example.com:5060") == "erika"
    assert phone_user(settings, "sip:201@pbx.example.com") is None
    assert phone_user(settings, "not a uri") is None
    assert phone_user(settings, None) is None
    assert phone_user(Settings(), "sip:erika@phones.example.com") is None
    phone = browser_phone(settings, "sip:erika@phones.example.com")
    assert phone is not None and phone.uri == "sip:erika@phones.example.com"
    assert browser_phone(settings, "sip:201@pbx.example.com") is None


def test_the_sip_password_is_kamailios_hmac() -> None:
    """Kamailio's crypto_hmac_sha256 gives base64url without padding (the browser test proves
    Kamailio accepts it; this pins the formula)."""
    digest = hmac.new(SECRET.encode(), b"erika", hashlib.sha256).digest()
    expected = base64.urlsafe_b64encode(digest).decode().rstrip("=")
    assert sip_password(SECRET, "erika") == expected
    assert sip_password(SECRET, "erika") != sip_password(SECRET, "max")
    assert "=" not in expected and len(expected) == 43


def test_turn_credentials_follow_coturns_rest_scheme() -> None:
    settings = phones(
        softphone_turn_urls=["turn:turn.example.com:3478"],
        softphone_turn_secret=SecretStr("turn-secret"),
    )
    [server] = turn_servers(settings, "erika", now=1_000_000.0)
    assert server["urls"] == "turn:turn.example.com:3478"
    expiry, user = server["username"].split(":")
    assert user == "erika" and int(expiry) > 1_000_000
    mac = hmac.new(b"turn-secret", server["username"].encode(), hashlib.sha1).digest()
    assert server["credential"] == base64.b64encode(mac).decode()
    without_secret = phones(softphone_turn_urls=["stun:stun.example.com"])
    assert turn_servers(without_secret, "erika", now=0.0) == [{"urls": "stun:stun.example.com"}]
