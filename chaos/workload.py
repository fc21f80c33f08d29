"""The seeded workload: objects of every kind in several tenant namespaces, and what happens to them.

Everything here is decided by the seed before the run starts, so two runs with one seed ask the operator
for the same things in the same order; only the moments the operator dies differ with the machine's speed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

API_VERSION = "twilio.operator.dev/v1alpha1"
PLURALS = {
    "TwilioSubaccount": "twiliosubaccounts",
    "ApiKey": "apikeys",
    "MessagingService": "messagingservices",
    "EventStream": "eventstreams",
    "PhoneNumber": "phonenumbers",
}
EVENT_TYPES = (
    "com.twilio.messaging.message.sent",
    "com.twilio.messaging.message.delivered",
    "com.twilio.messaging.message.undelivered",
    "com.twilio.messaging.message.failed",
    "com.twilio.messaging.inbound-message.received",
)
ROTATE = "twilio.operator.dev/rotate-requested-at"
USECASES = ("notifications", "marketing", "verification", "discussion", "poll")
PERMISSIONS = (
    "/twilio/messaging/services/create",
    "/twilio/messaging/services/update",
    "/twilio/messaging/services/phone-numbers/read",
    "/twilio/phone-numbers/incoming/read",
)
# Every restricted key may list services, which is how the run checks that its Secret authenticates.
READ_SERVICES = "/twilio/messaging/services/read"


@dataclass
class Planned:
    """One object of the workload and everything the run does to it."""

    kind: str
    namespace: str
    name: str
    spec: dict[str, Any]
    wave: int
    deleted: bool = False
    rotations: int = 0
    updates: int = 0
    secret_deletions: int = 0

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.kind, self.namespace, self.name)

    @property
    def plural(self) -> str:
        return PLURALS[self.kind]

    @property
    def friendly_name(self) -> str:
        return str(self.spec.get("friendlyName") or f"{self.namespace}/{self.name}")

    @property
    def deletion_policy(self) -> str:
        default = {"TwilioSubaccount": "Orphan", "PhoneNumber": "ReturnToParent"}.get(self.kind, "Delete")
        return str(self.spec.get("deletionPolicy") or default)

    @property
    def subaccount(self) -> str | None:
        ref = self.spec.get("subaccountRef")
        return str(ref["name"]) if ref else None

    def manifest(self, annotations: dict[str, str] | None = None) -> dict[str, Any]:
        metadata: dict[str, Any] = {"name": self.name, "namespace": self.namespace}
        if annotations:
            metadata["annotations"] = annotations
        return {"apiVersion": API_VERSION, "kind": self.kind, "metadata": metadata, "spec": self.spec}


@dataclass(order=True)
class Action:
    """Something a user does at a moment of the run (seconds from its start)."""

    at: float
    seq: int
    verb: str = field(compare=False)  # apply | rotate | update | delete | delete-secret
    targets: list[Planned] = field(compare=False, default_factory=list)


@dataclass
class Workload:
    namespaces: list[str]
    objects: list[Planned]
    actions: list[Action]

    def live(self) -> list[Planned]:
        return [o for o in self.objects if not o.deleted]

    def by_kind(self, kind: str) -> list[Planned]:
        return [o for o in self.objects if o.kind == kind]

    def numbers(self) -> list[str]:
        """The numbers the PhoneNumbers move: held by the parent account before the run (a person's)."""
        return [str(o.spec["phoneNumber"]) for o in self.by_kind("PhoneNumber")]


def _subaccount_spec(rng: random.Random, spare: bool) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    if spare:
        # Spares hold no children (a suspended account's keys and services stop working), so they can be
        # suspended, and deleting them exercises Close and Suspend under faults.
        spec["deletionPolicy"] = rng.choice(["Close", "Suspend", "Orphan"])
        if rng.random() < 0.5:
            spec["state"] = "Suspended"
    elif rng.random() < 0.3:
        spec["state"] = "Active"
    return spec


def _key_spec(rng: random.Random, subaccount: str, index: int) -> dict[str, Any]:
    spec: dict[str, Any] = {"subaccountRef": {"name": subaccount}}
    roll = rng.random()
    if roll < 0.3:
        allow = sorted({READ_SERVICES, *rng.sample(PERMISSIONS, rng.randint(0, 2))})
        spec.update(type="Restricted", policy={"allow": allow})
    if rng.random() < 0.4:
        spec["rotation"] = {"every": "720h", "gracePeriod": f"{rng.randint(5, 20)}s"}
    if rng.random() < 0.2:
        spec["secretName"] = f"key-{index}-creds"
    if rng.random() < 0.15:
        spec["onSecretLoss"] = "Fail"
    if rng.random() < 0.1:
        spec["deletionPolicy"] = "Orphan"
    return spec


def _service_spec(rng: random.Random, subaccount: str, index: int) -> dict[str, Any]:
    spec: dict[str, Any] = {"subaccountRef": {"name": subaccount}}
    if rng.random() < 0.6:
        spec["usecase"] = rng.choice(USECASES)
    for field_name in ("stickySender", "smartEncoding", "areaCodeGeomatch"):
        if rng.random() < 0.3:
            spec[field_name] = rng.random() < 0.5
    if rng.random() < 0.4:
        spec["validityPeriod"] = rng.randint(60, 36000)
    if rng.random() < 0.5:
        spec["webhooks"] = {
            "statusCallback": {"url": f"https://hooks.example.com/{index}/status"},
            "inboundRequest": {"url": f"https://hooks.example.com/{index}/in", "method": "POST"},
        }
    if rng.random() < 0.3:
        spec["senders"] = {"alphaSenders": [f"CHAOS{index % 1000}"]}
    if rng.random() < 0.1:
        spec["deletionPolicy"] = "Orphan"
    return spec


def _stream_spec(rng: random.Random, subaccount: str, index: int) -> dict[str, Any]:
    types: list[Any] = sorted(rng.sample(EVENT_TYPES, rng.randint(1, 3)))
    if rng.random() < 0.3:
        types[0] = {"type": types[0], "schemaVersion": rng.randint(1, 5)}
    spec: dict[str, Any] = {
        "subaccountRef": {"name": subaccount},
        "destination": {"webhook": {"url": f"https://hooks.example.com/{index}/events"}},
        "types": types,
    }
    if rng.random() < 0.1:
        spec["deletionPolicy"] = "Orphan"
    return spec


def _number_spec(rng: random.Random, subaccount: str, seed: int, index: int) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "subaccountRef": {"name": subaccount},
        "phoneNumber": f"+1555{seed % 100:02d}{index:05d}",
    }
    if rng.random() < 0.5:
        spec["webhooks"] = {"sms": {"url": f"https://hooks.example.com/{index}/sms", "method": "POST"}}
    if rng.random() < 0.3:
        spec["deletionPolicy"] = rng.choice(["Retain", "Release"])
    return spec


def _child(rng: random.Random, seed: int, namespace: str, parent: str, index: int, wave: int) -> Planned:
    """A key or a service mostly; an event stream or a phone number now and then."""
    roll = rng.random()
    if roll < 0.4:
        return Planned("ApiKey", namespace, f"key{index}", _key_spec(rng, parent, index), wave)
    if roll < 0.8:
        return Planned("MessagingService", namespace, f"svc{index}", _service_spec(rng, parent, index), wave)
    if roll < 0.9:
        return Planned("EventStream", namespace, f"events{index}", _stream_spec(rng, parent, index), wave)
    return Planned("PhoneNumber", namespace, f"number{index}", _number_spec(rng, parent, seed, index), wave)


def plan(seed: int, objects: int, duration: float) -> Workload:
    """`objects` objects in tenant namespaces of about 20, and user actions spread over `duration` seconds."""
    rng = random.Random(seed)
    tenants = max(2, round(objects / 20))
    namespaces = [f"chaos-{seed}-t{i}" for i in range(tenants)]
    planned: list[Planned] = []
    waves = 4
    per_tenant = [objects // tenants + (1 if i < objects % tenants else 0) for i in range(tenants)]
    index = 0
    for namespace, count in zip(namespaces, per_tenant, strict=True):
        # A tenant: two subaccounts its keys and services use, one spare, the rest keys and services.
        subs = ["main", "aux"] if count >= 6 else ["main"]
        spares = 1 if count >= 8 else 0
        for name in subs:
            planned.append(Planned("TwilioSubaccount", namespace, name, _subaccount_spec(rng, False), 0))
        for n in range(spares):
            planned.append(
                Planned(
                    "TwilioSubaccount",
                    namespace,
                    f"spare{n}",
                    _subaccount_spec(rng, True),
                    rng.randrange(waves),
                )
            )
        for _ in range(count - len(subs) - spares):
            index += 1
            parent = rng.choice(subs)
            wave = rng.randrange(waves)
            planned.append(_child(rng, seed, namespace, parent, index, wave))
    # Subaccounts that children use never lose them mid-run (a Close would take the children's objects).
    actions: list[Action] = []
    seq = 0

    def add(at: float, verb: str, targets: list[Planned]) -> None:
        nonlocal seq
        seq += 1
        actions.append(Action(at, seq, verb, targets))

    apply_window = duration * 0.6
    for wave in range(waves):
        members = [o for o in planned if o.wave == wave]
        if members:
            add(apply_window * wave / waves, "apply", members)
    for obj in planned:
        start = apply_window * obj.wave / waves + 0.5
        if obj.kind == "ApiKey":
            if rng.random() < 0.2:
                obj.rotations = 1
                add(rng.uniform(start, duration), "rotate", [obj])
            # A lost Secret of a key that says onSecretLoss: Fail is meant to stay lost (SecretLost).
            if rng.random() < 0.05 and obj.spec.get("onSecretLoss") != "Fail":
                obj.secret_deletions = 1
                add(rng.uniform(start, duration), "delete-secret", [obj])
        if obj.kind in ("MessagingService", "EventStream") and rng.random() < 0.15:
            obj.updates = 1
            add(rng.uniform(start, duration), "update", [obj])
        deletable = obj.kind != "TwilioSubaccount" or obj.name.startswith("spare")
        if deletable and rng.random() < 0.1 and not (obj.rotations or obj.updates or obj.secret_deletions):
            obj.deleted = True
            add(rng.uniform(start, duration), "delete", [obj])
    actions.sort()
    return Workload(namespaces, planned, actions)


def updated_spec(obj: Planned) -> dict[str, Any]:
    """A spec change: for a service a different use case and validity period; for an event stream a new
    destination (a new sink, the subscription moved to it) and one more type."""
    spec = dict(obj.spec)
    if obj.kind == "EventStream":
        url = spec["destination"]["webhook"]["url"]
        spec["destination"] = {"webhook": {"url": url.replace("/events", "/events-moved")}}
        names = {t if isinstance(t, str) else t["type"] for t in spec["types"]}
        spec["types"] = [*spec["types"], *[t for t in EVENT_TYPES if t not in names][:1]]
        return spec
    current = spec.get("usecase")
    spec["usecase"] = next(u for u in USECASES if u != current)
    spec["validityPeriod"] = int(spec.get("validityPeriod") or 3600) % 36000 + 1
    return spec
