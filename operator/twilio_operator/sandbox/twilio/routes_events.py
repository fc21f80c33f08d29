"""events.twilio.com/v1: sinks (with test and validate), subscriptions, subscribed events and event types.

Like every v1 API it acts on the credential's account: another account's sink or subscription is not found.
"""

from __future__ import annotations

import json
from typing import Any

from .calls import Call, Handler, Reply, page_v1_reply
from .errors import TwilioError, invalid_parameter, not_found
from .events import (
    CATALOGUE_DATE,
    EVENT_TYPES,
    EVENT_TYPES_BY_NAME,
    EventType,
    Sink,
    Subscription,
    subscribed_type,
)
from .formats import iso8601, utcnow


def sink_json(call: Call, sink: Sink) -> dict[str, Any]:
    url = f"{call.public_base}/v1/Sinks/{sink.sid}"
    return {
        "date_created": iso8601(sink.date_created),
        "date_updated": iso8601(sink.date_updated),
        "description": sink.description,
        "sid": sink.sid,
        "sink_configuration": dict(sink.configuration),
        "sink_type": sink.sink_type,
        "status": sink.status,
        "url": url,
        "links": {"sink_test": f"{url}/Test", "sink_validate": f"{url}/Validate"},
    }


def subscription_json(call: Call, subscription: Subscription) -> dict[str, Any]:
    url = f"{call.public_base}/v1/Subscriptions/{subscription.sid}"
    return {
        "account_sid": subscription.account_sid,
        "sid": subscription.sid,
        "date_created": iso8601(subscription.date_created),
        "date_updated": iso8601(subscription.date_updated),
        "description": subscription.description,
        "sink_sid": subscription.sink_sid,
        "url": url,
        "links": {"subscribed_events": f"{url}/SubscribedEvents"},
    }


def subscribed_event_json(call: Call, subscription: Subscription, name: str) -> dict[str, Any]:
    return {
        "account_sid": subscription.account_sid,
        "type": name,
        "schema_version": subscription.types[name],
        "subscription_sid": subscription.sid,
        "url": f"{call.public_base}/v1/Subscriptions/{subscription.sid}/SubscribedEvents/{name}",
    }


def event_type_json(call: Call, event_type: EventType) -> dict[str, Any]:
    url = f"{call.public_base}/v1/Types/{event_type.type}"
    return {
        "type": event_type.type,
        "schema_id": event_type.schema_id,
        "date_created": iso8601(CATALOGUE_DATE),
        "date_updated": iso8601(CATALOGUE_DATE),
        "description": event_type.description,
        "status": event_type.status,
        "documentation_url": "https://www.twilio.com/docs/events/event-types",
        "url": url,
        "links": {"schema": f"{call.public_base}/v1/Schemas/{event_type.schema_id}"},
    }


# -- sinks ---------------------------------------------------------------------------------------------------


def _sink(call: Call) -> Sink:
    return call.state.events.sink_of(call.account.sid, call.path_params["Sid"], call.path)


def create_sink(call: Call) -> Reply:
    form = call.form
    sink = call.state.events.create_sink(
        call.account.sid, form["Description"], form["SinkType"], form["SinkConfiguration"]
    )
    return Reply(201, sink_json(call, sink))


def list_sinks(call: Call) -> Reply:
    sinks = call.state.events.account_sinks(call.account.sid)
    if "Status" in call.query:
        sinks = [s for s in sinks if s.status == call.query["Status"]]
    if "InUse" in call.query:
        used = {s.sink_sid for s in call.state.events.account_subscriptions(call.account.sid)}
        want = call.query["InUse"] == "true"
        sinks = [s for s in sinks if (s.sid in used) == want]
    return page_v1_reply(call, "sinks", sinks, lambda s: s.sid, lambda s: sink_json(call, s))


def fetch_sink(call: Call) -> Reply:
    return Reply(200, sink_json(call, _sink(call)))


def update_sink(call: Call) -> Reply:
    sink = _sink(call)
    if sink.description != call.form["Description"]:
        sink.description = call.form["Description"]
        sink.date_updated = utcnow()
    return Reply(200, sink_json(call, sink))


def delete_sink(call: Call) -> Reply:
    call.state.events.delete_sink(_sink(call))
    return Reply(204)


def test_sink(call: Call) -> Reply:
    call.state.events.test_sink(_sink(call))
    return Reply(201, {"result": "submitted"})


def validate_sink(call: Call) -> Reply:
    call.state.events.validate_sink(_sink(call), call.form["TestId"])
    return Reply(201, {"result": "valid"})


# -- subscriptions -------------------------------------------------------------------------------------------


def _types(raw: list[str]) -> list[tuple[str, int]]:
    """The repeated ``Types`` form field: each value a JSON object ``{"type": …, "schema_version": N?}``."""
    types: list[tuple[str, int]] = []
    for value in raw:
        try:
            item = json.loads(value)
        except ValueError:
            raise invalid_parameter(f"Types entry {value[:60]!r} is not JSON") from None
        if not isinstance(item, dict) or not isinstance(item.get("type"), str):
            raise invalid_parameter("Each Types entry must be an object with a type")
        version = item.get("schema_version")
        if version is not None and (isinstance(version, bool) or not isinstance(version, int)):
            raise invalid_parameter(f"schema_version of {item['type']} must be an integer")
        types.append(subscribed_type(item["type"], version))
    return types


def _subscription(call: Call, key: str = "Sid") -> Subscription:
    return call.state.events.subscription_of(call.account.sid, call.path_params[key], call.path)


def create_subscription(call: Call) -> Reply:
    raw = [value for name, value in call.form_pairs if name == "Types"]
    subscription = call.state.events.create_subscription(
        call.account.sid, call.form["Description"], call.form["SinkSid"], _types(raw)
    )
    return Reply(201, subscription_json(call, subscription))


def list_subscriptions(call: Call) -> Reply:
    subscriptions = call.state.events.account_subscriptions(call.account.sid)
    if "SinkSid" in call.query:
        subscriptions = [s for s in subscriptions if s.sink_sid == call.query["SinkSid"]]
    return page_v1_reply(
        call, "subscriptions", subscriptions, lambda s: s.sid, lambda s: subscription_json(call, s)
    )


def fetch_subscription(call: Call) -> Reply:
    return Reply(200, subscription_json(call, _subscription(call)))


def update_subscription(call: Call) -> Reply:
    subscription = _subscription(call)
    if "SinkSid" in call.form:
        call.state.events.move_subscription(subscription, call.form["SinkSid"])
    description = call.form.get("Description")
    if description is not None and description != subscription.description:
        subscription.description = description
        subscription.date_updated = utcnow()
    return Reply(200, subscription_json(call, subscription))


def delete_subscription(call: Call) -> Reply:
    subscription = _subscription(call)
    del call.state.events.subscriptions[subscription.sid]
    return Reply(204)


def list_subscribed_events(call: Call) -> Reply:
    subscription = _subscription(call, "SubscriptionSid")
    names = list(subscription.types)
    return page_v1_reply(
        call,
        "types",
        names,
        lambda name: name,
        lambda name: subscribed_event_json(call, subscription, name),
        order=names.index,
    )


def _version(call: Call) -> int | None:
    raw = call.form.get("SchemaVersion")
    return int(raw) if raw is not None else None


def create_subscribed_event(call: Call) -> Reply:
    subscription = _subscription(call, "SubscriptionSid")
    name, version = subscribed_type(call.form["Type"], _version(call))
    if name in subscription.types:
        raise TwilioError(409, 20001, f"Subscription {subscription.sid} already has {name}")
    subscription.types[name] = version
    subscription.date_updated = utcnow()
    return Reply(201, subscribed_event_json(call, subscription, name))


def _subscribed(call: Call) -> tuple[Subscription, str]:
    subscription = _subscription(call, "SubscriptionSid")
    name = call.path_params["Type"]
    if name not in subscription.types:
        raise not_found(call.path)
    return subscription, name


def fetch_subscribed_event(call: Call) -> Reply:
    subscription, name = _subscribed(call)
    return Reply(200, subscribed_event_json(call, subscription, name))


def update_subscribed_event(call: Call) -> Reply:
    subscription, name = _subscribed(call)
    _, version = subscribed_type(name, _version(call))
    subscription.types[name] = version
    subscription.date_updated = utcnow()
    return Reply(200, subscribed_event_json(call, subscription, name))


def delete_subscribed_event(call: Call) -> Reply:
    subscription, name = _subscribed(call)
    if len(subscription.types) == 1:
        raise invalid_parameter(f"{name} is the last type of subscription {subscription.sid}")
    del subscription.types[name]
    subscription.date_updated = utcnow()
    return Reply(204)


# -- event types ---------------------------------------------------------------------------------------------


def list_event_types(call: Call) -> Reply:
    types = list(EVENT_TYPES)
    if "SchemaId" in call.query:
        types = [t for t in types if t.schema_id == call.query["SchemaId"]]
    return page_v1_reply(
        call,
        "types",
        types,
        lambda t: t.type,
        lambda t: event_type_json(call, t),
        order=lambda name: EVENT_TYPES.index(EVENT_TYPES_BY_NAME[name]),
    )


def fetch_event_type(call: Call) -> Reply:
    event_type = EVENT_TYPES_BY_NAME.get(call.path_params["Type"])
    if event_type is None:
        raise not_found(call.path)
    return Reply(200, event_type_json(call, event_type))


HANDLERS: dict[str, Handler] = {
    "CreateSink": create_sink,
    "ListSink": list_sinks,
    "FetchSink": fetch_sink,
    "UpdateSink": update_sink,
    "DeleteSink": delete_sink,
    "CreateSinkTest": test_sink,
    "CreateSinkValidate": validate_sink,
    "CreateSubscription": create_subscription,
    "ListSubscription": list_subscriptions,
    "FetchSubscription": fetch_subscription,
    "UpdateSubscription": update_subscription,
    "DeleteSubscription": delete_subscription,
    "ListSubscribedEvent": list_subscribed_events,
    "CreateSubscribedEvent": create_subscribed_event,
    "FetchSubscribedEvent": fetch_subscribed_event,
    "UpdateSubscribedEvent": update_subscribed_event,
    "DeleteSubscribedEvent": delete_subscribed_event,
    "ListEventType": list_event_types,
    "FetchEventType": fetch_event_type,
}
