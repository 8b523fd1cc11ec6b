"""Settings read from the environment (prefix ``OPENDIALER_``) or a ``.env`` file."""

import socket
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


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
        default=SecretStr("dev-insecure-change-me"),
        description="Signs recording URLs and other tokens; set a long random value in production",
    )
    max_body_bytes: int = Field(default=1_048_576, description="Largest JSON request body")
    max_import_bytes: int = Field(default=2_147_483_648, description="Largest import upload")
    log_level: str = "info"
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
    simulate_agents: bool = Field(
        default=False, description="Play the agents too (demo): wrap up, then ready again"
    )


@lru_cache
def get_settings() -> Settings:
    return Settings()
