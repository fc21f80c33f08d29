"""PhoneNumber: a number placed in a subaccount by Twilio's exchange (or bought there), with its webhooks."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .common import E164_PATTERN, ChildSpec, ChildStatus, Model
from .webhooks import Webhook

PhoneNumberDeletionPolicy = Literal["ReturnToParent", "Retain", "Release"]
NumberType = Literal["Local", "Mobile", "TollFree"]
Capability = Literal["sms", "mms", "voice", "fax"]


class Purchase(Model):
    """What to buy when the number is not given: a number Twilio offers for these criteria."""

    country: str | None = Field(
        default=None, pattern=r"^[A-Z]{2}$", description="ISO country code (default US)."
    )
    type: NumberType | None = Field(default=None, description="Local (the default), Mobile or TollFree.")
    area_code: str | None = Field(default=None, pattern=r"^[0-9]{2,5}$", description="Area code.")
    contains: str | None = Field(
        default=None,
        pattern=r"^[0-9*]{1,16}$",
        description="Digits the number contains; * stands for any one digit.",
    )
    capabilities: list[Capability] | None = Field(
        default=None, max_length=4, description="Capabilities the number must have (sms, mms, voice, fax)."
    )


class NumberWebhooks(Model):
    """The number's own webhooks."""

    sms: Webhook | None = Field(default=None, description="Called for every inbound message (SmsUrl).")
    sms_fallback: Webhook | None = Field(default=None, description="Called when the sms webhook fails.")
    voice: Webhook | None = Field(default=None, description="Called for every inbound call (VoiceUrl).")
    voice_fallback: Webhook | None = Field(default=None, description="Called when the voice webhook fails.")
    status_callback: Webhook | None = Field(default=None, description="Receives call status updates.")


class PhoneNumberSpec(ChildSpec):
    """Desired state of a phone number: which account holds it, its name and its webhooks."""

    phone_number: str | None = Field(
        default=None,
        pattern=E164_PATTERN,
        description=(
            "The number (E.164). It is moved into the subaccount from the parent account or from a "
            "subaccount declared in this namespace; one held by any other account is refused (NumberInUse) "
            "and never taken. Or adopt a number by SID with the external-name annotation."
        ),
    )
    purchase: Purchase | None = Field(
        default=None,
        description=(
            "Buy a number instead (it costs money): also needs the operator's "
            "TWILIO_OPERATOR_ALLOW_PURCHASE. At most one number is bought per object, across restarts."
        ),
    )
    webhooks: NumberWebhooks | None = Field(
        default=None, description="Webhook URLs, literal or from an Ingress."
    )
    # Numbers have their own policies; a child's Delete/Orphan mean nothing for a number.
    deletion_policy: PhoneNumberDeletionPolicy | None = Field(  # type: ignore[assignment]
        default=None,
        description=(
            "What happens to the number when this resource is deleted: ReturnToParent (the default) moves it "
            "back to the parent account, Retain leaves it in the subaccount, Release gives it up, which "
            "cannot be undone."
        ),
    )


class ResolvedNumberWebhooks(Model):
    """The number's webhook URLs as Twilio has them."""

    sms_url: str | None = Field(default=None, description="SmsUrl.")
    sms_fallback_url: str | None = Field(default=None, description="SmsFallbackUrl.")
    voice_url: str | None = Field(default=None, description="VoiceUrl.")
    voice_fallback_url: str | None = Field(default=None, description="VoiceFallbackUrl.")
    status_callback: str | None = Field(default=None, description="StatusCallback.")


class PhoneNumberStatus(ChildStatus):
    """Observed state of a phone number."""

    phone_number: str | None = Field(default=None, description="The number (E.164).")
    friendly_name: str | None = Field(default=None, description="Friendly name Twilio reports.")
    purchased: bool | None = Field(default=None, description="True when the operator bought it.")
    webhooks: ResolvedNumberWebhooks | None = Field(default=None, description="Webhook URLs as in Twilio.")
    managed_fields: list[str] | None = Field(
        default=None,
        description="Fields this resource manages; one removed from spec goes back to Twilio's default.",
    )
