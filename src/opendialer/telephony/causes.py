"""SIP final responses, Q.850 cause values, and the call outcome they mean.

* SIP → Q.850: RFC 3398 §8.2.6.1 ("SIP response received" → "cause value in the REL"). When a
  response carries ``Reason: Q.850;cause=N`` (RFC 6432), that cause wins over the table.
  RFC 3398 gives no value for 487, 488 and 606; like most gateways we use 127 (interworking).
  A status missing from the table is read as the ``x00`` of its class (RFC 3261 §8.1.3.2).
* Q.850 → SIP: RFC 3398 §7.2.4.1, for backends that only see causes (ARI, ESL). Cause 16 (normal
  clearing) is a BYE, not a response, so it has none.
"""

from opendialer.telephony.base import CallEventKind

NORMAL_CLEARING = 16
USER_BUSY = 17
NO_ANSWER_FROM_USER = 19
INTERWORKING = 127

SIP_TO_Q850: dict[int, int] = {
    400: 41,
    401: 21,
    402: 21,
    403: 21,
    404: 1,
    405: 63,
    406: 79,
    407: 21,
    408: 102,
    410: 22,
    413: 127,
    414: 127,
    415: 79,
    416: 127,
    420: 127,
    421: 127,
    423: 127,
    480: 18,
    481: 41,
    482: 25,
    483: 25,
    484: 28,
    485: 1,
    486: 17,
    487: INTERWORKING,
    488: INTERWORKING,
    500: 41,
    501: 79,
    502: 38,
    503: 41,
    504: 102,
    505: 127,
    513: 127,
    600: 17,
    603: 21,
    604: 1,
    606: INTERWORKING,
}

Q850_TO_SIP: dict[int, int] = {
    1: 404,
    2: 404,
    3: 404,
    17: 486,
    18: 408,
    19: 480,
    20: 480,
    21: 403,
    22: 410,
    23: 410,
    26: 404,
    27: 502,
    28: 484,
    29: 501,
    31: 480,
    34: 503,
    38: 503,
    41: 503,
    42: 503,
    47: 503,
    55: 403,
    57: 403,
    58: 503,
    65: 488,
    70: 488,
    79: 501,
    87: 403,
    88: 503,
    102: 504,
    111: 500,
    127: 500,
}

_KIND_BY_STATUS: dict[int, CallEventKind] = {
    404: CallEventKind.INVALID_NUMBER,
    410: CallEventKind.INVALID_NUMBER,
    484: CallEventKind.INVALID_NUMBER,
    485: CallEventKind.INVALID_NUMBER,
    604: CallEventKind.INVALID_NUMBER,
    408: CallEventKind.NO_ANSWER,
    480: CallEventKind.NO_ANSWER,
    486: CallEventKind.BUSY,
    600: CallEventKind.BUSY,
    487: CallEventKind.CANCELLED,
}

_KIND_BY_CAUSE: dict[int, CallEventKind] = {
    1: CallEventKind.INVALID_NUMBER,  # unallocated number
    2: CallEventKind.INVALID_NUMBER,  # no route to transit network
    3: CallEventKind.INVALID_NUMBER,  # no route to destination
    22: CallEventKind.INVALID_NUMBER,  # number changed
    28: CallEventKind.INVALID_NUMBER,  # invalid number format
    16: CallEventKind.NO_ANSWER,  # normal clearing before answer: released while ringing
    18: CallEventKind.NO_ANSWER,  # no user responding
    19: CallEventKind.NO_ANSWER,  # no answer from user (user alerted)
    20: CallEventKind.NO_ANSWER,  # subscriber absent
    31: CallEventKind.NO_ANSWER,  # normal, unspecified
    102: CallEventKind.NO_ANSWER,  # recovery on timer expiry
    17: CallEventKind.BUSY,  # user busy
}


def q850_for_sip(status: int, reason_cause: int | None = None) -> int:
    """The Q.850 cause of a final SIP failure response (3xx-6xx)."""
    if reason_cause is not None:
        return reason_cause
    if status in SIP_TO_Q850:
        return SIP_TO_Q850[status]
    return SIP_TO_Q850.get(status // 100 * 100, INTERWORKING)


def sip_for_q850(cause: int) -> int | None:
    """The SIP response for a Q.850 release cause; ``None`` for normal clearing (a BYE)."""
    if cause == NORMAL_CLEARING:
        return None
    return Q850_TO_SIP.get(cause, 500)


def failure_kind(sip_status: int | None, reason_cause: int | None = None) -> CallEventKind:
    """The final event kind of a call that ended before it was answered.

    ``reason_cause`` is a cause the network sent (RFC 6432 Reason header, or the only thing an
    ARI/ESL backend sees); it is more specific than the status, except for 487, which always
    means the dialer's own CANCEL.
    """
    if sip_status == 487:
        return CallEventKind.CANCELLED
    if reason_cause is not None:
        return _KIND_BY_CAUSE.get(reason_cause, CallEventKind.FAILED)
    if sip_status is None:
        return CallEventKind.FAILED
    known = sip_status in SIP_TO_Q850 or sip_status in _KIND_BY_STATUS
    status = sip_status if known else sip_status // 100 * 100
    return _KIND_BY_STATUS.get(status, CallEventKind.FAILED)
