"""The receiver's configuration: flags, or `TWILIO_RECEIVER_*` environment variables."""

from __future__ import annotations

import urllib.parse
from pathlib import Path

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE = "sqlite:///var/lib/twilio-receiver/receiver.db"


class ReceiverConfigurationError(Exception):
    """The receiver cannot start with this configuration; the message says what to set."""


def describe(error: ValidationError) -> str:
    """One line per bad setting, named as the environment variable, without its value."""
    return "; ".join(
        f"TWILIO_RECEIVER_{str(item['loc'][0]).upper() if item['loc'] else '?'}: {item['msg']}"
        for item in error.errors()
    )


class ReceiverSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TWILIO_RECEIVER_", extra="ignore")

    listen: str = Field(default="0.0.0.0:8080", description="host:port to serve on.")
    database: str = Field(
        default=DEFAULT_DATABASE,
        description="sqlite:///PATH (embedded) or postgresql://USER@HOST:PORT/DB.",
    )
    database_password: SecretStr | None = Field(default=None, description="PostgreSQL password.")
    database_password_file: Path | None = Field(
        default=None, description="File holding the PostgreSQL password (a mounted Secret)."
    )
    namespace: str | None = Field(
        default=None, description="Namespace of the subaccounts' credentials Secrets (default: the pod's)."
    )
    public_url: str | None = Field(
        default=None,
        description="Base URL Twilio calls, e.g. https://hooks.example.com; otherwise from X-Forwarded-*.",
    )
    max_body: int = Field(default=64 * 1024, ge=1024, description="Largest request body, bytes.")
    repair_age: float = Field(
        default=900.0, gt=0, description="Seconds a message may stay non-terminal before it is fetched."
    )
    repair_interval: float = Field(default=60.0, gt=0, description="Seconds between repair passes.")
    repair_concurrency: int = Field(default=4, ge=1, description="Concurrent Twilio fetches per account.")
    repair_rate: float = Field(default=10.0, gt=0, description="Twilio fetches per second, all accounts.")
    repair_batch: int = Field(default=500, ge=1, description="Messages fetched per repair pass, at most.")
    catch_up_limit: float = Field(
        default=86400.0,
        ge=0,
        description="Seconds back, at most, that the catch-up after an outage lists messages (0: never).",
    )
    commit_batch: int = Field(default=512, ge=1, description="Callbacks committed together, at most.")
    api_base_url: str | None = Field(
        default=None,
        description="One base URL for every Twilio host the receiver calls (repair and archive fetches): an "
        "emulator or a recording proxy, given the Twilio host in Host. Default: Twilio's own hosts.",
    )
    request_timeout: float = Field(default=15.0, gt=0, description="Timeout of one Twilio fetch, seconds.")
    log_level: str = Field(default="INFO", pattern="^(DEBUG|INFO|WARNING|ERROR)$")
    log_format: str = Field(default="plain", pattern="^(plain|json)$")

    @field_validator("database")
    @classmethod
    def _scheme(cls, value: str) -> str:
        scheme = urllib.parse.urlsplit(value).scheme
        if scheme not in ("sqlite", "postgresql", "postgres"):
            raise ValueError("must start with sqlite:/// or postgresql://")
        return value

    @field_validator("public_url")
    @classmethod
    def _public(cls, value: str | None) -> str | None:
        if not value:
            return None
        parts = urllib.parse.urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("must be an absolute http(s) URL such as https://hooks.example.com")
        return value.rstrip("/")

    def host_port(self) -> tuple[str, int]:
        host, _, port = self.listen.rpartition(":")
        if not port.isdigit() or not 0 <= int(port) <= 65535:
            raise ReceiverConfigurationError(f"TWILIO_RECEIVER_LISTEN: not host:port: {self.listen!r}")
        return host.strip("[]") or "0.0.0.0", int(port)

    def database_password_value(self) -> str | None:
        if self.database_password_file is not None:
            try:
                return self.database_password_file.read_text().strip()
            except OSError as error:
                raise ReceiverConfigurationError(
                    f"cannot read TWILIO_RECEIVER_DATABASE_PASSWORD_FILE {self.database_password_file}: "
                    f"{error.strerror}"
                ) from error
        return self.database_password.get_secret_value() if self.database_password else None
