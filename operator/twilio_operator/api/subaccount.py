"""TwilioSubaccount: a subaccount of the operator's parent account."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .common import ACCOUNT_SID_PATTERN, LocalObjectReference, ManagedSpec, ManagedStatus

SubaccountState = Literal["Active", "Suspended"]
SubaccountDeletionPolicy = Literal["Orphan", "Suspend", "Close"]


class TwilioSubaccountSpec(ManagedSpec):
    """Desired state of a Twilio subaccount."""

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
