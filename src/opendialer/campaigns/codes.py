"""Voicenter campaign codes: derived from the server secret, never stored.

A code is ``<campaign id>.<signature>``, the signature an HMAC of the id and a random salt kept
in the row (``security.campaign_code_signature``). A database dump holds the salt, not the code;
``GetCampaignList`` and the native API recompute it. Codes made before codes were derived
(random, once stored in clear) are kept as their SHA-256 and still authenticate, but cannot be
shown: a new code (:func:`new_code`) replaces one. Changing the server secret changes every
derived code, as it voids every signed link.
"""

import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from opendialer.models import Campaign
from opendialer.scoping import Scope, get_owned
from opendialer.security import campaign_code_signature, hash_token, new_token, same_secret

_DERIVED = re.compile(r"([1-9][0-9]{0,17})\.([A-Za-z0-9_-]{32})")


def new_salt() -> str:
    return new_token(nbytes=12)


def code_id(code: str) -> int | None:
    """The campaign id a derived code names (checked by :meth:`CodeKey.matches`), else None."""
    match = _DERIVED.fullmatch(code)
    return int(match.group(1)) if match else None


@dataclass(frozen=True, slots=True)
class CodeKey:
    """Makes and checks campaign codes with the server secret."""

    secret: str

    def code(self, campaign_id: int, salt: str | None) -> str | None:
        """The campaign's code; None for a code made before codes were derived."""
        if salt is None:
            return None
        return f"{campaign_id}.{campaign_code_signature(self.secret, campaign_id, salt)}"

    def of(self, campaign: Campaign) -> str | None:
        return self.code(campaign.id, campaign.code_salt)

    def matches(self, code: str, campaign_id: int, salt: str | None, legacy: str | None) -> bool:
        expected = self.code(campaign_id, salt)
        if expected is not None and same_secret(expected, code):
            return True
        return legacy is not None and same_secret(legacy, hash_token(code))


def campaign_by_code(session: Session, key: CodeKey, code: str) -> Campaign | None:
    campaign_id = code_id(code)
    if campaign_id is not None:
        campaign = session.get(Campaign, campaign_id)
        if campaign is not None and key.matches(code, campaign.id, campaign.code_salt, None):
            return campaign
        return None
    found: Campaign | None = session.scalar(
        select(Campaign).where(Campaign.legacy_code_hash == hash_token(code))
    )
    return found


def new_code(session: Session, scope: Scope, campaign_id: int) -> Campaign:
    """A new code for the campaign: the old one, derived or not, stops working."""
    campaign = get_owned(session, Campaign, scope, campaign_id, "campaign")
    campaign.code_salt = new_salt()
    campaign.legacy_code_hash = None
    session.flush()
    return campaign
