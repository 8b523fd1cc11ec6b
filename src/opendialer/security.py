"""Secrets: generating, hashing and checking API keys and passwords."""

import hashlib
import hmac
import secrets

_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1


def new_token(prefix: str = "", nbytes: int = 32) -> str:
    return prefix + secrets.token_urlsafe(nbytes)


def hash_token(token: str) -> str:
    """API keys are long random strings, so one SHA-256 is enough to store them safely."""
    return hashlib.sha256(token.encode()).hexdigest()


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
    return hmac.compare_digest(candidate.hex(), digest)


def sign_path(secret: str, path: str, expires: int) -> str:
    """The query string that lets anyone holding it GET ``path`` until ``expires`` (epoch s).

    Used for links a CRM fetches without credentials (recordings, exports). The signature
    covers the path and the expiry, so neither can be changed.
    """
    return f"expires={expires}&signature={_path_signature(secret, path, expires)}"


def verify_signed_path(secret: str, path: str, expires: int, signature: str, now: float) -> bool:
    if now > expires:
        return False
    return hmac.compare_digest(_path_signature(secret, path, expires), signature)


def _path_signature(secret: str, path: str, expires: int) -> str:
    message = f"{path}\n{expires}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
