"""Telephony: the interface the engine dials through, and the backends behind it."""

from opendialer.telephony.base import (
    AgentEndpoint,
    AudioStore,
    CallEvent,
    CallEventKind,
    CallId,
    CallStateError,
    OriginateRequest,
    RecordingHook,
    TelephonyBackend,
    TelephonyError,
    UnknownCallError,
)
from opendialer.telephony.registry import TelephonyConfigError, available_backends, load_backend

__all__ = [
    "AgentEndpoint",
    "AudioStore",
    "CallEvent",
    "CallEventKind",
    "CallId",
    "CallStateError",
    "OriginateRequest",
    "RecordingHook",
    "TelephonyBackend",
    "TelephonyConfigError",
    "TelephonyError",
    "UnknownCallError",
    "available_backends",
    "load_backend",
]
