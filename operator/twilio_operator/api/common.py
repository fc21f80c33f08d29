"""Types shared by every kind: references, conditions, the status fields common to all."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from .validation import Rule, at_most_one_of, model_rules

ACCOUNT_SID_PATTERN = r"^AC[0-9a-f]{32}$"
KEY_SID_PATTERN = r"^SK[0-9a-f]{32}$"
PHONE_NUMBER_SID_PATTERN = r"^PN[0-9a-f]{32}$"
SHORT_CODE_SID_PATTERN = r"^SC[0-9a-f]{32}$"
E164_PATTERN = r"^\+[1-9][0-9]{6,14}$"
# A Kubernetes object name (DNS-1123 subdomain): what a reference may name.
OBJECT_NAME_PATTERN = r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$"
# Go-style durations as kubectl users write them: 90s, 15m, 12h, 30d, 1h30m.
DURATION_PATTERN = r"^([0-9]+(s|m|h|d))+$"
# The same with at least one non-zero part: an interval of 0s would mean "always".
NONZERO_DURATION_PATTERN = r"^([0-9]+(s|m|h|d))*0*[1-9][0-9]*(s|m|h|d)([0-9]+(s|m|h|d))*$"
# Bounds the cost kube-apiserver estimates for a CEL rule on a duration (it refuses unbounded ones).
DURATION_MAX_LENGTH = 32
FRIENDLY_NAME_MAX = 64


class Model(BaseModel):
    """Base of every API model: camelCase on the wire, unknown fields refused, CEL_RULES in the schema."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        use_attribute_docstrings=False,
        json_schema_extra=model_rules,
    )
    # Checked by the API server at admission (x-kubernetes-validations); see validation.py.
    CEL_RULES: ClassVar[tuple[Rule, ...]] = ()


class LocalObjectReference(Model):
    """A reference to another object in the same namespace."""

    name: str = Field(
        description="Name of the object, in the same namespace as this one.",
        min_length=1,
        max_length=253,
        pattern=OBJECT_NAME_PATTERN,
    )


ConditionStatus = Literal["True", "False", "Unknown"]


class Condition(Model):
    """An observation of one aspect of the object's state, in the Kubernetes conventions."""

    type: str = Field(description="Type of the condition: Ready or Synced.")
    status: ConditionStatus = Field(description="True, False or Unknown.")
    reason: str = Field(description="One-word CamelCase reason for the condition's last transition.")
    message: str = Field(default="", description="Human-readable details of the condition.")
    last_transition_time: str = Field(description="When the status last changed (RFC 3339).")
    observed_generation: int = Field(default=0, description="The generation the condition was set for.")


class ManagedStatus(Model):
    """Status fields every kind carries."""

    # Status is written only by the operator; a field an older version wrote (and the API server kept) is
    # ignored when read back rather than making the object unreadable.
    model_config = ConfigDict(**{**Model.model_config, "extra": "ignore"})

    conditions: list[Condition] = Field(
        default_factory=list, description="Ready and Synced conditions, as Crossplane managed resources have."
    )
    observed_generation: int | None = Field(
        default=None, description="The metadata.generation the operator last reconciled."
    )
    sid: str | None = Field(default=None, description="SID of the Twilio object this resource manages.")
    last_sync_time: str | None = Field(
        default=None, description="When the operator last compared this resource with Twilio (RFC 3339)."
    )
    last_handled_reconcile_at: str | None = Field(
        default=None,
        description="The value of the reconcile-requested-at annotation the operator last acted on.",
    )
    applied: dict[str, str] | None = Field(
        default=None,
        description=(
            "Per Twilio field, a digest of the value the operator last applied (the spec with what it refers "
            "to resolved): Twilio differing from it is a change made outside the operator."
        ),
    )
    last_handled_configuration: str | None = Field(
        default=None,
        description=(
            "The spec, labels and annotations the operator last handled (JSON), compared with the object "
            "to tell a change to act on."
        ),
    )


class ChildStatus(ManagedStatus):
    """Status fields of every kind that lives inside a subaccount."""

    account_sid: str | None = Field(
        default=None, pattern=ACCOUNT_SID_PATTERN, description="Account the object belongs to."
    )


DeletionPolicy = Literal["Delete", "Orphan"]


class ManagedSpec(Model):
    """Spec fields every kind has: the name the Twilio object carries and what deleting does in Twilio."""

    friendly_name: str | None = Field(
        default=None,
        min_length=1,
        max_length=FRIENDLY_NAME_MAX,
        description="Friendly name of the object in Twilio. Defaults to <namespace>/<name>.",
    )
    deletion_policy: str | None = Field(
        default=None, description="What deleting this resource does in Twilio."
    )


class ChildSpec(ManagedSpec):
    """Spec fields of every kind that lives inside a subaccount."""

    CEL_RULES: ClassVar[tuple[Rule, ...]] = (at_most_one_of("subaccountRef", "accountSid"),)

    subaccount_ref: LocalObjectReference | None = Field(
        default=None,
        description="The TwilioSubaccount, in the same namespace, this object belongs to.",
    )
    account_sid: str | None = Field(
        default=None,
        pattern=ACCOUNT_SID_PATTERN,
        description=(
            "A raw account SID instead of subaccountRef. Refused unless the operator runs with "
            "--allow-raw-account-sid. Without subaccountRef and accountSid the object is made on the parent "
            "account, which needs --allow-parent-account."
        ),
    )
    deletion_policy: DeletionPolicy | None = Field(
        default=None,
        description=(
            "What happens to the Twilio object when this resource is deleted: Delete (the default) deletes "
            "it, Orphan leaves it in Twilio."
        ),
    )
