import pytest

from opendialer.telephony.base import CallEventKind
from opendialer.telephony.causes import failure_kind, q850_for_sip, sip_for_q850

K = CallEventKind


@pytest.mark.parametrize(
    ("status", "cause"),
    [
        (404, 1),  # unallocated number
        (408, 102),  # recovery on timer expiry
        (410, 22),  # number changed
        (480, 18),  # no user responding
        (484, 28),  # invalid number format
        (486, 17),  # user busy
        (487, 127),  # no RFC 3398 value: interworking
        (500, 41),
        (502, 38),
        (503, 41),
        (600, 17),
        (603, 21),  # call rejected
        (604, 1),
        (499, 41),  # unknown 4xx reads as 400
        (555, 41),  # unknown 5xx reads as 500
        (699, 17),  # unknown 6xx reads as 600
        (399, 127),
    ],
)
def test_sip_to_q850_follows_rfc_3398(status: int, cause: int) -> None:
    assert q850_for_sip(status) == cause


def test_a_reason_header_cause_wins() -> None:
    assert q850_for_sip(480, reason_cause=19) == 19  # RFC 6432


@pytest.mark.parametrize(
    ("cause", "status"),
    [
        (1, 404),
        (16, None),
        (17, 486),
        (18, 408),
        (19, 480),
        (21, 403),
        (28, 484),
        (34, 503),
        (102, 504),
        (127, 500),
        (99, 500),
    ],
)
def test_q850_to_sip(cause: int, status: int | None) -> None:
    assert sip_for_q850(cause) == status


@pytest.mark.parametrize(
    ("status", "reason", "kind"),
    [
        (486, None, K.BUSY),
        (600, None, K.BUSY),
        (404, None, K.INVALID_NUMBER),
        (484, None, K.INVALID_NUMBER),
        (604, None, K.INVALID_NUMBER),
        (480, None, K.NO_ANSWER),
        (408, None, K.NO_ANSWER),
        (487, None, K.CANCELLED),
        (487, 16, K.CANCELLED),
        (503, None, K.FAILED),
        (603, None, K.FAILED),
        (699, None, K.BUSY),
        (503, 17, K.BUSY),  # the carrier's Reason header is more specific
        (None, 1, K.INVALID_NUMBER),  # a cause alone, as from ARI or ESL
        (None, 19, K.NO_ANSWER),
        (None, 34, K.FAILED),
        (None, None, K.FAILED),
    ],
)
def test_failure_kind(status: int | None, reason: int | None, kind: CallEventKind) -> None:
    assert failure_kind(status, reason) is kind


def test_final_kinds() -> None:
    from datetime import UTC, datetime

    from opendialer.telephony.base import CallEvent, CallId

    def event(kind: CallEventKind) -> CallEvent:
        return CallEvent(CallId("c"), kind, datetime.now(UTC))

    finals = {kind for kind in K if event(kind).final}
    assert finals == {
        K.BUSY,
        K.NO_ANSWER,
        K.FAILED,
        K.INVALID_NUMBER,
        K.CANCELLED,
        K.HANGUP_CUSTOMER,
        K.HANGUP_AGENT,
        K.HANGUP_DIALER,
    }
