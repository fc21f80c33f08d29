"""EventStream: a Twilio Event Streams sink (webhook or Kinesis) and its subscription, in a subaccount."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, WithJsonSchema

from .common import OBJECT_NAME_PATTERN, ChildSpec, ChildStatus, Model
from .validation import one_of
from .webhooks import ONE_OF_URL_OR_INGRESS, URL_PATTERN, HttpMethod, IngressRef

EVENT_TYPE_PATTERN = r"^[a-z0-9]+(\.[a-z0-9-]+)+$"
KINESIS_ARN_PATTERN = r"^arn:aws[a-z-]*:kinesis:[a-z0-9-]+:[0-9]{12}:stream/[A-Za-z0-9_.-]{1,128}$"
ROLE_ARN_PATTERN = r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9_+=,.@/-]{1,512}$"


class WebhookDestination(Model):
    """Events POSTed as JSON (CloudEvents) to a URL, literal or resolved from an Ingress."""

    CEL_RULES = ONE_OF_URL_OR_INGRESS

    url: str | None = Field(default=None, pattern=URL_PATTERN, max_length=2048, description="Literal URL.")
    ingress_ref: IngressRef | None = Field(default=None, description="Resolve the URL from an Ingress.")
    method: HttpMethod | None = Field(default=None, description="POST (the default) or GET.")
    batch_events: bool | None = Field(
        default=None, description="Deliver several events per request (the default: true)."
    )


class SecretKeyRef(Model):
    """One key of a Secret in the same namespace."""

    name: str = Field(min_length=1, max_length=253, pattern=OBJECT_NAME_PATTERN, description="Secret name.")
    key: str = Field(min_length=1, max_length=253, pattern=r"^[-._a-zA-Z0-9]+$", description="Key in it.")


class KinesisDestination(Model):
    """An Amazon Kinesis stream Twilio writes to by assuming a role."""

    arn: str = Field(pattern=KINESIS_ARN_PATTERN, description="ARN of the Kinesis stream.")
    role_arn: str = Field(pattern=ROLE_ARN_PATTERN, description="ARN of the IAM role Twilio assumes.")
    external_id_secret_ref: SecretKeyRef = Field(
        description=(
            "Where the role's external id is: read at each pass, sent to Twilio only, never shown in "
            "status, Events or logs. Changing it makes a new sink."
        )
    )


class Destination(Model):
    """Where the events go: exactly one of webhook and kinesis. Twilio cannot change a sink's destination,
    so a change makes a new sink, moves the subscription to it and then deletes the old one."""

    CEL_RULES = one_of("webhook", "kinesis")

    webhook: WebhookDestination | None = Field(default=None, description="A webhook sink.")
    kinesis: KinesisDestination | None = Field(
        default=None,
        description=(
            "A Kinesis sink. It needs Twilio's test-and-validate step: the operator sends the test event "
            "and waits (Ready=False, SinkAwaitingValidation) until the annotation "
            "twilio.operator.dev/sink-test-id holds the test id read from the stream."
        ),
    )


class EventTypeRef(Model):
    """An event type with a pinned schema version."""

    type: str = Field(pattern=EVENT_TYPE_PATTERN, max_length=200, description="Event type name.")
    schema_version: int | None = Field(
        default=None, ge=1, description="Schema version of its payload; left out: the latest."
    )


# A name or {type, schemaVersion}: a structural schema cannot type an item "string or object", so the CRD
# keeps items as they are and the operator checks them (InvalidSpec naming the item).
EventTypeEntry = Annotated[
    str | EventTypeRef,
    WithJsonSchema(
        {
            "x-kubernetes-preserve-unknown-fields": True,
            "description": (
                "An event type name (com.twilio.messaging.message.delivered) or {type, schemaVersion}."
            ),
        }
    ),
]


class EventStreamSpec(ChildSpec):
    """Desired state of an Event Streams sink and its subscription, made with the subaccount's credentials."""

    destination: Destination = Field(description="Where the events go.")
    types: list[EventTypeEntry] = Field(
        min_length=1,
        max_length=100,
        description=(
            "The event types subscribed to, reconciled as a set: a type left out is unsubscribed. Types "
            "unknown to Twilio (GET /v1/Types) are refused naming the type."
        ),
    )


class SubscribedType(Model):
    """A subscribed event type as Twilio reports it."""

    type: str = Field(description="Event type name.")
    schema_version: int | None = Field(default=None, description="Schema version Twilio sends.")


class ResolvedDestination(Model):
    """The sink's destination as sent to Twilio (never the Kinesis external id)."""

    type: Literal["webhook", "kinesis"] = Field(description="webhook or kinesis.")
    url: str | None = Field(default=None, description="Resolved webhook URL.")
    method: str | None = Field(default=None, description="Webhook method.")
    batch_events: bool | None = Field(default=None, description="Whether events are batched.")
    arn: str | None = Field(default=None, description="Kinesis stream ARN.")
    role_arn: str | None = Field(default=None, description="Role Twilio assumes.")


class EventStreamStatus(ChildStatus):
    """Observed state of an Event Streams sink and its subscription."""

    sink_sid: str | None = Field(default=None, pattern=r"^DG[0-9a-f]{32}$", description="SID of the sink.")
    sink_status: str | None = Field(
        default=None, description="Sink status Twilio reports: initialized, validating, active or failed."
    )
    subscription_sid: str | None = Field(
        default=None, pattern=r"^DF[0-9a-f]{32}$", description="SID of the subscription."
    )
    previous_sink_sid: str | None = Field(
        default=None,
        pattern=r"^DG[0-9a-f]{32}$",
        description=(
            "A replaced sink that still holds the subscription until the new sink is active; deleted then."
        ),
    )
    test_sent_for: str | None = Field(
        default=None, description="The sink the operator last sent Twilio's test event to."
    )
    types: list[SubscribedType] | None = Field(default=None, description="Subscribed types and versions.")
    destination: ResolvedDestination | None = Field(default=None, description="The destination as sent.")
