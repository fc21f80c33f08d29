"""EventStream plugged into the generic reconcile: a sink, its replacement, validation, and its subscription.

The sink is the Twilio object the generic reconcile creates and observes. Twilio cannot change a sink's
destination, so a new destination is a new sink (journaled like any create), the subscription moved to it once
it is active, and only then the old sink deleted: there is never a moment without a subscription. A Kinesis
sink starts `initialized`; the operator sends Twilio's test event and waits for the test id a person reads
from the stream, given in an annotation.
"""

from __future__ import annotations

import datetime
from typing import Any

from ..api.eventstream import (
    EventStreamSpec,
    EventStreamStatus,
    EventTypeRef,
    ResolvedDestination,
    SubscribedType,
)
from ..api.kinds import EVENT_STREAM
from ..clock import now_rfc3339
from ..kube import events
from ..kube.ingress import IngressView
from ..kube.secrets import decode, secret_path
from ..twilio.errors import Terminal
from ..twilio.eventstreams import DesiredSink, EventTypes, Sinks, Subscriptions, same_destination
from ..twilio.observed import Observed
from . import conditions as c
from .child import SUBACCOUNT_REF, ChildKind, invalid
from .entry import KindEntry, Services
from .indexes import Directory, Reference
from .model import CREATE_PENDING, PREFIX, Journal, Outcome, Resource
from .webhooks import INGRESSES, resolve_url, warn_insecure

SINK_TEST_ID = PREFIX + "sink-test-id"
SINK_AWAITING_VALIDATION = "SinkAwaitingValidation"
UNKNOWN_EVENT_TYPE = "UnknownEventType"
SECRET_NOT_FOUND = "SecretNotFound"
# The Secret holding a Kinesis external id is not watched (it is the user's): looked at again this often.
SECRET_RETRY = 30.0

Stream = Resource[EventStreamSpec, EventStreamStatus]


def ingress_names(spec: EventStreamSpec) -> set[str]:
    webhook = spec.destination.webhook if spec.destination else None
    return {webhook.ingress_ref.name} if webhook is not None and webhook.ingress_ref is not None else set()


def _types(spec: EventStreamSpec) -> dict[str, int | None]:
    """The spec's types as name → schema version (None: the latest); each item checked, as the CRD cannot."""
    wanted: dict[str, int | None] = {}
    for index, item in enumerate(spec.types):
        entry = item if isinstance(item, EventTypeRef) else None
        if entry is None:
            try:
                entry = EventTypeRef.model_validate(item if isinstance(item, dict) else {"type": item})
            except ValueError as error:
                raise invalid(f"spec.types[{index}]: {error}") from None
        if entry.type in wanted:
            raise invalid(f"spec.types[{index}]: {entry.type} is listed twice")
        wanted[entry.type] = entry.schema_version
    return wanted


def _resolved(desired: DesiredSink) -> ResolvedDestination:
    config = desired.public
    if desired.sink_type == "webhook":
        return ResolvedDestination(
            type="webhook",
            url=config["destination"],
            method=config["method"],
            batch_events=config["batch_events"],
        )
    return ResolvedDestination(type="kinesis", arn=config["arn"], role_arn=config["role_arn"])


def _waiting(reason: str, message: str, status: EventStreamStatus | None = None) -> Outcome:
    return Outcome(
        message,
        ready=c.Cond.false(reason, message),
        synced=c.Cond.false(reason, message),
        status=status,
    )


class EventStreamKind(ChildKind[EventStreamSpec, EventStreamStatus, DesiredSink]):
    def __init__(self, services: Services) -> None:
        super().__init__(services)
        self.kube = services.kube
        self.ingresses: Directory[IngressView] = services.directory(INGRESSES)
        self.catalogue = EventTypes(self.gw)

    # --- what the spec wants -----------------------------------------------------------------------

    def _destination(self, resource: Stream) -> tuple[str, dict[str, Any], str | None]:
        """The sink type, the configuration without a Kinesis external id, and why a URL is not HTTPS."""
        destination = resource.spec.destination
        webhook, kinesis = destination.webhook, destination.kinesis
        if (webhook is None) == (kinesis is None):
            raise invalid("spec.destination needs exactly one of webhook and kinesis")
        if webhook is not None:
            url, insecure = resolve_url(self.ingresses, resource.namespace, webhook.url, webhook.ingress_ref)
            batch = True if webhook.batch_events is None else webhook.batch_events
            configuration = {"destination": url, "method": webhook.method or "POST", "batch_events": batch}
            return "webhook", configuration, insecure
        assert kinesis is not None
        return "kinesis", {"arn": kinesis.arn, "role_arn": kinesis.role_arn}, None

    async def _external_id(self, resource: Stream) -> str:
        kinesis = resource.spec.destination.kinesis
        assert kinesis is not None
        ref = kinesis.external_id_secret_ref
        secret = await self.kube.get(secret_path(resource.namespace, ref.name))
        value = decode(secret).get(ref.key) if secret is not None else None
        if not value:
            where = f"Secret {ref.name}" + ("" if secret is None else f" has no key {ref.key}")
            raise Outcome(
                f"{where}: the Kinesis external id is needed to make the sink",
                ready=c.Cond.false(SECRET_NOT_FOUND, f"{where} (for the Kinesis external id)"),
                synced=c.Cond.false(SECRET_NOT_FOUND, f"{where} (for the Kinesis external id)"),
                retry=SECRET_RETRY,
            )
        return value

    async def desired(self, resource: Stream, journal: Journal) -> DesiredSink:
        wanted = _types(resource.spec)
        sink_type, configuration, _insecure = self._destination(resource)
        if sink_type == "kinesis":
            configuration["external_id"] = await self._external_id(resource)
        account = await self.account(resource, journal)
        known = await self.catalogue.statuses(account)
        unknown = sorted(name for name in wanted if known.get(name, "discontinued") == "discontinued")
        if unknown:
            message = f"unknown event type {', '.join(unknown)}: not in Twilio's catalogue (GET /v1/Types)"
            raise Outcome(
                message,
                ready=c.Cond.false(c.UNAVAILABLE, message),
                synced=c.Cond.false(UNKNOWN_EVENT_TYPE, message),
            )
        return DesiredSink(
            account_sid=account,
            description=resource.friendly_name,
            sink_type=sink_type,
            configuration=configuration,
            types=wanted,
        )

    def external(self, desired: DesiredSink) -> Sinks:
        return Sinks(self.gw, desired.account_sid)

    # --- after the sink converged ------------------------------------------------------------------

    async def publish(
        self, resource: Stream, desired: DesiredSink, observed: Observed, created: bool, journal: Journal
    ) -> tuple[Observed, EventStreamStatus]:
        status = resource.status
        sinks = self.external(desired)
        _type, _configuration, insecure = self._destination(resource)
        shown = [status.destination.url] if status.destination and status.destination.url else []
        if insecure is not None:
            warn_insecure(resource, {desired.configuration["destination"]: insecure}, shown)
        # A sink replaced before still holds the subscription, until its successor is active.
        retiring = status.previous_sink_sid
        if status.sink_sid and status.sink_sid not in (observed.sid, retiring):
            retiring = status.sink_sid  # replaced by a pass that stopped before it wrote status
        if not created and not same_destination(desired, observed):
            observed, retiring = await self._replace(resource, desired, sinks, observed, retiring, journal)
        report = EventStreamStatus(
            account_sid=desired.account_sid,
            sink_sid=observed.sid,
            sink_status=observed.data["status"],
            subscription_sid=status.subscription_sid,
            previous_sink_sid=retiring,
            test_sent_for=status.test_sent_for,
            types=status.types,
            destination=_resolved(desired),
        )
        if observed.data["status"] != "active":
            observed = await self._validate(resource, sinks, observed, report)
            report.sink_status = observed.data["status"]
        subscriptions = Subscriptions(self.gw, desired.account_sid)
        subscription = await self._subscription(resource, subscriptions, desired, observed.sid, retiring)
        report.subscription_sid = subscription.sid
        report.types = await self._converge_types(resource, subscriptions, subscription.sid, desired)
        if retiring is not None:
            await sinks.delete(retiring)
            events.normal(resource.body, "SinkDeleted", f"deleted {retiring}: the subscription moved off it")
            report.previous_sink_sid = None
        return observed, report

    async def _replace(
        self,
        resource: Stream,
        desired: DesiredSink,
        sinks: Sinks,
        current: Observed,
        retiring: str | None,
        journal: Journal,
    ) -> tuple[Observed, str | None]:
        """A new sink for a new destination, journaled as a create: a crash before its SID is recorded leaves
        a pending mark, and the next pass deletes what it made. The old sink stays until the subscription
        has moved (unless it never held it: a replacement still waiting for validation)."""
        await journal.annotate(resource, {CREATE_PENDING: now_rfc3339()})
        new = await sinks.create(desired)
        await journal.record(resource, new.sid, created=True)
        events.normal(
            resource.body, "SinkReplaced", f"made {new.sid} for the new destination in place of {current.sid}"
        )
        if retiring is not None:
            await sinks.delete(current.sid)  # the subscription is still on `retiring`, never on this one
            return new, retiring
        return new, current.sid

    async def _validate(
        self, resource: Stream, sinks: Sinks, observed: Observed, report: EventStreamStatus
    ) -> Observed:
        """Twilio's test and validate step (Kinesis): returns the sink once active, else says it waits."""
        test_id = resource.annotations.get(SINK_TEST_ID)
        refused = ""
        if report.test_sent_for == observed.sid and test_id:
            try:
                await sinks.validate(observed.sid, test_id)
            except Terminal as error:
                refused = f"; Twilio refused test id {test_id}: {error.message}"
            else:
                observed = await sinks.observe(observed.sid)
                if observed.data["status"] == "active":
                    events.normal(resource.body, "SinkValidated", f"{observed.sid} is active")
                    return observed
        if report.test_sent_for != observed.sid:
            await sinks.send_test(observed.sid)
            report.test_sent_for = observed.sid
            observed = await sinks.observe(observed.sid)
            events.normal(resource.body, "SinkTestSent", f"sent Twilio's test event to {observed.sid}")
        report.sink_status = observed.data["status"]
        stream = report.destination.arn if report.destination else observed.sid
        held = (
            f"; the subscription stays on {report.previous_sink_sid} until then"
            if report.previous_sink_sid
            else ""
        )
        raise _waiting(
            SINK_AWAITING_VALIDATION,
            f"sink {observed.sid} is {observed.data['status']}: read the test event's test id from "
            f"{stream} and set the annotation {SINK_TEST_ID} to it{held}{refused}",
            report,
        )

    async def _subscription(
        self,
        resource: Stream,
        subscriptions: Subscriptions,
        desired: DesiredSink,
        sink: str,
        retiring: str | None,
    ) -> Observed:
        """The stream's one subscription, on `sink`: found (status, else by description on one of this
        object's sinks, extras deleted), moved, or made."""
        found = (
            await subscriptions.fetch(resource.status.subscription_sid)
            if resource.status.subscription_sid
            else None
        )
        if found is None:
            ours = {s for s in (sink, retiring, resource.status.sink_sid) if s}
            candidates = [
                s for s in await subscriptions.find(desired.description) if s.data["sink_sid"] in ours
            ]
            found = candidates[0] if candidates else None
            for extra in candidates[1:]:
                await subscriptions.delete(extra.sid)
        if found is None:
            made = await subscriptions.create(desired.description, sink, desired.types)
            events.normal(resource.body, "Subscribed", f"created {made.sid} on {sink}")
            return made
        if found.data["sink_sid"] != sink:
            moved_from = found.data["sink_sid"]
            found = await subscriptions.move(found.sid, sink)
            events.normal(
                resource.body, "SubscriptionMoved", f"moved {found.sid} from {moved_from} to {sink}"
            )
        return found

    async def _converge_types(
        self, resource: Stream, subscriptions: Subscriptions, sid: str, desired: DesiredSink
    ) -> list[SubscribedType]:
        """The subscribed types as a set: add what is missing, change versions, then remove the rest (in that
        order, so the subscription never holds no type)."""
        have = await subscriptions.types(sid)
        changes: list[str] = []
        for name, version in sorted(desired.types.items()):
            if name not in have:
                await subscriptions.add_type(sid, name, version)
                changes.append(f"added {name}")
            elif version is not None and have[name] != version:
                await subscriptions.set_version(sid, name, version)
                changes.append(f"{name} schema version {have[name]} → {version}")
        for name in sorted(have.keys() - desired.types.keys()):
            await subscriptions.remove_type(sid, name)
            changes.append(f"removed {name}")
        if changes:
            have = await subscriptions.types(sid)
            if "types" in resource.changed:
                events.normal(resource.body, "TypesUpdated", ", ".join(changes))
            else:
                events.drift_corrected(resource.body, "subscribed types: " + ", ".join(changes))
        return [SubscribedType(type=name, schema_version=have[name]) for name in sorted(have)]

    def retained(self, status: EventStreamStatus) -> set[str]:
        return {status.previous_sink_sid} if status.previous_sink_sid else set()

    # --- deletion ----------------------------------------------------------------------------------

    async def delete(self, resource: Stream, sid: str, policy: str) -> None:
        account = self.account_at_deletion(resource)
        if policy != "Delete" or not account:
            return
        status = resource.status
        sinks, subscriptions = Sinks(self.gw, account), Subscriptions(self.gw, account)
        ours = {s for s in (sid, status.sink_sid, status.previous_sink_sid) if s}

        async def remove() -> None:
            # The subscription first: a sink in use is not deleted.
            found = [
                s for s in await subscriptions.find(resource.friendly_name) if s.data["sink_sid"] in ours
            ]
            known = {status.subscription_sid} if status.subscription_sid else set()
            for sub in sorted({s.sid for s in found} | known):
                await subscriptions.delete(sub)
            for sink in sorted(ours):
                await sinks.delete(sink)

        await self.delete_in(account, remove)

    async def delete_orphans(self, resource: Stream, since: datetime.datetime) -> None:
        account = self.account_at_deletion(resource)
        if resource.spec.deletion_policy == "Orphan" or not account:
            return
        sinks, subscriptions = Sinks(self.gw, account), Subscriptions(self.gw, account)
        probe = DesiredSink(account, resource.friendly_name, "webhook", {}, {})

        async def remove() -> None:
            made = {o.sid for o in await sinks.find(probe, since)}
            for sub in await subscriptions.find(resource.friendly_name):
                if sub.data["sink_sid"] in made:
                    await subscriptions.delete(sub.sid)
            for sink in sorted(made):
                await sinks.delete(sink)

        await self.delete_in(account, remove)


ENTRY = KindEntry(
    kind=EVENT_STREAM,
    plug=EventStreamKind,
    default_deletion_policy="Delete",
    acting_deletion_policies=frozenset({"Delete"}),
    references=(SUBACCOUNT_REF, Reference(INGRESSES, ingress_names)),
    reads_secrets=True,
)
