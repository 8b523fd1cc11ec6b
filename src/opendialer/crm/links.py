"""MiniCRM's recording URL template (the signed links themselves come from recordings)."""

from urllib.parse import quote

from opendialer.config import Settings
from opendialer.crm.schemas import RECORDING_PLACEHOLDER
from opendialer.models import CrmEndpoint


def default_recording_template(settings: Settings, endpoint: CrmEndpoint) -> str:
    """This server's resolver: it redirects to the signed link of the named recording."""
    base = settings.public_base_url.rstrip("/")
    return f"{base}/Api/Recordings/{endpoint.recording_token}?Rec={RECORDING_PLACEHOLDER}"


def recording_template(settings: Settings, endpoint: CrmEndpoint) -> str:
    return endpoint.recording_url_template or default_recording_template(settings, endpoint)


def resolve_template(template: str, reference_id: str) -> str:
    """What the CRM does with the template: the ReferenceId, URL-encoded, in the placeholder."""
    return template.replace(RECORDING_PLACEHOLDER, quote(reference_id, safe=""))
