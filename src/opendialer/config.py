"""Settings read from the environment (prefix ``OPENDIALER_``) or a ``.env`` file."""

import socket
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SECRET_KEY = "dev-insecure-change-me"
MIN_SECRET_KEY_LENGTH = 32


def default_database_url() -> str:
    return f"sqlite:///{Path.cwd() / 'opendialer.db'}"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OPENDIALER_", env_file=".env", extra="ignore")

    database_url: str = Field(default_factory=default_database_url)
    host: str = "127.0.0.1"
    port: int = 8000
    default_region: str = Field(
        default="DE", description="ISO 3166 region used to read national phone numbers"
    )
    default_timezone: str = "Europe/Berlin"
    secret_key: SecretStr = Field(
        default=SecretStr(DEFAULT_SECRET_KEY),
        description="Signs recording and export links and makes the Voicenter campaign codes; "
        f"`serve` refuses to start without one of at least {MIN_SECRET_KEY_LENGTH} characters",
    )
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="Addresses/networks of reverse proxies whose X-Forwarded-For is believed; "
        'none by default, e.g. ["127.0.0.1", "10.0.0.0/8"]',
    )
    # Failed credential checks (security.py, accounts/guard.py): per credential and per address.
    auth_failure_window_seconds: int = Field(
        default=900, ge=1, description="Failed attempts count for this long"
    )
    auth_max_failures_per_credential: int = Field(
        default=10, ge=1, description="Failures on one user name / key / code before it is locked"
    )
    auth_max_failures_per_address: int = Field(
        default=50, ge=1, description="Failures from one client address before it is locked out"
    )
    auth_failure_retention_days: int = Field(
        default=90, ge=0, description="Delete auth_failures rows older than this; 0 keeps them"
    )
    api_key_cache_seconds: float = Field(
        default=1.0,
        ge=0,
        le=60,
        description="A verified API key is believed this long without a query (0: never); a "
        "key revoked on this server stops at once, on another server within this time",
    )
    live_counts_seconds: float = Field(
        default=1.0,
        ge=0,
        le=60,
        description="The live view's contact counts and call rates of a campaign are counted "
        "at most once in this time and reused meanwhile (0: counted on every request)",
    )
    # Logins (accounts/logins.py): the login page's cookie and the token endpoint.
    login_idle_minutes: int = Field(
        default=480, ge=1, le=525_600, description="A login unused for this long has expired"
    )
    login_cookie_secure: bool = Field(
        default=True,
        description="Send the session cookie over HTTPS only (browsers also accept it from "
        "http://localhost and http://127.0.0.1)",
    )
    max_body_bytes: int = Field(default=1_048_576, description="Largest JSON request body")
    max_import_bytes: int = Field(default=2_147_483_648, description="Largest import upload")
    database_wait_seconds: float = Field(
        default=10.0,
        gt=0,
        description="How long a request queues for a database connection or, on SQLite, for "
        "the writer before it answers 503 with Retry-After",
    )
    log_level: str = "info"
    log_format: Literal["auto", "json", "text"] = Field(
        default="auto",
        description="auto: JSON lines, or readable text when the output is a terminal",
    )
    access_log: bool = Field(default=True, description="Log one line per HTTP request")
    # Metrics for Prometheus (observability/): off, on the main port behind a token, or on a
    # port of their own.
    metrics: Literal["off", "main", "port"] = Field(
        default="off",
        description="off | main: /metrics on the server's port, needs metrics_token | "
        "port: on metrics_host:metrics_port, without a token",
    )
    metrics_token: SecretStr | None = Field(
        default=None,
        description=f"Bearer token Prometheus sends with metrics=main (at least "
        f"{MIN_SECRET_KEY_LENGTH} characters)",
    )
    metrics_host: str = Field(default="127.0.0.1", description="Bind address with metrics=port")
    metrics_port: int = Field(default=9464, ge=0, le=65535, description="Port with metrics=port")
    engine_enabled: bool = Field(
        default=True, description="Run the dialing engine inside the server process"
    )
    telephony_backend: str = Field(default="sim", description="Entry point name: sim, sip, ...")
    telephony_options: dict[str, Any] = Field(
        default_factory=dict, description='Backend options as JSON, e.g. {"seed": 1}'
    )
    engine_id: str = Field(
        default_factory=socket.gethostname,
        description="Stable per engine process: after a restart it closes its own lost calls",
    )
    engine_lease_seconds: float = Field(
        default=30.0,
        ge=3,
        le=3600,
        description="An engine that has not renewed its lease for this long is dead: another "
        "engine closes its calls and frees its contacts and agents",
    )
    engine_reread_seconds: float = Field(
        default=5.0,
        ge=0.5,
        le=3600,
        description="Each 0.5 s poll of a campaign reads its state only if something was "
        "committed since its last read (one small statement asks), or after this long at the "
        "latest (what time alone changes: calling hours opening, callbacks falling due)",
    )
    engine_drain_seconds: float = Field(
        default=30.0,
        ge=0,
        le=3600,
        description="On SIGTERM the engine dials no more and lets calls in progress end by "
        "themselves for up to this long; then it hangs up the rest and gives its campaigns away",
    )
    simulate_agents: bool = Field(
        default=False, description="Play the agents too (demo): wrap up, then ready again"
    )
    # Browser phones (console/phone.py, telephony/sip/kamailio/): an agent whose sip_uri is
    # sip:<user>@<softphone_domain> takes calls in the console, registered at Kamailio.
    softphone_domain: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9.\-]+$",
        description="SIP domain of browser phones (Kamailio's SOFTPHONE_DOMAIN); unset: none",
    )
    softphone_ws_url: str | None = Field(
        default=None,
        pattern=r"^wss?://[^\s\"']+$",
        description="Where consoles reach Kamailio, wss://host:port (ws:// on loopback only)",
    )
    softphone_secret: SecretStr | None = Field(
        default=None,
        description="Shared with Kamailio (SOFTPHONE_SECRET): agents' SIP passwords derive from it",
    )
    softphone_registrar_rpc: str | None = Field(
        default=None,
        pattern=r"^https?://\S+$",
        description="Kamailio's JSON-RPC URL (http://host:ws_port/RPC): an agent may go ready "
        "only while their browser is registered there; unset: the console alone checks",
    )
    softphone_watch_seconds: float = Field(
        default=15.0, gt=0, description="How often the registrar is asked which phones are there"
    )
    softphone_logout_after_seconds: float = Field(
        default=120.0,
        ge=0,
        description="An idle agent (ready, paused, wrap-up) whose browser phone has not been "
        "registered for this long is logged out",
    )
    softphone_turn_urls: list[str] = Field(
        default_factory=list,
        description='TURN servers for browsers behind NAT, e.g. ["turn:turn.example.com:3478"]',
    )
    softphone_turn_secret: SecretStr | None = Field(
        default=None, description="coturn's static-auth-secret: time-limited TURN credentials"
    )
    # CRM call logs and webhooks (crm/, dialects/minicrm/)
    max_calllog_bytes: int = Field(
        default=16_777_216, description="Largest body of POST /Api/CallLog (10,000 items ~1.5 MB)"
    )
    outbox_enabled: bool | None = Field(
        default=None,
        description="Run the CRM/webhook sender in the server; unset: when the engine runs",
    )
    outbox_poll_seconds: float = Field(default=1.0, gt=0, description="Sender idle poll")
    outbox_max_attempts: int = Field(default=10, ge=1, description="Failures before dead-letter")
    outbox_retry_base_seconds: float = Field(default=10.0, gt=0, description="First back-off")
    outbox_retry_max_seconds: float = Field(default=3600.0, gt=0, description="Back-off ceiling")
    outbox_http_timeout_seconds: float = Field(default=10.0, gt=0)
    outbox_lease_seconds: float = Field(
        default=120.0, gt=0, description="A delivery not finished by then is retried (crash)"
    )
    public_base_url: str = Field(
        default="http://127.0.0.1:8000",
        description="How CRMs reach this server: recording links are built on it",
    )
    recording_link_ttl_seconds: int = Field(default=7 * 24 * 3600, ge=60)
    # Recordings and CSV exports (recordings/, exports/, dialects/mmdial/)
    recordings_dir: Path = Field(
        default=Path("recordings"), description="Where call recordings (WAV files) are stored"
    )
    recording_retention_days: int = Field(
        default=0, ge=0, description="Delete recordings older than this; 0 keeps them forever"
    )
    exports_dir: Path = Field(default=Path("exports"), description="Where CSV exports are built")
    export_retention_days: int = Field(
        default=7, ge=0, description="Delete exports older than this; 0 keeps them forever"
    )
    audit_retention_days: int = Field(
        default=1830,
        ge=0,
        description="Delete audit trail rows older than this (default 5 years, the FTC TSR's "
        "record keeping); 0 keeps them forever",
    )
    dnc_import_dir: Path | None = Field(
        default=None,
        description="Where the files a tenant's scheduled DNC import names are read from "
        "(dnc_import_path); unset: no scheduled DNC import",
    )
    housekeeping_enabled: bool = Field(
        default=True, description="Apply the recording and export retention in the server"
    )
    housekeeping_interval_seconds: float = Field(
        default=3600.0, ge=60, description="Seconds between two retention passes"
    )
    export_link_ttl_seconds: int = Field(default=24 * 3600, ge=60)
    export_background_rows: int = Field(
        default=20_000, ge=0, description="Exports with more leads are built in the background"
    )
    mmdial_base_path: str = Field(
        default="/mmdial/api", description="Where the mmDial functions live: <path>/<function>"
    )
    # Voicenter Forward Dialer API (dialects/voicenter/)
    voicenter_max_bulk_bytes: int = Field(
        default=16_777_216,
        description="Largest AddCallsBulk body (10,000 full targets are ~3 MB); the other "
        "Voicenter methods use max_body_bytes",
    )
    # jtel-style Dialler & ACD REST API (dialects/jtel/)
    jtel_base_path: str = Field(
        default="/jtel",
        pattern=r"^(/[A-Za-z0-9._~-]+)+$",
        description="Where the jtel {baseURL} paths live, e.g. /jtel/dialler/contacts",
    )

    @model_validator(mode="after")
    def _metrics_are_protected(self) -> "Settings":
        token = self.metrics_token.get_secret_value() if self.metrics_token else ""
        if self.metrics == "main" and len(token) < MIN_SECRET_KEY_LENGTH:
            raise ValueError(
                "OPENDIALER_METRICS=main serves the metrics on the public port: set "
                f"OPENDIALER_METRICS_TOKEN to a random value of at least {MIN_SECRET_KEY_LENGTH} "
                "characters, or use OPENDIALER_METRICS=port"
            )
        return self

    @model_validator(mode="after")
    def _softphone_settings_go_together(self) -> "Settings":
        """A browser phone needs its domain, the WebSocket URL and the shared secret: all
        three or none; the registrar and TURN settings only with them."""
        core = {
            "OPENDIALER_SOFTPHONE_DOMAIN": self.softphone_domain,
            "OPENDIALER_SOFTPHONE_WS_URL": self.softphone_ws_url,
            "OPENDIALER_SOFTPHONE_SECRET": self.softphone_secret,
        }
        missing = [name for name, value in core.items() if value is None]
        extras = self.softphone_registrar_rpc or self.softphone_turn_urls
        if missing and (len(missing) < len(core) or extras):
            raise ValueError(f"browser phones also need {', '.join(missing)}")
        secret = self.softphone_secret
        if secret is not None and len(secret.get_secret_value()) < MIN_SECRET_KEY_LENGTH:
            raise ValueError(
                f"OPENDIALER_SOFTPHONE_SECRET is shorter than {MIN_SECRET_KEY_LENGTH} characters"
            )
        return self

    def secret_key_problem(self) -> str | None:
        """Why the secret key is unfit for a real server, or None. Checked by `serve`, not here,
        so that tests and tools can build Settings freely."""
        key = self.secret_key.get_secret_value()
        if key == DEFAULT_SECRET_KEY:
            return "OPENDIALER_SECRET_KEY is not set (the public default signs nothing safely)"
        if len(key) < MIN_SECRET_KEY_LENGTH:
            return f"OPENDIALER_SECRET_KEY is shorter than {MIN_SECRET_KEY_LENGTH} characters"
        return None

    @property
    def outbox_active(self) -> bool:
        return self.engine_enabled if self.outbox_enabled is None else self.outbox_enabled


@lru_cache
def get_settings() -> Settings:
    return Settings()
