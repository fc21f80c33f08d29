"""MessagingService: a Messaging Service, its settings, its sender pool and its webhooks."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from .common import (
    E164_PATTERN,
    PHONE_NUMBER_SID_PATTERN,
    SHORT_CODE_SID_PATTERN,
    ChildSpec,
    ChildStatus,
    Model,
)
from .webhooks import ONE_OF_URL_OR_INGRESS, URL_PATTERN, IngressRef, Webhook

Usecase = Literal["notifications", "marketing", "verification", "discussion", "poll", "undeclared"]
ScanMessageContent = Literal["inherit", "enable", "disable"]
# RE2 (the API server's regex engine) has no lookahead, so "not all digits" is spelled out.
ALPHA_SENDER_PATTERN = r"^[A-Za-z0-9 +\-_&]*[A-Za-z +\-_&][A-Za-z0-9 +\-_&]*$"


class StatusCallback(Model):
    """The status-callback webhook (Twilio always POSTs it)."""

    model_config = ConfigDict(**Model.model_config, json_schema_extra=ONE_OF_URL_OR_INGRESS)

    url: str | None = Field(default=None, pattern=URL_PATTERN, max_length=2048, description="Literal URL.")
    ingress_ref: IngressRef | None = Field(default=None, description="Resolve the URL from an Ingress.")


class Webhooks(Model):
    """The service's webhooks."""

    inbound_request: Webhook | None = Field(default=None, description="Called for every inbound message.")
    fallback: Webhook | None = Field(default=None, description="Called when the inbound request fails.")
    status_callback: StatusCallback | None = Field(
        default=None, description="Receives delivery status updates of messages sent through the service."
    )


class Senders(Model):
    """The sender pool, reconciled as a set: what is not listed is removed."""

    phone_numbers: list[str] | None = Field(
        default=None,
        max_length=400,
        description="Phone numbers of the subaccount, by PN SID or E.164 number.",
        json_schema_extra={
            "items": {"type": "string", "pattern": f"({PHONE_NUMBER_SID_PATTERN})|({E164_PATTERN})"}
        },
    )
    short_codes: list[str] | None = Field(
        default=None,
        max_length=400,
        description="Short codes of the subaccount, by SC SID.",
        json_schema_extra={"items": {"type": "string", "pattern": SHORT_CODE_SID_PATTERN}},
    )
    alpha_senders: list[str] | None = Field(
        default=None,
        max_length=10,
        description="Alphanumeric sender IDs: up to 11 of A-Z a-z 0-9 space + - _ &, not all digits.",
        json_schema_extra={
            "items": {"type": "string", "pattern": ALPHA_SENDER_PATTERN, "minLength": 1, "maxLength": 11}
        },
    )


class MessagingServiceSpec(ChildSpec):
    """Desired state of a Messaging Service. A setting left out is left as Twilio has it."""

    usecase: Usecase | None = Field(default=None, description="Declared use case of the service.")
    sticky_sender: bool | None = Field(default=None, description="Use the same sender for a recipient.")
    mms_converter: bool | None = Field(
        default=None, description="Convert MMS to SMS where MMS isn't supported."
    )
    smart_encoding: bool | None = Field(default=None, description="Replace Unicode look-alikes with GSM-7.")
    scan_message_content: ScanMessageContent | None = Field(
        default=None, description="Content scanning: inherit, enable or disable."
    )
    fallback_to_long_code: bool | None = Field(
        default=None, description="Obsolete in Twilio; kept for parity."
    )
    area_code_geomatch: bool | None = Field(
        default=None, description="Prefer a sender with the same area code."
    )
    validity_period: int | None = Field(
        default=None, ge=1, le=36000, description="Seconds a queued message stays valid (1-36000)."
    )
    synchronous_validation: bool | None = Field(default=None, description="Reserved by Twilio.")
    use_inbound_webhook_on_number: bool | None = Field(
        default=None, description="Use each number's own inbound webhook instead of the service's."
    )
    webhooks: Webhooks | None = Field(default=None, description="Webhook URLs, literal or from an Ingress.")
    senders: Senders | None = Field(default=None, description="The sender pool.")


class ResolvedWebhooks(Model):
    """Webhook URLs as sent to Twilio."""

    inbound_request_url: str | None = Field(default=None, description="Resolved inbound request URL.")
    fallback_url: str | None = Field(default=None, description="Resolved fallback URL.")
    status_callback: str | None = Field(default=None, description="Resolved status callback URL.")


class SenderStatus(Model):
    """Senders in the pool as Twilio reports them."""

    phone_numbers: list[str] = Field(default_factory=list, description="PN SIDs in the pool.")
    short_codes: list[str] = Field(default_factory=list, description="SC SIDs in the pool.")
    alpha_senders: list[str] = Field(default_factory=list, description="Alphanumeric sender IDs in the pool.")


class MessagingServiceStatus(ChildStatus):
    """Observed state of a Messaging Service."""

    webhooks: ResolvedWebhooks | None = Field(default=None, description="Webhook URLs as sent to Twilio.")
    senders: SenderStatus | None = Field(default=None, description="The pool as Twilio reports it.")
    managed_fields: list[str] | None = Field(
        default=None,
        description="Settings this resource manages; one removed from spec goes back to Twilio's default.",
    )
