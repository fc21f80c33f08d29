"""TwilioSubaccount: a subaccount of the operator's parent account."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, field_validator

from .common import ACCOUNT_SID_PATTERN, LocalObjectReference, ManagedSpec, ManagedStatus, Model
from .usage_categories import USAGE_CATEGORIES
from .validation import Rule
from .webhooks import Webhook

SubaccountState = Literal["Active", "Suspended"]
SubaccountDeletionPolicy = Literal["Orphan", "Suspend", "Close"]
TriggerBy = Literal["count", "usage", "price"]
Recurring = Literal["daily", "monthly", "yearly", "alltime"]
ALERT_NAME_PATTERN = r"^[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?$"
# An absolute threshold: Twilio's offsets (+30) count from the usage when the trigger is made, which a
# declaration cannot mean.
THRESHOLD_PATTERN = r"^[0-9]{1,12}(\.[0-9]{1,4})?$"
MAX_USAGE_ALERTS = 50


class UsageAlert(Model):
    """A Twilio Usage Trigger: Twilio posts to the usage callback when the value reaches the threshold."""

    name: str = Field(
        pattern=ALERT_NAME_PATTERN,
        max_length=40,
        description="Name of the alert, unique in the list: lowercase letters, digits and '-'.",
    )
    category: str = Field(
        max_length=64,
        description="The Twilio usage category watched, e.g. totalprice, sms, sms-outbound.",
        json_schema_extra={"enum": list(USAGE_CATEGORIES)},
    )
    trigger_by: TriggerBy | None = Field(
        default=None, description="What value is compared: count, usage (the default) or price."
    )
    value: str = Field(
        pattern=THRESHOLD_PATTERN,
        max_length=17,
        description="The threshold, a number such as 500 or 12.5 (a price is in the account's currency).",
    )
    recurring: Recurring | None = Field(
        default=None,
        description="Fire again every daily, monthly, yearly or alltime period; without it, fire once.",
    )

    @field_validator("category")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in USAGE_CATEGORIES:
            raise ValueError(f"{value!r} is not a Twilio usage category")
        return value


class MessageArchive(Model):
    """Daily archives of the subaccount's messages (Twilio BulkExports)."""

    enabled: bool = Field(description="Twilio writes a file of each day's messages once the day is over.")
    webhook: Webhook | None = Field(
        default=None, description="Called when a day's file is ready (the receiver's /twilio/archives)."
    )


class Archives(Model):
    """Log archives Twilio keeps for the subaccount."""

    messages: MessageArchive | None = Field(default=None, description="Message archives.")


class TwilioSubaccountSpec(ManagedSpec):
    """Desired state of a Twilio subaccount."""

    # A trigger without a callback would fire into nothing: Twilio requires CallbackUrl.
    CEL_RULES: ClassVar[tuple[Rule, ...]] = (
        Rule(
            "!has(self.usageAlerts) || size(self.usageAlerts) == 0 || has(self.usageCallback)",
            "usageAlerts need usageCallback: where Twilio posts when one fires (the receiver's "
            "/twilio/usage)",
            field_path=".usageCallback",
        ),
    )

    state: SubaccountState | None = Field(
        default=None,
        description=(
            "Active (the default) or Suspended. A suspended subaccount cannot send or receive messages; "
            "its phone numbers are kept and still billed."
        ),
    )
    deletion_policy: SubaccountDeletionPolicy | None = Field(
        default=None,
        description=(
            "What happens in Twilio when this resource is deleted: Orphan (the default) leaves the "
            "subaccount as it is, Suspend suspends it, Close closes it. Closing is irreversible and "
            "releases the subaccount's phone numbers."
        ),
    )
    credentials_secret_ref: LocalObjectReference | None = Field(
        default=None,
        description=(
            "When set, the operator writes the subaccount's SID and auth token to this Secret "
            "(keys TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN). Off by default."
        ),
    )
    usage_alerts: list[UsageAlert] | None = Field(
        default=None,
        max_length=MAX_USAGE_ALERTS,
        description="Spend and volume alerts: each is a Twilio Usage Trigger in the subaccount.",
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )
    usage_callback: Webhook | None = Field(
        default=None,
        description=(
            "Where Twilio posts when a usage alert fires (the receiver's /twilio/usage); required with "
            "usageAlerts. The alert's name is added as the query parameter alert."
        ),
    )
    archives: Archives | None = Field(default=None, description="Log archives (Twilio BulkExports).")


class UsageStatus(Model):
    """This month's usage of the subaccount alone (not its parent's or siblings')."""

    messages: int = Field(description="Messages, SMS and MMS, sent and received.")
    sms_outbound: int = Field(description="SMS segments sent.")
    sms_inbound: int = Field(description="SMS segments received.")
    mms_outbound: int = Field(description="MMS sent.")
    mms_inbound: int = Field(description="MMS received.")
    total_price: str = Field(description="Everything this month has cost, e.g. 12.34.")
    price_unit: str = Field(description="Currency of totalPrice, e.g. USD.")
    spend: str = Field(description="totalPrice with its currency, e.g. 12.34 USD.")
    fetched_at: str = Field(description="When the operator read it from Twilio.")


class UsageAlertStatus(Model):
    """One usage alert's Twilio Usage Trigger."""

    name: str = Field(description="The alert's name in spec.usageAlerts.")
    sid: str = Field(pattern=r"^UT[0-9a-f]{32}$", description="SID of the Usage Trigger.")
    current_value: str | None = Field(default=None, description="The value Twilio last compared.")
    date_fired: str | None = Field(default=None, description="When the trigger last fired, if it has.")
    applied: str | None = Field(default=None, description="Digest of what the trigger was made from.")


class MessageArchiveStatus(Model):
    """The message-archive configuration Twilio holds."""

    enabled: bool = Field(description="Whether Twilio writes daily files.")
    webhook_url: str | None = Field(default=None, description="Called when a day's file is ready.")


class ArchivesStatus(Model):
    """The log archives Twilio holds for the subaccount."""

    messages: MessageArchiveStatus | None = Field(default=None, description="Message archives.")


class TwilioSubaccountStatus(ManagedStatus):
    """Observed state of a Twilio subaccount."""

    state: str | None = Field(default=None, description="Status Twilio reports: active, suspended or closed.")
    friendly_name: str | None = Field(default=None, description="Friendly name Twilio reports.")
    owner_account_sid: str | None = Field(
        default=None, pattern=ACCOUNT_SID_PATTERN, description="SID of the parent account."
    )
    credentials_secret_name: str | None = Field(
        default=None, description="Name of the Secret holding the exported credentials, when exported."
    )
    default_messaging_service_sid: str | None = Field(
        default=None,
        pattern=r"^MG[0-9a-f]{32}$",
        description=(
            "SID of the Messaging Service Twilio made with the account, which messages sent without a "
            "service go through (a MessagingService with spec.default manages it)."
        ),
    )
    usage: UsageStatus | None = Field(default=None, description="This month's usage, from Twilio.")
    usage_as_of: str | None = Field(default=None, description="When Twilio last computed that usage.")
    usage_alerts: list[UsageAlertStatus] | None = Field(
        default=None, description="The usage alerts as Twilio has them."
    )
    archives: ArchivesStatus | None = Field(default=None, description="Log archives as Twilio has them.")
