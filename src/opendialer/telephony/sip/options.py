"""The ``sip`` backend's options (``OPENDIALER_TELEPHONY_OPTIONS``), validated at start-up."""

import re
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

_HOST_PORT = re.compile(r"^(?P<host>\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.\-]+)(?::(?P<port>\d{1,5}))?$")
_SIP_URI = re.compile(
    r"^sips?:(?:(?P<user>[^@;>]+)@)?(?P<host>\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.\-]+)"
    r"(?::(?P<port>\d{1,5}))?(?P<params>;[^?>]*)?$"
)
DEFAULT_SIP_PORT = 5060
DEFAULT_NG_PORT = 2223  # rtpengine's NG control port in Debian's /etc/rtpengine/rtpengine.conf


class SipOptionsError(ValueError):
    """The ``sip`` backend's options are invalid; the message says which and why."""


def split_host_port(value: str, default_port: int = DEFAULT_SIP_PORT) -> tuple[str, int]:
    match = _HOST_PORT.match(value.strip())
    if match is None:
        raise ValueError(f"{value!r} is not host[:port]")
    port = int(match["port"]) if match["port"] else default_port
    if not 0 < port < 65536:
        raise ValueError(f"port {port} out of range in {value!r}")
    return match["host"], port


def parse_sip_uri(uri: str) -> tuple[str | None, str, int]:
    """``sip:user@host[:port][;params]`` -> (user, host, port); raises ``ValueError``."""
    match = _SIP_URI.match(uri.strip().strip("<>"))
    if match is None:
        raise ValueError(f"{uri!r} is not a SIP URI (sip:user@host[:port])")
    port = int(match["port"]) if match["port"] else DEFAULT_SIP_PORT
    if not 0 < port < 65536:
        raise ValueError(f"port {port} out of range in {uri!r}")
    return match["user"], match["host"], port


class Route(BaseModel):
    """Numbers starting with ``prefix`` go to ``trunk`` (longest prefix wins)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    prefix: str = Field(pattern=r"^\+?[0-9]*$")
    trunk: str

    @field_validator("trunk")
    @classmethod
    def _trunk_is_host_port(cls, value: str) -> str:
        split_host_port(value)
        return value


class SipOptions(BaseModel):
    """Where calls go, who they come from, and the timers of the SIP third-party call control."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    trunk: str = Field(description="Outbound proxy / SIP trunk / SBC, host[:port]")
    routes: tuple[Route, ...] = Field(
        default=(), description="Per-prefix trunks; numbers matching none go to `trunk`"
    )
    number_format: Literal["e164", "digits"] = Field(
        default="e164", description="R-URI user part: +4930123 (e164) or 4930123 (digits)"
    )
    caller_id: str | None = Field(
        default=None, description="From number for every call; unset: each campaign's caller ID"
    )
    bind_address: str = Field(default="127.0.0.1", description="Local address for SIP")
    port_range: tuple[int, int] = Field(
        default=(5060, 5080), description="The first free UDP port in this range is used"
    )
    network_namespace: str | None = Field(
        default=None, description="Join this named network namespace (/run/netns/NAME) first"
    )
    agent_proxy: str | None = Field(
        default=None,
        description="Send agent INVITEs here (a PBX/registrar) instead of the URI host",
    )
    agents: dict[str, str] = Field(
        default_factory=dict, description="Agent id -> SIP URI; overrides the user's sip_uri"
    )
    min_ring_timeout: float = Field(
        default=15.0, ge=0, description="Floor for a customer's ring timeout (lower for tests only)"
    )
    agent_ring_timeout: float = Field(
        default=10.0, gt=0, lt=32, description="Seconds an agent's phone may ring (< 32: RFC 3261)"
    )
    trunk_response_timeout: float = Field(
        default=5.0, gt=0, lt=32, description="No response at all within this: trunk unreachable"
    )
    keepalive_interval: float = Field(
        default=30.0, ge=0, description="In-dialog OPTIONS every N s on up calls (0: off)"
    )
    keepalive_timeout: float = Field(
        default=5.0, gt=0, description="An OPTIONS unanswered this long means the leg is dead"
    )
    announcement_max_seconds: float = Field(
        default=30.0, gt=0, description="Hang up an announcement that has not ended by then"
    )
    max_calls: int = Field(default=1000, ge=1, description="Concurrent calls; more fail at once")
    user_agent: str = "opendialer"
    media: Literal["none", "rtpengine"] = Field(
        default="none",
        description="none: media flows peer to peer (RFC 3725); rtpengine: anchored in rtpengine",
    )
    rtpengine: tuple[str, ...] = Field(
        default=(), description="rtpengine NG control addresses host[:port]; calls spread over them"
    )
    rtpengine_timeout: float = Field(
        default=1.0, gt=0, le=10, description="Seconds an NG command may take (retried on UDP)"
    )
    amd_max_seconds: float = Field(
        default=5.0,
        gt=0,
        le=30,
        description="With rtpengine and AMD: listen at most this long, then the classifier decides",
    )
    recording_dir: str | None = Field(
        default=None,
        description="rtpengine's --recording-dir as this host sees it (pcap recordings)",
    )

    @field_validator("rtpengine")
    @classmethod
    def _ng_addresses(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for address in value:
            split_host_port(address, DEFAULT_NG_PORT)
        return value

    @field_validator("trunk", "agent_proxy")
    @classmethod
    def _host_port(cls, value: str | None) -> str | None:
        if value is not None:
            split_host_port(value)
        return value

    @field_validator("agents")
    @classmethod
    def _agent_uris(cls, value: dict[str, str]) -> dict[str, str]:
        for uri in value.values():
            parse_sip_uri(uri)
        return value

    @model_validator(mode="after")
    def _ports(self) -> "SipOptions":
        low, high = self.port_range
        if not 0 < low <= high < 65536:
            raise ValueError(f"port_range {self.port_range} must be 1 <= low <= high <= 65535")
        return self

    @model_validator(mode="after")
    def _media(self) -> "SipOptions":
        if self.media == "rtpengine" and not self.rtpengine:
            raise ValueError("media rtpengine needs at least one address in `rtpengine`")
        if self.media == "none" and (self.rtpengine or self.recording_dir):
            raise ValueError("`rtpengine` and `recording_dir` need media: rtpengine")
        return self

    def ng_addresses(self) -> list[tuple[str, int]]:
        return [split_host_port(address, DEFAULT_NG_PORT) for address in self.rtpengine]

    def trunk_for(self, number: str) -> tuple[str, int]:
        matching = [r for r in self.routes if number.lstrip("+").startswith(r.prefix.lstrip("+"))]
        best = max(matching, key=lambda r: len(r.prefix.lstrip("+")), default=None)
        return split_host_port(best.trunk if best is not None else self.trunk)

    def dialled_user(self, number: str) -> str:
        return number if self.number_format == "e164" else number.lstrip("+")


def load_options(options: Mapping[str, Any]) -> SipOptions:
    """Validate; any problem becomes one :class:`SipOptionsError` naming every bad field."""
    try:
        return SipOptions.model_validate(dict(options))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or 'options'}: {error['msg']}"
            for error in exc.errors()
        )
        raise SipOptionsError(f"invalid sip telephony options: {problems}") from None
