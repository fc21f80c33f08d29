"""ApiKey: an API key inside a subaccount, its one-time secret stored in a Kubernetes Secret."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from .common import (
    DURATION_MAX_LENGTH,
    DURATION_PATTERN,
    KEY_SID_PATTERN,
    NONZERO_DURATION_PATTERN,
    OBJECT_NAME_PATTERN,
    ChildSpec,
    ChildStatus,
    Model,
)
from .validation import Rule, immutable_once_set, matching

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
        max_length=DURATION_MAX_LENGTH,
        description="How often a new key replaces the current one, e.g. 720h or 30d.",
        json_schema_extra=matching(
            NONZERO_DURATION_PATTERN, "must be a duration such as 720h or 30d (s, m, h, d), and not zero"
        ),
    )
    grace_period: str | None = Field(
        default=None,
        pattern=DURATION_PATTERN,
        max_length=DURATION_MAX_LENGTH,
        description="How long the previous key stays valid after a rotation. Defaults to 1h.",
        json_schema_extra=matching(DURATION_PATTERN, "must be a duration such as 1h or 30m (s, m, h, d)"),
    )


class ApiKeySpec(ChildSpec):
    """Desired state of an API key."""

    CEL_RULES: ClassVar[tuple[Rule, ...]] = (
        Rule(
            "!has(self.type) || self.type != 'Restricted' || has(self.policy)",
            "a Restricted key needs policy.allow",
            field_path=".policy",
        ),
        Rule(
            "!has(self.policy) || (has(self.type) && self.type == 'Restricted')",
            "policy applies to Restricted keys only: set type: Restricted, or remove policy",
            field_path=".policy",
        ),
        # A new name would revoke the key workloads read from the old Secret and leave that Secret behind.
        immutable_once_set(
            "secretName", "the key's secret exists only in that Secret; make a new ApiKey for another Secret"
        ),
    )

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
            "Defaults to the ApiKey's name. Cannot be changed (or set, or removed) after creation."
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
