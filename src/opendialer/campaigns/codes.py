"""Voicenter campaign codes: derived from the server secret, never stored.

A code is ``<campaign id>.<signature>``, the signature an HMAC of the id and a random salt kept
in the row (``security.campaign_code_signature``). A database dump holds the salt, not the code;
``GetCampaignList`` and the native API recompute it. Codes made before codes were derived
(random, once stored in clear) are kept as their SHA-256 and still authenticate, but cannot be
shown: a new code (:func:`new_code`) replaces one. Changing the server secret changes every
derived code, as it voids every signed link.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import Select, bindparam, or_, select
from sqlalchemy.orm import Session

from opendialer.models import Campaign, Tenant
from opendialer.scoping import Credential, Scope, get_owned
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


def code_scope(campaign: "Campaign | CampaignRef") -> Scope:
    """The scope of a request authenticated by the campaign's code."""
    return Scope.of_credential(campaign.tenant_id, Credential.CAMPAIGN_CODE, campaign.id)


@dataclass(frozen=True, slots=True)
class CampaignRef:
    """What adding targets needs to know about the campaign a code names: a row of one cached
    statement, not an ORM object (Voicenter's quick path, ``bench/voicenter_api.py``)."""

    id: int
    tenant_id: int
    region: str
    timezone: str
    own_caller_id_check: str = "off"  # campaigns' OwnCallerIdCheck


def _ref_columns() -> Select[Any]:
    return (
        select(Campaign.id, Campaign.tenant_id, Campaign.code_salt, Campaign.legacy_code_hash)
        .add_columns(Tenant.default_region, Tenant.timezone, Campaign.own_caller_id_check)
        .join(Tenant, Tenant.id == Campaign.tenant_id)
    )


# Built once: the look-ups run for every added target, so their construction counts.
@cache
def _refs_statement() -> Select[Any]:
    return _ref_columns().where(
        or_(
            Campaign.id.in_(bindparam("ids", expanding=True)),
            Campaign.legacy_code_hash.in_(bindparam("hashes", expanding=True)),
        )
    )


@cache
def _ref_statement() -> Select[Any]:
    # Not the IN form with one id: an expanding parameter is re-rendered on every call.
    return _ref_columns().where(Campaign.id == bindparam("id"))


@cache
def _legacy_ref_statement() -> Select[Any]:
    return _ref_columns().where(Campaign.legacy_code_hash == bindparam("hash"))


def _ref(row: Any) -> CampaignRef:
    return CampaignRef(
        row.id, row.tenant_id, row.default_region, row.timezone, row.own_caller_id_check
    )


def campaign_ref(session: Session, key: CodeKey, code: str) -> CampaignRef | None:
    """The campaign this code names, with its tenant's region and zone; None for no campaign."""
    campaign_id = code_id(code)
    conn = session.connection()
    if campaign_id is None:
        row = conn.execute(_legacy_ref_statement(), {"hash": hash_token(code)}).first()
    else:
        row = conn.execute(_ref_statement(), {"id": campaign_id}).first()
    if row is None or not key.matches(code, row.id, row.code_salt, row.legacy_code_hash):
        return None
    return _ref(row)


def campaign_refs(session: Session, key: CodeKey, codes: Iterable[str]) -> dict[str, CampaignRef]:
    """The campaigns with these codes and their tenants' region and zone, in one query per
    thousand codes."""
    wanted = sorted(set(codes))
    found: dict[str, CampaignRef] = {}
    conn = session.connection()
    for start in range(0, len(wanted), 1000):
        chunk = wanted[start : start + 1000]
        ids = [i for i in map(code_id, chunk) if i is not None]
        hashes = {hash_token(code): code for code in chunk if code_id(code) is None}
        rows = conn.execute(_refs_statement(), {"ids": ids, "hashes": list(hashes)})
        for row in rows:
            derived = key.code(row.id, row.code_salt)
            if derived is not None:
                found[derived] = _ref(row)
            if row.legacy_code_hash in hashes:
                found[hashes[row.legacy_code_hash]] = _ref(row)
    return found


def new_code(session: Session, scope: Scope, campaign_id: int) -> Campaign:
    """A new code for the campaign: the old one, derived or not, stops working."""
    campaign = get_owned(session, Campaign, scope, campaign_id, "campaign")
    campaign.code_salt = new_salt()
    campaign.legacy_code_hash = None
    session.flush()
    return campaign
