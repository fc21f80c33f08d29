"""ApiKey: an API key inside a subaccount, its one-time secret stored in a Kubernetes Secret."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .common import (
    DURATION_PATTERN,
    KEY_SID_PATTERN,
    NONZERO_DURATION_PATTERN,
    OBJECT_NAME_PATTERN,
    ChildSpec,
    ChildStatus,
    Model,
)

KeyType = Literal["Standard", "Restricted"]
OnSecretLoss = Literal["Recreate", "Fail"]


class KeyPolicy(Model):
    """Permissions of a restricted key."""

    allow: list[str] = Field(
        min_length=1,
        max_length=100,
        description="Permissions the key is granted, e.g. /twilio/messaging/messages/create.",
        json_schema_extra={"items": {"type": "string", "pattern": "^/twilio/[a-z0-9_/-]+$"}},
    )


class KeyRotation(Model):
    """Scheduled rotation of the key."""

    every: str = Field(
        pattern=NONZERO_DURATION_PATTERN,
        description="How often a new key replaces the current one, e.g. 720h or 30d.",
    )
    grace_period: str | None = Field(
        default=None,
        pattern=DURATION_PATTERN,
        description="How long the previous key stays valid after a rotation. Defaults to 1h.",
    )


class ApiKeySpec(ChildSpec):
    """Desired state of an API key."""

    type: KeyType | None = Field(
        default=None,
        description=(
            "Standard (the default; Twilio's 2010 Keys API) or Restricted (IAM v1, limited to policy.allow). "
            "Changing type or policy replaces the key the way a rotation does."
        ),
    )
    policy: KeyPolicy | None = Field(default=None, description="Permissions of a Restricted key.")
    secret_name: str | None = Field(
        default=None,
        max_length=253,
        pattern=OBJECT_NAME_PATTERN,
        description=(
            "Secret the key is written to (keys TWILIO_ACCOUNT_SID, TWILIO_API_KEY, TWILIO_API_SECRET). "
            "Defaults to the ApiKey's name."
        ),
    )
    rotation: KeyRotation | None = Field(default=None, description="Rotate the key on a schedule.")
    on_secret_loss: OnSecretLoss | None = Field(
        default=None,
        description=(
            "When the Secret is deleted or no longer matches the key: Recreate (the default) makes a new key "
            "and deletes the old one; Fail reports Synced=False reason SecretLost."
        ),
    )


class KeyRotationStatus(Model):
    """Where the key is in its rotation."""

    current_sid: str | None = Field(
        default=None, pattern=KEY_SID_PATTERN, description="SID of the current key."
    )
    previous_sid: str | None = Field(
        default=None, pattern=KEY_SID_PATTERN, description="SID of the key being retired, if any."
    )
    previous_expires_at: str | None = Field(
        default=None, description="When the previous key is deleted (RFC 3339)."
    )
    last_rotation_time: str | None = Field(default=None, description="When the key was last replaced.")
    next_rotation_time: str | None = Field(
        default=None, description="When the next scheduled rotation is due."
    )
    handled_rotate_request: str | None = Field(
        default=None, description="The rotate-requested-at annotation value last acted on."
    )


class ApiKeyStatus(ChildStatus):
    """Observed state of an API key. Never holds the secret."""

    secret_name: str | None = Field(default=None, description="Secret holding the key.")
    type: KeyType | None = Field(default=None, description="Type of the current key.")
    rotation: KeyRotationStatus | None = Field(default=None, description="Rotation progress.")
