"""MiniCRM's recording URL template (the signed links themselves come from recordings)."""

import hashlib
import hmac
import re
from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.orm import Session

from opendialer.accounts.service import link_secret
from opendialer.config import Settings
from opendialer.crm.schemas import RECORDING_PLACEHOLDER
from opendialer.models import CrmEndpoint
from opendialer.scoping import Credential, Scope
from opendialer.security import hash_token, same_secret

_ENDPOINT_ID = re.compile(r"[0-9]{1,18}")


def recording_token(session: Session, settings: Settings, endpoint: CrmEndpoint) -> str:
    """``<endpoint id>.<HMAC>`` under the tenant's link key: nothing secret is stored, and
    rotating the link key revokes it with the tenant's other links."""
    secret = link_secret(
        session, settings.secret_key.get_secret_value(), Scope.system(endpoint.tenant_id)
    )
    return f"{endpoint.id}.{_token_signature(secret, endpoint.id)}"


def recording_link_scope(endpoint: CrmEndpoint) -> Scope:
    """The scope of a request authenticated by the endpoint's recording token."""
    return Scope.of_credential(endpoint.tenant_id, Credential.RECORDING_LINK, endpoint.id)


def endpoint_by_recording_token(
    session: Session, settings: Settings, token: str
) -> CrmEndpoint | None:
    endpoint_id, dot, signature = token.partition(".")
    if not dot:  # made before tokens were derived: looked up by its hash
        return session.scalar(
            select(CrmEndpoint).where(CrmEndpoint.legacy_recording_token_hash == hash_token(token))
        )
    if not _ENDPOINT_ID.fullmatch(endpoint_id):
        return None
    endpoint = session.get(CrmEndpoint, int(endpoint_id))
    if endpoint is None:
        return None
    secret = link_secret(
        session, settings.secret_key.get_secret_value(), Scope.system(endpoint.tenant_id)
    )
    return endpoint if same_secret(_token_signature(secret, endpoint.id), signature) else None


def _token_signature(secret: str, endpoint_id: int) -> str:
    message = f"crm-recordings\n{endpoint_id}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:32]


def default_recording_template(session: Session, settings: Settings, endpoint: CrmEndpoint) -> str:
    """This server's resolver: it redirects to the signed link of the named recording."""
    base = settings.public_base_url.rstrip("/")
    token = recording_token(session, settings, endpoint)
    return f"{base}/Api/Recordings/{token}?Rec={RECORDING_PLACEHOLDER}"


def recording_template(session: Session, settings: Settings, endpoint: CrmEndpoint) -> str:
    return endpoint.recording_url_template or default_recording_template(
        session, settings, endpoint
    )


def resolve_template(template: str, reference_id: str) -> str:
    """What the CRM does with the template: the ReferenceId, URL-encoded, in the placeholder."""
    return template.replace(RECORDING_PLACEHOLDER, quote(reference_id, safe=""))
