"""All ORM tables on one metadata, so Alembic sees every one of them."""

from opendialer.models.acd import AcdEvent
from opendialer.models.audit import AuditEntry
from opendialer.models.base import Base
from opendialer.models.call import CallAttempt, CallOutcome, Recording
from opendialer.models.campaign import (
    CallerIdStrategy,
    Campaign,
    CampaignMember,
    CampaignStatus,
    ContactList,
    DialMode,
    FormField,
    OwnCallerIdCheck,
    ResultAction,
    ResultCode,
    RetryRule,
)
from opendialer.models.compliance import CallerIdNumber, Consent, ContactHold, HoldReason
from opendialer.models.contact import MAX_PHONES, Contact, ContactPhone, ContactStatus
from opendialer.models.crm import CrmCallLog
from opendialer.models.dnc import DncEntry
from opendialer.models.engine import (
    AgentSession,
    AgentState,
    CampaignLease,
    EngineLease,
    PacingDecision,
)
from opendialer.models.outbox import (
    CrmEndpoint,
    EndpointKind,
    OutboxMessage,
    OutboxStatus,
    UserExtensionPolicy,
)
from opendialer.models.reporting import AgentStateChange, DncRefusal
from opendialer.models.rollups import (
    AgentStateMark,
    AgentStateQuarter,
    AttemptQuarter,
    ReportWatermark,
)
from opendialer.models.tenant import (
    AgentGroup,
    AgentGroupMember,
    ApiKey,
    AuthFailure,
    LoginSession,
    Tenant,
    User,
    UserRole,
)

__all__ = [
    "MAX_PHONES",
    "AcdEvent",
    "AgentGroup",
    "AgentGroupMember",
    "AgentSession",
    "AgentState",
    "AgentStateChange",
    "AgentStateMark",
    "AgentStateQuarter",
    "ApiKey",
    "AttemptQuarter",
    "AuditEntry",
    "AuthFailure",
    "Base",
    "CallAttempt",
    "CallOutcome",
    "CallerIdNumber",
    "CallerIdStrategy",
    "Campaign",
    "CampaignLease",
    "CampaignMember",
    "CampaignStatus",
    "Consent",
    "Contact",
    "ContactHold",
    "ContactList",
    "ContactPhone",
    "ContactStatus",
    "CrmCallLog",
    "CrmEndpoint",
    "DialMode",
    "DncEntry",
    "DncRefusal",
    "EndpointKind",
    "EngineLease",
    "FormField",
    "HoldReason",
    "LoginSession",
    "OutboxMessage",
    "OutboxStatus",
    "OwnCallerIdCheck",
    "PacingDecision",
    "Recording",
    "ReportWatermark",
    "ResultAction",
    "ResultCode",
    "RetryRule",
    "Tenant",
    "User",
    "UserExtensionPolicy",
    "UserRole",
]
