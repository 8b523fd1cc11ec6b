"""A vendor credential that names no user acts as itself: each one resolves to a scope that
names the credential and the row it names, with the role the credential's powers match (so
audit and role checks see who acted; no dialect acts as ``Scope.system``, checked by
test_translation_only)."""

from sqlalchemy.orm import Session

from opendialer.accounts.service import NewTenant, account_code_scope
from opendialer.campaigns.codes import CodeKey, campaign_ref, code_scope
from opendialer.config import Settings
from opendialer.crm.calllog import calllog_key_scope
from opendialer.crm.links import recording_link_scope
from opendialer.models import CrmEndpoint, UserRole
from opendialer.scoping import Credential, Scope
from tests.factories import make_campaign


def test_voicenter_codes_act_as_the_account_and_the_campaign(
    session: Session, tenant: NewTenant, settings: Settings
) -> None:
    tenant_id = tenant.tenant.id
    account = account_code_scope(session, tenant.account_code)
    assert account == Scope(
        tenant_id, UserRole.SUPERVISOR, credential=Credential.ACCOUNT_CODE, credential_of=tenant_id
    )
    assert account_code_scope(session, tenant.account_code + "x") is None
    campaign = make_campaign(session, tenant_id)
    key = CodeKey(settings.secret_key.get_secret_value())
    code = key.of(campaign)
    assert code is not None
    ref = campaign_ref(session, key, code)
    assert ref is not None and campaign_ref(session, key, code + "x") is None
    expected = Scope(
        tenant_id, UserRole.ADMIN, credential=Credential.CAMPAIGN_CODE, credential_of=campaign.id
    )
    assert code_scope(ref) == code_scope(campaign) == expected
    assert expected.acting == f"campaign_code {campaign.id}"


def test_minicrm_keys_act_as_the_key_and_the_link(tenant: NewTenant) -> None:
    tenant_id = tenant.tenant.id
    assert calllog_key_scope(tenant.tenant) == Scope(
        tenant_id, UserRole.SUPERVISOR, credential=Credential.CALL_LOG_KEY, credential_of=tenant_id
    )
    link = recording_link_scope(CrmEndpoint(id=5, tenant_id=tenant_id))
    assert link == Scope(
        tenant_id, UserRole.SUPERVISOR, credential=Credential.RECORDING_LINK, credential_of=5
    )


def test_the_acting_principal_is_named_for_every_kind() -> None:
    assert Scope(1, UserRole.AGENT, user_id=7).acting == "user 7"
    assert Scope(1, UserRole.ADMIN, api_key_id=3).acting == "api_key 3"
    assert Scope.of_credential(1, Credential.CALL_LOG_KEY, 1).acting == "call_log_key 1"
    assert Scope.system(1).acting == "system"
