"""Rendering native records as jtel records (names as in the spec's examples, §2)."""

from collections.abc import Mapping
from decimal import Decimal
from zoneinfo import ZoneInfo

import phonenumbers

from opendialer.acd.schemas import STATUS_SHORT_TEXT, AcdStatus
from opendialer.acd.service import AcdEvent
from opendialer.agents.service import AgentGroup
from opendialer.campaigns.schemas import CampaignStatus
from opendialer.campaigns.service import Campaign, ResultCode
from opendialer.contacts.schemas import MAX_PHONES
from opendialer.contacts.service import CallAttempt, Contact, ContactPhone
from opendialer.dialects.jtel.envelope import Record
from opendialer.dialects.jtel.schemas import COMMON_FIELDS, format_local
from opendialer.phones import international_digits


def _amount(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def _phone_fields(position: int, phone: ContactPhone | None) -> Record:
    number = None
    if phone is not None:
        number = international_digits(phone.e164) if phone.e164 else phone.raw
    return {
        f"PhoneNumber{position}": number,
        f"bPhoneNumber{position}Invalid": None if phone is None else phone.invalid,
        f"nTriesPhoneNumber{position}": 0 if phone is None else phone.tries,
        f"nPhoneNumber{position}LastCause": None if phone is None else phone.last_cause,
        f"PhoneNumber{position}LastAcdAgentEndReasonsID": (
            None if phone is None else phone.last_end_reason_id
        ),
    }


def _last_end_reason(contact: Contact) -> int | None:
    tried = [(p.last_attempt_at, p.position, p) for p in contact.phones if p.last_attempt_at]
    return max(tried, key=lambda t: (t[0], t[1]))[2].last_end_reason_id if tried else None


def contact_record(contact: Contact, zone: ZoneInfo, usernames: Mapping[int, str]) -> Record:
    """A DiallerContacts record."""
    record: Record = {"ID": contact.id, "DiallerCampaignsID": contact.campaign_id}
    for jtel, native in COMMON_FIELDS.items():
        record[jtel] = getattr(contact, native)
    record["Amount"] = _amount(contact.amount)
    record["RandomSortOrder"] = contact.random_sort_order
    phones = {p.position: p for p in contact.phones}
    for position in range(1, MAX_PHONES + 1):
        record.update(_phone_fields(position, phones.get(position)))
    record.update(
        {
            "ReservedUsersUID": usernames.get(contact.reserved_user_id or 0),
            "FollowUpUsersUID": usernames.get(contact.follow_up_user_id or 0),
            "FollowUpDateTime": format_local(contact.follow_up_at, zone),
            "dtBeginDate": format_local(contact.begin_at, zone),
            "dtEndDate": format_local(contact.end_at, zone),
            "dtNextTry": format_local(contact.next_try_at, zone),
            "dtLastCall": format_local(contact.last_call_at, zone),
            "dtCreated": format_local(contact.created_at, zone),
            "bLastResultMailbox": contact.last_result_mailbox,
            "LastAcdAgentEndReasonsID": _last_end_reason(contact),
            "DiallerCampaignsResultCodesID": contact.result_code_id,
            "nTries": contact.tries,
            "bLocked": contact.locked,
            "Status": contact.status.value,
            "ClientsID": contact.tenant_id,
        }
    )
    return record


def _country_code(number: str | None) -> int | None:
    if not number:
        return None
    try:
        return phonenumbers.parse(number if number.startswith("+") else "+" + number).country_code
    except phonenumbers.NumberParseException:
        return None


def _digits(number: str | None) -> str | None:
    return None if number is None else international_digits(number)


def history_record(
    attempt: CallAttempt, contact: Contact | None, code_types: Mapping[int, int], zone: ZoneInfo
) -> Record:
    """A DiallerContactsHistory record from one call attempt."""
    customer = attempt.b_number if attempt.outbound else attempt.a_number
    return {
        "DiallerContactsHistoryID": attempt.id,
        "DiallerContactsID": attempt.contact_id,
        "DiallerCampaignsID": attempt.campaign_id,
        "UserData": contact.user_data if contact else None,
        "UserData2": contact.user_data2 if contact else None,
        "UserData3": contact.user_data3 if contact else None,
        "ClientsID": attempt.tenant_id,
        "bOutbound": attempt.outbound,
        "bTestCall": attempt.test_call,
        "ANumber": _digits(attempt.a_number),
        "BNumber": _digits(attempt.b_number),
        "PhoneNumber": _digits(customer),
        "PhoneNumberOffset": attempt.phone_position,
        "ANumber_CountryCodesID": _country_code(attempt.a_number),
        "BNumber_CountryCodesID": _country_code(attempt.b_number),
        "ANumber_AreaCodesID": None,
        "BNumber_AreaCodesID": None,
        "ServiceNumbersID": None,
        "StatisticsPartAID": None,
        "dtCallStart": format_local(attempt.started_at, zone),
        "dtCallAlert": format_local(attempt.alerted_at, zone),
        "dtCallConnect": format_local(attempt.answered_at or attempt.connected_at, zone),
        "dtCallEnd": format_local(attempt.ended_at, zone),
        "dtCreatedDiallerContactsHistory": format_local(attempt.created_at, zone),
        "CONNRES": 1 if attempt.connected_at is not None else 0,
        "bCallerHangup": attempt.caller_hangup,
        "CauseCodesID": attempt.cause_code,
        "UsersID": attempt.user_id,
        "DiallerCampaignsResultCodesID": attempt.result_code_id,
        "DiallerResultCodesTypesID": code_types.get(attempt.result_code_id or 0),
        "Outcome": attempt.outcome.value if attempt.outcome else None,
    }


def campaign_record(campaign: Campaign, zone: ZoneInfo) -> Record:
    """A DiallerCampaigns record (the fields this server has; the rest are not modelled)."""
    return {
        "ID": campaign.id,
        "Name": campaign.name,
        "Description": campaign.description,
        "UserData": campaign.user_data,
        "ClientsID": campaign.tenant_id,
        "LanguagesID": campaign.language_id,
        "bEnabled": campaign.status is CampaignStatus.ENABLED,
        "DialMode": campaign.dial_mode.value,
        "AcdGroupsID": campaign.agent_group_id,
        "ContactPreviewTime": campaign.preview_seconds,
        "nMaxParallelLines": campaign.max_parallel_lines,
        "nMaxTriesPerNumber": campaign.max_tries_per_number,
        "nRetryDelaySeconds": campaign.retry_delay_seconds,
        "nRingTimeoutSeconds": campaign.ring_timeout_seconds,
        "bCallerIDActive": campaign.caller_id is not None,
        "CallerID": _digits(campaign.caller_id),
        "bRecordCalls": campaign.record_calls,
        "bCloseContactsOnIncomingCallsMatchCallerID": False,
        "AbortOnNoTelNumberResultCodesID": None,
        "IncomingCallResultCodesID": None,
        "TimeZone": campaign.timezone,
        "dtFrom": format_local(campaign.begin_at, zone),
        "dtTo": format_local(campaign.end_at, zone),
    }


def result_code_record(code: ResultCode, language_id: int) -> Record:
    return {
        "ID": code.id,
        "DiallerCampaignsID": code.campaign_id,
        "Code": code.code,
        "Name": code.text_de if language_id == 2 else code.text_en,
        "LanguagesID": language_id,
        "DiallerResultCodesTypesID": code.type_id,
        "bSuccess": code.is_success,
        "Action": code.action.value,
    }


def group_record(group: AgentGroup) -> Record:
    """An AcdGroups record; queue media and announcements are not modelled (fixed values)."""
    return {
        "ID": group.id,
        "Name": group.name,
        "Description": group.description,
        "ClientsID": group.tenant_id,
        "bNoDuplicateEvents": group.no_duplicate_events,
        "DistributionAlgorithmID": 1,
        "QueueMusicID4Sec": -1,
        "QueueOffhookAnnouncementID": None,
        "SupervisorAggregationSkill5ID": None,
        "bPositionAnnouncement3": False,
        "TarifAnnouncementWavesID": None,
        "bCallRedirectionAfterNumberAnnouncement": False,
    }


def event_record(event: AcdEvent, zone: ZoneInfo, result: str | None = None) -> Record:
    record: Record = {
        "ID": event.id,
        "AcdEventTypesID": event.type_id,
        "AcdEventStatusID": event.status_id,
        "AcdEventStatus": status_short_text(event.status_id),
        "AcdGroupsID": event.group_id,
        "UsersID": event.user_id,
        "Sender": event.sender,
        "Receiver": event.receiver,
        "Subject": event.subject,
        "Body": event.body,
        "CrmURL": event.crm_url,
        "UserData": event.user_data,
        "nPriority": event.priority,
        "dtAppointment": format_local(event.appointment_at, zone),
        "OfferedUsersID": event.offered_user_id,
        "dtOffered": format_local(event.offered_at, zone),
        "dtDone": format_local(event.done_at, zone),
        "Comment": event.comment,
        "DiallerContactsID": event.contact_id,
        "DiallerCampaignsID": event.campaign_id,
        "ClientsID": event.tenant_id,
        "dtCreated": format_local(event.created_at, zone),
    }
    if result is not None:
        record["Result_"] = result
    return record


def status_short_text(status_id: int) -> str | None:
    try:
        return f"AcdEventStatus.{STATUS_SHORT_TEXT[AcdStatus(status_id)]}"
    except ValueError:
        return None
