"""The agent's browser phone: who has one, the credentials their console registers with, and
whether Kamailio (the registrar) says it is registered.

An agent has a browser phone when their ``sip_uri`` is ``sip:<user>@<softphone_domain>``; the
dialer calls that URI through Kamailio exactly as it calls a desk phone. The SIP password of
``<user>`` is HMAC-SHA256(softphone_secret, user) in base64url: Kamailio derives the same one
(``crypto_hmac_sha256`` in kamailio.cfg), so no password list is kept anywhere, and only a
signed-in agent's console page carries it.
"""

import base64
import hashlib
import hmac
import logging
import time
from dataclasses import dataclass, field

import httpx

from opendialer.config import Settings
from opendialer.errors import Conflict, OpendialerError
from opendialer.telephony.sip.options import parse_sip_uri

log = logging.getLogger(__name__)

REGISTRAR_TIMEOUT_SECONDS = 2.0
TURN_CREDENTIAL_SECONDS = 12 * 3600  # a console page lives a working day


class PhoneNotRegistered(Conflict):
    code = "phone_not_registered"


class RegistrarUnavailable(OpendialerError):
    status_code = 503
    code = "registrar_unavailable"


@dataclass(frozen=True)
class BrowserPhone:
    """What the console's phone.js needs to register and take calls."""

    ws_url: str
    uri: str
    user: str
    password: str
    ice_servers: list[dict[str, str]] = field(default_factory=list)


def phone_user(settings: Settings, sip_uri: str | None) -> str | None:
    """The SIP user of a browser phone, or None for a desk phone (or no softphone set up)."""
    if sip_uri is None or settings.softphone_domain is None:
        return None
    try:
        user, host, _port = parse_sip_uri(sip_uri)
    except ValueError:
        return None
    return user if user and host.lower() == settings.softphone_domain.lower() else None


def sip_password(secret: str, user: str) -> str:
    digest = hmac.new(secret.encode(), user.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def turn_servers(settings: Settings, user: str, now: float) -> list[dict[str, str]]:
    """coturn's REST credentials (use-auth-secret): ``expiry:user`` and its HMAC-SHA1."""
    secret = settings.softphone_turn_secret
    if not settings.softphone_turn_urls or secret is None:
        return [{"urls": url} for url in settings.softphone_turn_urls]
    username = f"{int(now) + TURN_CREDENTIAL_SECONDS}:{user}"
    mac = hmac.new(secret.get_secret_value().encode(), username.encode(), hashlib.sha1)
    credential = base64.b64encode(mac.digest()).decode()
    return [
        {"urls": url, "username": username, "credential": credential}
        for url in settings.softphone_turn_urls
    ]


def browser_phone(settings: Settings, sip_uri: str | None) -> BrowserPhone | None:
    user = phone_user(settings, sip_uri)
    if user is None or settings.softphone_ws_url is None or settings.softphone_secret is None:
        return None
    return BrowserPhone(
        ws_url=settings.softphone_ws_url,
        uri=f"sip:{user}@{settings.softphone_domain}",
        user=user,
        password=sip_password(settings.softphone_secret.get_secret_value(), user),
        ice_servers=turn_servers(settings, user, time.time()),
    )


def check_registered(settings: Settings, sip_uri: str | None) -> None:
    """Raise :class:`PhoneNotRegistered` when the agent's browser phone is not registered at
    Kamailio (asked over its JSON-RPC, ``ul.lookup``); desk phones are not checked."""
    user = phone_user(settings, sip_uri)
    if user is None or settings.softphone_registrar_rpc is None:
        return
    if not _registered(settings.softphone_registrar_rpc, user):
        raise PhoneNotRegistered(
            "Your browser phone is not registered: allow the microphone and wait until the "
            "phone says it is connected, then go ready."
        )


def _registered(rpc_url: str, user: str) -> bool:
    request = {"jsonrpc": "2.0", "method": "ul.lookup", "params": ["location", user], "id": 1}
    try:
        answer = httpx.post(rpc_url, json=request, timeout=REGISTRAR_TIMEOUT_SECONDS)
        body = answer.json()
    except (httpx.HTTPError, ValueError) as exc:
        log.warning("softphone registrar %s unreachable: %s", rpc_url, exc)
        raise RegistrarUnavailable(
            "The phone registrar does not answer; try again in a moment."
        ) from exc
    result = body.get("result") if isinstance(body, dict) else None
    contacts = result.get("Contacts") if isinstance(result, dict) else None
    return bool(contacts)
