"""Event Streams' data: sinks, subscriptions with their subscribed event types, and the event type catalogue.

Sinks and subscriptions belong to the account whose credential made them (twilio-data.md §2); the limits are
per account. A sink's configuration is fixed at creation; a Kinesis sink starts ``initialized`` and becomes
``active`` only through its test and validate step, which the emulator plays with test ids that tests read
through the control API, as a person reads them from their stream.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .errors import TwilioError, invalid_parameter, not_found
from .formats import IdFactory, utcnow

SINK_LIMIT = 100
SUBSCRIPTION_LIMIT = 100
SINK_TYPES = ("kinesis", "webhook", "segment", "email")
# What each sink type's configuration must hold (sink-resource docs; segment's is unverified).
SINK_CONFIGURATION: Mapping[str, tuple[str, ...]] = {
    "kinesis": ("arn", "role_arn", "external_id"),
    "webhook": ("destination", "method", "batch_events"),
    "segment": ("write_key",),
    "email": (),
}


@dataclass(frozen=True)
class EventType:
    type: str
    schema_id: str
    description: str
    status: str = "available"


@dataclass(frozen=True)
class Schema:
    id: str
    latest: int


# The messaging part of Twilio's catalogue (/docs/events/event-types), with a few others beside it.
SCHEMAS: Mapping[str, Schema] = {
    "Messaging.MessageStatus": Schema("Messaging.MessageStatus", 8),
    "Messaging.InboundMessageV1": Schema("Messaging.InboundMessageV1", 5),
    "ErrorLogs.ErrorLog": Schema("ErrorLogs.ErrorLog", 3),
    "Voice.CallStatus": Schema("Voice.CallStatus", 4),
}
EVENT_TYPES: tuple[EventType, ...] = (
    *(
        EventType(f"com.twilio.messaging.message.{status}", "Messaging.MessageStatus", f"Message {status}")
        for status in ("queued", "sent", "delivered", "failed", "undelivered", "read")
    ),
    EventType(
        "com.twilio.messaging.inbound-message.received", "Messaging.InboundMessageV1", "Inbound message"
    ),
    EventType("com.twilio.error-logs.error.logged", "ErrorLogs.ErrorLog", "An error was logged"),
    *(
        EventType(f"com.twilio.voice.status-callback.call.{status}", "Voice.CallStatus", f"Call {status}")
        for status in ("initiated", "ringing", "answered", "completed")
    ),
    EventType(
        "com.twilio.messaging.message.sending", "Messaging.MessageStatus", "Message sending", "discontinued"
    ),
)
EVENT_TYPES_BY_NAME: Mapping[str, EventType] = {t.type: t for t in EVENT_TYPES}
# When the catalogue was published, as the date fields of its entries say.
CATALOGUE_DATE = datetime(2020, 8, 13, 13, 28, 20)


@dataclass
class Sink:
    sid: str
    account_sid: str
    description: str
    sink_type: str
    configuration: dict[str, Any]
    status: str
    date_created: datetime
    date_updated: datetime
    # Test events sent to the sink, by test id: what its owner would read from the stream.
    tests: list[str] = field(default_factory=list)
    # Deliveries to a webhook sink: each event's id, type and the attempts made (HTTP status or why none).
    deliveries: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Subscription:
    sid: str
    account_sid: str
    description: str
    sink_sid: str
    # Subscribed event types and their schema versions, in the order they were added.
    types: dict[str, int]
    date_created: datetime
    date_updated: datetime


def parse_configuration(sink_type: str, raw: str) -> dict[str, Any]:
    try:
        configuration = json.loads(raw)
    except ValueError:
        raise invalid_parameter("SinkConfiguration is not valid JSON") from None
    if not isinstance(configuration, dict):
        raise invalid_parameter("SinkConfiguration must be a JSON object")
    missing = [name for name in SINK_CONFIGURATION[sink_type] if name not in configuration]
    if missing:
        raise invalid_parameter(f"SinkConfiguration of a {sink_type} sink needs {', '.join(missing)}")
    if sink_type == "webhook":
        destination = configuration["destination"]
        if not isinstance(destination, str) or not destination.startswith(("https://", "http://")):
            raise invalid_parameter("SinkConfiguration destination must be an http(s) URL")
        if configuration["method"] not in ("POST", "GET", "post", "get"):
            raise invalid_parameter("SinkConfiguration method must be POST or GET")
        if not isinstance(configuration["batch_events"], bool):
            raise invalid_parameter("SinkConfiguration batch_events must be true or false")
    if sink_type == "kinesis" and not str(configuration["arn"]).startswith("arn:aws:kinesis:"):
        raise invalid_parameter("SinkConfiguration arn must be a Kinesis stream ARN")
    return configuration


def subscribed_type(name: str, version: int | None) -> tuple[str, int]:
    """A type and schema version a subscription may hold: the type known and available, the version one
    of its schema's (none given: the latest)."""
    event_type = EVENT_TYPES_BY_NAME.get(name)
    if event_type is None or event_type.status == "discontinued":
        raise invalid_parameter(f"Event type {name} does not exist", code=20001)
    latest = SCHEMAS[event_type.schema_id].latest
    if version is None:
        return name, latest
    if not 1 <= version <= latest:
        raise invalid_parameter(f"Schema version {version} of {name} does not exist (latest is {latest})")
    return name, version


MESSAGE_EVENT = "com.twilio.messaging.message."
SCHEMA_URL = "https://events-schemas.twilio.com/{schema}/{version}"


def message_event(
    event_id: str, message: Any, status: str, error_code: int | None, version: int, at: datetime
) -> dict[str, Any]:
    """A message status event as Event Streams delivers it: a CloudEvents 1.0 object whose data follows
    the Messaging.MessageStatus schema (twilio-data.md §2; statuses upper-case there)."""
    data: dict[str, Any] = {
        "messageSid": message.sid,
        "accountSid": message.account_sid,
        "timestamp": at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "eventName": MESSAGE_EVENT + status,
        "apiVersion": "2010-04-01",
        "from": message.sender or "",
        "to": message.to,
        "messageStatus": status.upper(),
        "numberOfSegments": 1,
    }
    if message.service_sid:
        data["messagingServiceSid"] = message.service_sid
    if error_code is not None:
        data["errorCode"] = error_code
    return {
        "specversion": "1.0",
        "type": MESSAGE_EVENT + status,
        "source": f"/2010-04-01/Accounts/{message.account_sid}/Messages/{message.sid}.json",
        "id": event_id,
        "dataschema": SCHEMA_URL.format(schema="Messaging.MessageStatus", version=version),
        "datacontenttype": "application/json",
        "time": data["timestamp"],
        "data": data,
    }


class EventStreams:
    """Every account's sinks and subscriptions."""

    def __init__(self, ids: IdFactory, new_sid: Any) -> None:
        self.ids = ids
        self._new_sid = new_sid
        self.sinks: dict[str, Sink] = {}
        self.subscriptions: dict[str, Subscription] = {}

    def receivers(self, account_sid: str, event_type: str) -> list[tuple[Sink, int]]:
        """The active webhook sinks an event of the account reaches now, each with the schema version its
        subscription asks for (one delivery per sink, however many of its subscriptions name the type)."""
        found: dict[str, tuple[Sink, int]] = {}
        for subscription in self.account_subscriptions(account_sid):
            version = subscription.types.get(event_type)
            sink = self.sinks.get(subscription.sink_sid)
            if version is None or sink is None or sink.status != "active" or sink.sink_type != "webhook":
                continue
            found.setdefault(sink.sid, (sink, version))
        return list(found.values())

    def account_sinks(self, account_sid: str) -> list[Sink]:
        return [s for s in self.sinks.values() if s.account_sid == account_sid]

    def account_subscriptions(self, account_sid: str) -> list[Subscription]:
        return [s for s in self.subscriptions.values() if s.account_sid == account_sid]

    def sink_of(self, account_sid: str, sid: str, path: str) -> Sink:
        sink = self.sinks.get(sid)
        if sink is None or sink.account_sid != account_sid:
            raise not_found(path)
        return sink

    def subscription_of(self, account_sid: str, sid: str, path: str) -> Subscription:
        subscription = self.subscriptions.get(sid)
        if subscription is None or subscription.account_sid != account_sid:
            raise not_found(path)
        return subscription

    def create_sink(self, account_sid: str, description: str, sink_type: str, raw: str) -> Sink:
        if len(self.account_sinks(account_sid)) >= SINK_LIMIT:
            raise invalid_parameter(f"Reached the maximum of {SINK_LIMIT} sinks for this account")
        configuration = parse_configuration(sink_type, raw)
        now = utcnow()
        sink = Sink(
            sid=self._new_sid("DG"),
            account_sid=account_sid,
            description=description,
            sink_type=sink_type,
            configuration=configuration,
            # Kinesis sinks wait for their test and validation; the others are active at once.
            status="initialized" if sink_type == "kinesis" else "active",
            date_created=now,
            date_updated=now,
        )
        self.sinks[sink.sid] = sink
        return sink

    def delete_sink(self, sink: Sink) -> None:
        users = [s.sid for s in self.subscriptions.values() if s.sink_sid == sink.sid]
        if users:
            raise TwilioError(400, 20001, f"Sink {sink.sid} is in use by subscription {users[0]}")
        del self.sinks[sink.sid]

    def test_sink(self, sink: Sink) -> str:
        test_id = self.ids.sid("TE")
        sink.tests.append(test_id)
        if sink.status == "initialized":
            sink.status = "validating"
            sink.date_updated = utcnow()
        return test_id

    def validate_sink(self, sink: Sink, test_id: str) -> None:
        if test_id not in sink.tests:
            raise invalid_parameter(f"TestId {test_id} is not a test event of sink {sink.sid}")
        sink.status = "active"
        sink.date_updated = utcnow()

    def _active_sink(self, account_sid: str, sid: str) -> Sink:
        sink = self.sinks.get(sid)
        if sink is None or sink.account_sid != account_sid:
            raise invalid_parameter(f"Sink {sid} does not exist")
        if sink.status != "active":
            raise invalid_parameter(f"Sink {sid} is {sink.status}: a subscription needs an active sink")
        return sink

    def create_subscription(
        self, account_sid: str, description: str, sink_sid: str, types: list[tuple[str, int]]
    ) -> Subscription:
        if len(self.account_subscriptions(account_sid)) >= SUBSCRIPTION_LIMIT:
            raise invalid_parameter(
                f"Reached the maximum of {SUBSCRIPTION_LIMIT} subscriptions for this account"
            )
        self._active_sink(account_sid, sink_sid)
        if not types:
            raise invalid_parameter("Types must name at least one event type")
        now = utcnow()
        subscription = Subscription(
            sid=self._new_sid("DF"),
            account_sid=account_sid,
            description=description,
            sink_sid=sink_sid,
            types=dict(types),
            date_created=now,
            date_updated=now,
        )
        self.subscriptions[subscription.sid] = subscription
        return subscription

    def move_subscription(self, subscription: Subscription, sink_sid: str) -> None:
        self._active_sink(subscription.account_sid, sink_sid)
        if subscription.sink_sid != sink_sid:
            subscription.sink_sid = sink_sid
            subscription.date_updated = utcnow()
