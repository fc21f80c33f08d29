"""External clients for Event Streams: sinks, subscriptions with their subscribed types, the type catalogue.

Event Streams is a v1 API: it acts as whoever authenticates, so every call uses the owning account's own
credentials (twilio-data.md §2). A sink's configuration cannot be changed in Twilio; the reconcile replaces
the sink instead. A Kinesis sink's external id is kept in `Observed.secrets` and never in `data`.
"""

from __future__ import annotations

import datetime
import time
from dataclasses import dataclass, field
from typing import Any

from twilio.base import values
from twilio.rest.events.v1.subscription import SubscriptionInstance

from . import shapes
from .errors import NotFound
from .gateway import TwilioGateway
from .observed import Observed

SINK_STATUSES = ("initialized", "validating", "active", "failed")
# Configuration fields that are credentials: sent to Twilio, compared, never reported.
SECRET_CONFIGURATION = frozenset({"external_id"})
# How long the catalogue of event types serves before it is listed again: Twilio adds types rarely.
CATALOGUE_SECONDS = 3600.0


@dataclass(frozen=True)
class DesiredSink:
    account_sid: str
    description: str
    sink_type: str  # webhook | kinesis
    # What Twilio's SinkConfiguration holds, the Kinesis external id included: never printed.
    configuration: dict[str, Any] = field(hash=False, repr=False)
    # The subscribed types and their schema versions (None: the latest).
    types: dict[str, int | None] = field(hash=False)

    @property
    def public(self) -> dict[str, Any]:
        """The configuration without its credentials: what status shows and applied digests cover."""
        return {k: v for k, v in self.configuration.items() if k not in SECRET_CONFIGURATION}


def _configuration(sink: Any) -> dict[str, Any]:
    raw = getattr(sink, "sink_configuration", None)
    return dict(raw) if isinstance(raw, dict) else {}


def observed_sink(sink: Any) -> Observed:
    sid = shapes.sid(sink, "DG", "sink")
    shapes.required(sink, "sink", ("description", "sink_type"))
    status = shapes.one_of(sink, "sink", "status", SINK_STATUSES)
    configuration = _configuration(sink)
    created = sink.date_created if isinstance(sink.date_created, datetime.datetime) else None
    return Observed(
        sid=sid,
        data={
            "description": sink.description,
            "sink_type": str(sink.sink_type),
            "status": status,
            "configuration": {k: v for k, v in configuration.items() if k not in SECRET_CONFIGURATION},
        },
        created_at=created,
        secrets={k: str(v) for k, v in configuration.items() if k in SECRET_CONFIGURATION},
    )


def same_destination(desired: DesiredSink, observed: Observed) -> bool:
    """Whether the sink already sends where the spec wants: otherwise only a new sink can."""
    have = {**observed.data["configuration"], **observed.secrets}
    want = {k: (str(v) if k in SECRET_CONFIGURATION else v) for k, v in desired.configuration.items()}
    return observed.data["sink_type"] == desired.sink_type and have == want


class Sinks:
    """Sinks of one account: the Twilio object an EventStream is."""

    adoptable = True

    def __init__(self, gateway: TwilioGateway, account_sid: str) -> None:
        self.gw = gateway
        self.account = account_sid

    async def _api(self) -> Any:
        return (await self.gw.account_client(self.account)).events.v1

    async def observe(self, sid: str, steady: bool = False) -> Observed:
        api = await self._api()
        sink = None
        if steady:
            listed = await self.gw.listed(
                self.account, "ListSink", lambda: api.sinks.list_async(page_size=100)
            )
            sink = listed.get(sid)
        if sink is None:
            sink = await self.gw.call(self.account, "FetchSink", lambda: api.sinks(sid).fetch_async())
        return observed_sink(sink)

    async def find(self, desired: DesiredSink, since: datetime.datetime) -> list[Observed]:
        api = await self._api()
        sinks = await self.gw.call(self.account, "ListSink", api.sinks.list_async)
        return [
            observed_sink(s)
            for s in sinks
            if s.description == desired.description
            and (not isinstance(s.date_created, datetime.datetime) or s.date_created >= since)
        ]

    async def create(self, desired: DesiredSink) -> Observed:
        api = await self._api()
        sink = await self.gw.call(
            self.account,
            "CreateSink",
            lambda: api.sinks.create_async(
                description=desired.description,
                sink_configuration=desired.configuration,
                sink_type=desired.sink_type,
            ),
            idempotent=False,
        )
        return observed_sink(sink)

    def values(self, desired: DesiredSink) -> dict[str, Any]:
        # The destination is not updatable (a change makes a new sink), but its digest tells a spec change.
        return {
            "description": desired.description,
            "destination": {"type": desired.sink_type, **desired.public},
            "types": desired.types,
        }

    def differences(self, desired: DesiredSink, observed: Observed) -> list[str]:
        return [] if observed.data["description"] == desired.description else ["description"]

    async def update(self, desired: DesiredSink, observed: Observed, fields: list[str]) -> Observed:
        api = await self._api()
        sink = await self.gw.call(
            self.account,
            "UpdateSink",
            lambda: api.sinks(observed.sid).update_async(description=desired.description),
        )
        return observed_sink(sink)

    async def delete(self, sid: str) -> None:
        api = await self._api()
        try:
            await self.gw.call(self.account, "DeleteSink", lambda: api.sinks(sid).delete_async())
        except NotFound:
            return

    async def discard(self, orphan: Observed) -> None:
        # A sink left by an interrupted create has no subscription yet: remove it.
        await self.delete(orphan.sid)

    async def send_test(self, sid: str) -> None:
        """Twilio publishes a test event carrying a test id to the sink (for Kinesis: to the stream)."""
        api = await self._api()
        await self.gw.call(
            self.account, "CreateSinkTest", api.sinks(sid).sink_test.create_async, idempotent=False
        )

    async def validate(self, sid: str, test_id: str) -> None:
        api = await self._api()
        await self.gw.call(
            self.account,
            "CreateSinkValidate",
            lambda: api.sinks(sid).sink_validate.create_async(test_id=test_id),
            idempotent=False,
        )


def observed_subscription(subscription: Any) -> Observed:
    sid = shapes.sid(subscription, "DF", "subscription")
    shapes.required(subscription, "subscription", ("description", "sink_sid"))
    created = subscription.date_created if isinstance(subscription.date_created, datetime.datetime) else None
    return Observed(
        sid=sid,
        data={"description": subscription.description, "sink_sid": subscription.sink_sid},
        created_at=created,
    )


def _type_entry(name: str, version: int | None) -> dict[str, Any]:
    return {"type": name, **({"schema_version": version} if version is not None else {})}


class Subscriptions:
    """Subscriptions of one account and their subscribed event types."""

    def __init__(self, gateway: TwilioGateway, account_sid: str) -> None:
        self.gw = gateway
        self.account = account_sid

    async def _api(self) -> Any:
        return (await self.gw.account_client(self.account)).events.v1

    async def fetch(self, sid: str) -> Observed | None:
        api = await self._api()
        try:
            found = await self.gw.call(
                self.account, "FetchSubscription", lambda: api.subscriptions(sid).fetch_async()
            )
        except NotFound:
            return None
        return observed_subscription(found)

    async def find(self, description: str) -> list[Observed]:
        api = await self._api()
        listed = await self.gw.call(self.account, "ListSubscription", api.subscriptions.list_async)
        return sorted(
            (observed_subscription(s) for s in listed if s.description == description),
            key=lambda o: (o.created_at or datetime.datetime.max.replace(tzinfo=datetime.UTC), o.sid),
        )

    async def create(self, description: str, sink_sid: str, types: dict[str, int | None]) -> Observed:
        api = await self._api()
        entries = [_type_entry(name, version) for name, version in sorted(types.items())]
        created = await self.gw.call(
            self.account,
            "CreateSubscription",
            lambda: api.subscriptions.create_async(description=description, sink_sid=sink_sid, types=entries),
            idempotent=False,
        )
        return observed_subscription(created)

    async def move(self, sid: str, sink_sid: str) -> Observed:
        """Point the subscription at another sink (UpdateSubscription SinkSid, in Twilio's spec since 2026;
        the SDK's update still takes only a description, so the request is made through its Version)."""
        api = await self._api()

        async def update() -> Any:
            payload = await api.update_async(
                method="POST",
                uri=f"/Subscriptions/{sid}",
                data=values.of({"SinkSid": sink_sid}),
                headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"},
            )
            return SubscriptionInstance(api, payload, sid=sid)

        return observed_subscription(await self.gw.call(self.account, "UpdateSubscription", update))

    async def delete(self, sid: str) -> None:
        api = await self._api()
        try:
            await self.gw.call(
                self.account, "DeleteSubscription", lambda: api.subscriptions(sid).delete_async()
            )
        except NotFound:
            return

    async def types(self, sid: str) -> dict[str, int | None]:
        api = await self._api()
        listed = await self.gw.call(
            self.account, "ListSubscribedEvent", api.subscriptions(sid).subscribed_events.list_async
        )
        return {
            str(t.type): (int(t.schema_version) if t.schema_version is not None else None) for t in listed
        }

    async def add_type(self, sid: str, name: str, version: int | None) -> None:
        api = await self._api()
        extra: dict[str, Any] = {"schema_version": version} if version is not None else {}
        await self.gw.call(
            self.account,
            "CreateSubscribedEvent",
            lambda: api.subscriptions(sid).subscribed_events.create_async(type=name, **extra),
            idempotent=False,
        )

    async def set_version(self, sid: str, name: str, version: int) -> None:
        api = await self._api()
        await self.gw.call(
            self.account,
            "UpdateSubscribedEvent",
            lambda: api.subscriptions(sid).subscribed_events(name).update_async(schema_version=version),
        )

    async def remove_type(self, sid: str, name: str) -> None:
        api = await self._api()
        try:
            await self.gw.call(
                self.account,
                "DeleteSubscribedEvent",
                lambda: api.subscriptions(sid).subscribed_events(name).delete_async(),
            )
        except NotFound:
            return


class EventTypes:
    """Twilio's catalogue of event types (GET /v1/Types), listed once an hour at most."""

    def __init__(self, gateway: TwilioGateway) -> None:
        self.gw = gateway
        self._known: dict[str, str] = {}
        self._taken = -CATALOGUE_SECONDS

    async def statuses(self, account_sid: str) -> dict[str, str]:
        """Each type's status (available, deprecated, restricted, discontinued), by name."""
        if time.monotonic() - self._taken < CATALOGUE_SECONDS and self._known:
            return self._known
        client = await self.gw.account_client(account_sid)
        listed = await self.gw.call(
            account_sid, "ListEventType", lambda: client.events.v1.event_types.list_async(page_size=1000)
        )
        self._known = {str(t.type): str(t.status or "available") for t in listed if t.type}
        self._taken = time.monotonic()
        return self._known
