"""Operator configuration, from the environment (and files mounted from a Secret)."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ConfigurationError(Exception):
    """The operator cannot start with this configuration; the message says what to set."""


def describe(error: ValidationError) -> str:
    """One line per bad setting, named as it is set (the environment variable), without the value."""
    problems = []
    for item in error.errors():
        name = str(item["loc"][0]) if item["loc"] else "?"
        field = Settings.model_fields.get(name)
        alias = field.validation_alias if field is not None else None
        choices = getattr(alias, "choices", None)
        variable = str(choices[0]) if choices else "TWILIO_OPERATOR_" + name.upper()
        problems.append(f"{variable}: {item['msg']}")
    return "; ".join(problems)


class Settings(BaseSettings):
    """Everything the operator reads at start.

    Credentials come only from here, never from tenant namespaces. `*_FILE` variants name files (a mounted
    Secret) that are re-read whenever they change, so a rotated parent auth token needs no restart.
    """

    model_config = SettingsConfigDict(env_prefix="TWILIO_OPERATOR_", extra="ignore", populate_by_name=True)

    account_sid: str | None = Field(default=None, validation_alias=AliasChoices("TWILIO_ACCOUNT_SID"))
    auth_token: SecretStr | None = Field(default=None, validation_alias=AliasChoices("TWILIO_AUTH_TOKEN"))
    account_sid_file: Path | None = Field(
        default=None, validation_alias=AliasChoices("TWILIO_ACCOUNT_SID_FILE")
    )
    auth_token_file: Path | None = Field(
        default=None, validation_alias=AliasChoices("TWILIO_AUTH_TOKEN_FILE")
    )
    api_base_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("TWILIO_API_BASE_URL"),
        description="Send every Twilio request to this base URL (keeping the Host header), e.g. an emulator.",
    )

    drift_interval: float = Field(default=300.0, gt=0, description="Seconds between drift checks.")
    read_cache: float | None = Field(
        default=None,
        ge=0,
        description="Seconds a list of an account's keys or services serves the drift checks of its objects "
        "(default: half the drift interval; 0: fetch every object on its own).",
    )
    usage_interval: float = Field(
        default=900.0,
        gt=0,
        description="Seconds between reads of each subaccount's usage this month (one Twilio call each).",
    )
    drift_jitter: float = Field(default=0.1, ge=0, le=0.5, description="Fraction of random spread.")
    request_timeout: float = Field(default=15.0, gt=0, description="Timeout of one Twilio call, seconds.")
    create_grace_period: float = Field(
        default=30.0, ge=0, description="Seconds after create during which a 404 is eventual consistency."
    )
    account_concurrency: int = Field(default=8, ge=1, description="Concurrent Twilio calls per account.")
    # Twilio's documented limit is per account (the pacer's concurrency); this is only a safety cap.
    rate_limit: float = Field(default=1000.0, gt=0, description="Twilio requests per second, all accounts.")
    max_retries: int = Field(default=5, ge=0, description="Retries of a rate-limited or failed call.")
    backoff_base: float = Field(default=0.5, gt=0, description="First retry delay, seconds.")
    backoff_max: float = Field(default=30.0, gt=0, description="Largest retry delay, seconds.")
    peering_lifetime: int = Field(
        default=60,
        # kopf renews a keep-alive 5-10 s before it expires (at most once a second): below 10 s a slow
        # API server could let a live leader's record lapse and two replicas would reconcile at once.
        ge=10,
        description=(
            "Seconds a replica's kopf peering keep-alive stays valid: the longest a standby replica waits to"
            " take over from one that died without saying so."
        ),
    )
    allow_parent_account: bool = Field(
        default=False, description="Allow keys/services on the parent account."
    )
    allow_raw_account_sid: bool = Field(default=False, description="Allow raw accountSid references.")
    # Buying a number costs money: a PhoneNumber's spec.purchase alone is not enough.
    allow_purchase: bool = Field(default=False, description="Allow PhoneNumbers to buy numbers.")
    adoption_namespaces: str = Field(
        default="",
        description=(
            "Namespaces (comma-separated, or * for all) whose objects may adopt an existing subaccount, or a "
            "service outside a subaccount, by the external-name annotation. Off by default."
        ),
    )
    # Off unless asked for: a local run should not open a port nobody scrapes. The chart turns it on.
    metrics_port: int | None = Field(
        default=None, ge=1, le=65535, description="Serve Prometheus metrics on /metrics at this port."
    )
    metrics_address: str = Field(
        default="0.0.0.0", min_length=1, description="Address the metrics endpoint listens on."
    )
    log_format: str = Field(default="plain", pattern="^(plain|json)$")
    log_level: str = Field(default="INFO", pattern="^(DEBUG|INFO|WARNING|ERROR)$")

    @field_validator("account_sid")
    @classmethod
    def _strip(cls, value: str | None) -> str | None:
        return value.strip() if value else value

    def may_adopt(self, namespace: str) -> bool:
        allowed = {n.strip() for n in self.adoption_namespaces.split(",") if n.strip()}
        return "*" in allowed or namespace in allowed

    def read_cache_window(self) -> float:
        return self.drift_interval / 2 if self.read_cache is None else self.read_cache

    def credentials(self) -> tuple[str, str]:
        """The parent account SID and auth token, re-read from files when those are configured."""
        sid = _read(self.account_sid_file) if self.account_sid_file else self.account_sid
        token = (
            _read(self.auth_token_file)
            if self.auth_token_file
            else (self.auth_token.get_secret_value() if self.auth_token else None)
        )
        if not sid or not token:
            raise ConfigurationError(
                "no Twilio credentials: set TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN (or *_FILE)"
                " to the parent account SID and auth token"
            )
        if not (sid.startswith("AC") and len(sid) == 34):
            raise ConfigurationError(
                f"TWILIO_ACCOUNT_SID must be an account SID (AC + 32 hex), got {sid[:6]}..."
            )
        return sid, token


_file_cache: dict[Path, tuple[float, str]] = {}


def _read(path: Path) -> str:
    """Read a mounted credential, cached until the file's mtime changes."""
    try:
        mtime = os.stat(path).st_mtime
    except OSError as error:
        raise ConfigurationError(f"cannot read credentials file {path}: {error.strerror}") from error
    cached = _file_cache.get(path)
    if cached and cached[0] == mtime:
        return cached[1]
    value = path.read_text().strip()
    _file_cache[path] = (mtime, value)
    return value
