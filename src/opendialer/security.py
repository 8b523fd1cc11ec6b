"""Secrets: generating, hashing and checking API keys and passwords."""

import base64
import hashlib
import hmac
import secrets

_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1


def new_token(prefix: str = "", nbytes: int = 32) -> str:
    return prefix + secrets.token_urlsafe(nbytes)


def hash_token(token: str) -> str:
    """API keys are long random strings, so one SHA-256 is enough to store them safely.

    Total over any text a client sent: a lone surrogate (JSON ``"\\udcff"``) hashes too, so it
    matches nothing instead of raising."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P)
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    candidate = hashlib.scrypt(
        password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p)
    )
    return same_secret(candidate.hex(), digest)


# The hash of a random password nobody kept: checking against it costs what a real check does.
_DUMMY_HASH = (
    "scrypt$16384$8$1$f8ee4a6df3987547043d2c932258281b$077fcc9d162783c4105d11f38db67337eb3117cc"
    "c55c9a06fb04ff8f424c3602c392d6b90b9edca9c847b4897a16094027fda98254a2524ed7bd0a06155458df"
)


def dummy_password_check(password: str) -> None:
    """Spend the time of one password check, for a user name that does not exist."""
    verify_password(password, _DUMMY_HASH)


def same_secret(expected: str, given: str) -> bool:
    """Constant-time comparison that is False, not TypeError, for any text the client sent
    (non-ASCII characters, lone surrogates)."""
    return hmac.compare_digest(expected.encode(), given.encode("utf-8", "surrogatepass"))


def link_key(secret: str, tenant_id: int, generation: int) -> str:
    """A tenant's link-signing key: rotating it (``generation + 1``) voids all older links."""
    message = f"links\n{tenant_id}\n{generation}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def campaign_code_signature(secret: str, campaign_id: int, salt: str) -> str:
    """32 URL-safe characters only the server secret can make for this campaign and salt."""
    key = hmac.new(secret.encode(), b"campaign-codes", hashlib.sha256).digest()
    message = f"{campaign_id}\n{salt}".encode()
    return base64.urlsafe_b64encode(hmac.new(key, message, hashlib.sha256).digest()[:24]).decode()


def sign_path(secret: str, path: str, expires: int) -> str:
    """The query string that lets anyone holding it GET ``path`` until ``expires`` (epoch s).

    Used for links a CRM fetches without credentials (recordings, exports). The signature
    covers the path and the expiry, so neither can be changed.
    """
    return f"expires={expires}&signature={_path_signature(secret, path, expires)}"


def verify_signed_path(secret: str, path: str, expires: int, signature: str, now: float) -> bool:
    if now > expires:
        return False
    return same_secret(_path_signature(secret, path, expires), signature)


def _path_signature(secret: str, path: str, expires: int) -> str:
    message = f"{path}\n{expires}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
