"""The generic reconciler with a kind of its own and a fake external client, table-driven like
crossplane-runtime's managed reconciler tests.

The Kubernetes side is real (the API emulator, in process, with a CRD generated for the test kind, and the
operator's own KubeClient); Twilio is a dictionary, so each case says exactly what exists there, what fails,
and what the pass must do about it.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import kopf
import pytest
from kopf._core.engines import posting

from twilio_operator.api.common import ManagedSpec, ManagedStatus
from twilio_operator.api.crd import crd_for
from twilio_operator.api.kinds import Kind
from twilio_operator.clock import rfc3339, utcnow
from twilio_operator.kube.client import Credentials, KubeClient, resource_path
from twilio_operator.reconcile.entry import KindEntry, Services
from twilio_operator.reconcile.handled import HandledRecord
from twilio_operator.reconcile.indexes import Claim, ClaimKey, Claims
from twilio_operator.reconcile.managed import Reconciler
from twilio_operator.reconcile.model import (
    CREATE_PENDING,
    CREATE_SUCCEEDED,
    EXTERNAL_NAME,
    FINALIZER,
    PAUSED,
    Journal,
    ManagedKind,
    Resource,
    digest,
)
from twilio_operator.sandbox.kube import KubeEmulator
from twilio_operator.settings import Settings
from twilio_operator.twilio.errors import NotFound, Terminal, Transient
from twilio_operator.twilio.gateway import TwilioGateway
from twilio_operator.twilio.observed import Observed

NAMESPACE = "default"
LOG = logging.getLogger(__name__)
PARENT = "AC" + "0" * 32


class ThingSpec(ManagedSpec):
    """Desired state of a thing."""

    color: str | None = None


class ThingStatus(ManagedStatus):
    """Observed state of a thing."""

    color: str | None = None


THING = Kind(
    kind="Thing",
    plural="things",
    singular="thing",
    short_name="thing",
    description="A Twilio-side thing, for tests.",
    spec=ThingSpec,
    status=ThingStatus,
)


@dataclass(frozen=True)
class Desired:
    friendly_name: str
    color: str


def sid(n: int) -> str:
    return f"TH{n:032x}"


@dataclass
class FakeTwilio:
    """The Twilio side: objects by SID, failures to raise per operation, and every call made."""

    objects: dict[str, dict[str, Any]] = field(default_factory=dict)
    fail: dict[str, Exception] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    adoptable: bool = True
    created: int = 100

    def _call(self, operation: str) -> None:
        self.calls.append(operation)
        if operation in self.fail:
            raise self.fail[operation]

    def _observed(self, sid: str) -> Observed:
        data = self.objects[sid]
        return Observed(sid, dict(data), created_at=data.get("created_at"))

    async def observe(self, sid: str, steady: bool = False) -> Observed:
        self._call("observe")
        if sid not in self.objects:
            raise NotFound(f"{sid} not found", status=404, code=20404)
        return self._observed(sid)

    async def find(self, desired: Desired, since: datetime.datetime) -> list[Observed]:
        self._call("find")
        return [
            self._observed(s)
            for s, o in self.objects.items()
            if o["friendly_name"] == desired.friendly_name and o["created_at"] >= since
        ]

    async def create(self, desired: Desired) -> Observed:
        self._call("create")
        self.created += 1
        new = sid(self.created)
        self.objects[new] = {
            "friendly_name": desired.friendly_name,
            "color": desired.color,
            "created_at": utcnow(),
        }
        return self._observed(new)

    def values(self, desired: Desired) -> dict[str, Any]:
        return {"color": desired.color}

    def differences(self, desired: Desired, observed: Observed) -> list[str]:
        return [] if observed.data["color"] == desired.color else ["color"]

    async def update(self, desired: Desired, observed: Observed, fields: list[str]) -> Observed:
        self._call("update")
        self.objects[observed.sid]["color"] = desired.color
        return self._observed(observed.sid)

    async def discard(self, orphan: Observed) -> None:
        self._call("discard")
        self.objects.pop(orphan.sid, None)

    async def delete(self, sid: str, policy: str) -> None:
        self._call(f"delete:{policy}")
        if policy == "Delete":
            self.objects.pop(sid, None)


Thing = Resource[ThingSpec, ThingStatus]


class ThingKind(ManagedKind[ThingSpec, ThingStatus, Desired]):
    def __init__(self, twilio: FakeTwilio) -> None:
        self.twilio = twilio
        # When set, a pass waits for it (as a child waits for its subaccount) before it goes on.
        self.hold_up: asyncio.Event | None = None
        self.waiting = asyncio.Event()

    async def desired(self, resource: Thing, journal: Journal) -> Desired:
        if self.hold_up is not None:
            self.waiting.set()
            await self.hold_up.wait()
        return Desired(resource.friendly_name, resource.spec.color or "grey")

    def external(self, desired: Desired) -> FakeTwilio:
        return self.twilio

    async def publish(
        self, resource: Thing, desired: Desired, observed: Observed, created: bool, journal: Journal
    ) -> tuple[Observed, ThingStatus]:
        return observed, ThingStatus(color=observed.data["color"])

    async def delete(self, resource: Thing, sid: str, policy: str) -> None:
        await self.twilio.delete(sid, policy)


@dataclass
class World:
    """A running reconciler for the thing kind, against the API emulator and a fake Twilio."""

    emulator: KubeEmulator
    kube: KubeClient
    twilio: FakeTwilio
    reconciler: Reconciler[ThingSpec, ThingStatus, Desired]
    claims: Claims
    events: asyncio.Queue[Any]

    def path(self, name: str) -> str:
        return resource_path(THING.api_version, THING.plural, NAMESPACE, name)

    async def put(
        self, name: str, spec: dict[str, Any], annotations: dict[str, str], status: dict[str, Any]
    ) -> kopf.Body:
        body = {
            "apiVersion": THING.api_version,
            "kind": THING.kind,
            "metadata": {"name": name, "annotations": annotations},
            "spec": spec,
        }
        created = await self.kube.create(resource_path(THING.api_version, THING.plural, NAMESPACE), body)
        if status:
            created = await self.kube.merge_patch(self.path(name), {"status": status}, subresource="/status")
        return kopf.Body(created)

    async def get(self, name: str) -> dict[str, Any]:
        found = await self.kube.get(self.path(name))
        assert found is not None
        return found

    def posted(self) -> list[str]:
        reasons = []
        while not self.events.empty():
            reasons.append(self.events.get_nowait().reason)
        return reasons


@contextlib.asynccontextmanager
async def world(settings: Settings, twilio: FakeTwilio) -> AsyncIterator[World]:
    emulator = KubeEmulator()
    url = await emulator.start()
    emulator.install_crd(crd_for(THING))
    credentials = Credentials()
    credentials.update(kopf.ConnectionInfo(server=url), lambda: None)
    kube = KubeClient(credentials)
    services = Services(settings, TwilioGateway(settings), kube)
    entry = KindEntry(
        kind=THING,
        plug=lambda _: ThingKind(twilio),
        default_deletion_policy="Delete",
        acting_deletion_policies=frozenset({"Delete"}),
    )
    claims = Claims()
    events: asyncio.Queue[Any] = asyncio.Queue()
    # kopf.event() posts through the queue kopf gives each handler; here the test reads it.
    posting.settings_var.set(kopf.OperatorSettings())
    posting.event_queue_var.set(events)
    posting.event_queue_loop_var.set(asyncio.get_running_loop())
    try:
        yield World(
            emulator, kube, twilio, Reconciler(entry, services, claims, HandledRecord()), claims, events
        )
    finally:
        await services.gateway.close()
        await kube.close()
        await emulator.stop()


@dataclass(frozen=True)
class Ago:
    """A time `seconds` before the test runs (cases are built at collection, maybe minutes earlier)."""

    seconds: float

    def __str__(self) -> str:
        return rfc3339(utcnow() - datetime.timedelta(seconds=self.seconds))


def ago(seconds: float) -> Any:
    return Ago(seconds)


def resolved(value: Any) -> Any:
    """The case's data with every Ago turned into a time."""
    if isinstance(value, Ago):
        return str(value)
    if isinstance(value, dict):
        return {k: resolved(v) for k, v in value.items()}
    if isinstance(value, list):
        return [resolved(v) for v in value]
    return value


@dataclass
class Case:
    name: str
    spec: dict[str, Any] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    status: dict[str, Any] = field(default_factory=dict)
    # Twilio before the pass: SID → (friendly name, color, seconds since created).
    existing: dict[str, tuple[str, str, float]] = field(default_factory=dict)
    fail: dict[str, Exception] = field(default_factory=dict)
    adoptable: bool = True
    other_claims: dict[str, Claim] = field(default_factory=dict)
    # What must happen.
    calls: list[str] = field(default_factory=list)
    ready: str | None = None
    synced: str | None = None
    events: list[str] = field(default_factory=list)
    sid: str | None = None  # external-name afterwards
    retries: bool = False
    twilio_after: set[str] | None = None
    # The create journal entry stays when the create may have happened (no answer came back).
    pending_after: bool = False


NAME = "default/t"
SYNCED_OK = {
    "conditions": [
        {"type": "Ready", "status": "True", "reason": "Available", "lastTransitionTime": ago(100)},
        {"type": "Synced", "status": "True", "reason": "ReconcileSuccess", "lastTransitionTime": ago(100)},
    ],
    "observedGeneration": 1,
    # What the operator last applied: the color its spec wants.
    "applied": {"color": digest("grey")},
}

CASES = [
    Case(
        "creates what does not exist, and records it",
        calls=["create"],
        ready="Available",
        synced="ReconcileSuccess",
        events=["Created"],
        sid=sid(101),
    ),
    Case(
        "adopts by external-name, changing nothing that matches",
        annotations={EXTERNAL_NAME: sid(1)},
        existing={sid(1): (NAME, "grey", 600)},
        calls=["observe"],
        ready="Available",
        synced="ReconcileSuccess",
        sid=sid(1),
    ),
    Case(
        "an interrupted create is found and adopted, a second one discarded, nothing created",
        annotations={CREATE_PENDING: ago(5)},
        existing={sid(1): (NAME, "grey", 4), sid(2): (NAME, "grey", 3), sid(3): (NAME, "grey", 900)},
        calls=["find", "discard"],
        ready="Available",
        events=["Adopted", "OrphanDeleted"],
        sid=sid(1),
        twilio_after={sid(1), sid(3)},
    ),
    Case(
        "an interrupted create of what cannot be adopted is discarded and made again",
        annotations={CREATE_PENDING: ago(5)},
        existing={sid(1): (NAME, "grey", 4)},
        adoptable=False,
        calls=["find", "discard", "create"],
        ready="Available",
        events=["OrphanDeleted", "Created"],
        sid=sid(101),
        twilio_after={sid(101)},
    ),
    Case(
        "what changed in Twilio is corrected as drift",
        annotations={EXTERNAL_NAME: sid(1), CREATE_SUCCEEDED: ago(600)},
        status={**SYNCED_OK, "sid": sid(1)},
        existing={sid(1): (NAME, "red", 600)},
        calls=["observe", "update"],
        synced="ReconcileSuccess",
        events=["DriftCorrected"],
        sid=sid(1),
    ),
    Case(
        "what the operator wants changed is an update, not drift, whatever the generation says",
        spec={"color": "blue"},
        annotations={EXTERNAL_NAME: sid(1), CREATE_SUCCEEDED: ago(600)},
        status={**SYNCED_OK, "sid": sid(1)},
        existing={sid(1): (NAME, "grey", 600)},
        calls=["observe", "update"],
        synced="ReconcileSuccess",
        events=["Updated"],
    ),
    Case(
        "a change of spec is an update, not drift",
        spec={"color": "blue"},
        annotations={EXTERNAL_NAME: sid(1), CREATE_SUCCEEDED: ago(600)},
        status={**SYNCED_OK, "sid": sid(1), "observedGeneration": 0},
        existing={sid(1): (NAME, "grey", 600)},
        calls=["observe", "update"],
        synced="ReconcileSuccess",
        events=["Updated"],
    ),
    Case(
        "a 404 right after the create is Twilio's eventual consistency",
        annotations={EXTERNAL_NAME: sid(1), CREATE_SUCCEEDED: ago(0)},
        status={"sid": sid(1)},
        calls=["observe"],
        ready="Creating",
        retries=True,
    ),
    Case(
        "a 404 long after the create means it was deleted outside: made again",
        annotations={EXTERNAL_NAME: sid(1), CREATE_SUCCEEDED: ago(600)},
        status={**SYNCED_OK, "sid": sid(1)},
        calls=["observe", "create"],
        ready="Available",
        events=["ExternalDeleted", "Created"],
        sid=sid(101),
    ),
    Case(
        "an adopted object that does not exist is reported, never created",
        annotations={EXTERNAL_NAME: sid(1)},
        calls=["observe"],
        synced="ExternalNotFound",
    ),
    Case(
        "paused: nothing happens in Twilio",
        annotations={PAUSED: "true"},
        calls=[],
        synced="ReconcilePaused",
    ),
    Case(
        "Twilio refuses the create: reported, and the journal entry removed",
        fail={"create": Terminal("invalid", status=400, code=21000)},
        calls=["create"],
        ready="Unavailable",
        synced="TwilioRejected",
    ),
    Case(
        "a transient failure is retried with the object still Creating",
        fail={"create": Transient("unavailable", status=503)},
        calls=["create"],
        ready="Creating",
        synced="ReconcileError",
        retries=True,
        pending_after=True,
    ),
    Case(
        "a SID another object created is refused",
        annotations={EXTERNAL_NAME: sid(1)},
        existing={sid(1): (NAME, "grey", 600)},
        other_claims={sid(1): Claim("other-uid", True, "2020-01-01T00:00:00Z")},
        calls=[],
        synced="AlreadyManaged",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
async def test_a_pass(case: Case) -> None:
    twilio = FakeTwilio(adoptable=case.adoptable, fail=dict(case.fail))
    for existing, (name, color, age) in case.existing.items():
        created = utcnow() - datetime.timedelta(seconds=age)
        twilio.objects[existing] = {"friendly_name": name, "color": color, "created_at": created}
    settings = Settings(account_sid=PARENT, auth_token="x", create_grace_period=30)  # type: ignore[arg-type]
    async with world(settings, twilio) as w:
        w.claims.indexes = [{ClaimKey(s): [claim] for s, claim in case.other_claims.items()}]
        body = await w.put("t", case.spec, resolved(case.annotations), resolved(case.status))
        again = await w.reconciler.reconcile(body, kopf.Patch(), logger=LOG)
        after = await w.get("t")
    assert twilio.calls == case.calls
    assert (again is not None) == case.retries
    conditions = {c["type"]: c for c in after.get("status", {}).get("conditions", [])}
    if case.ready:
        assert conditions["Ready"]["reason"] == case.ready, conditions
    if case.synced:
        assert conditions["Synced"]["reason"] == case.synced, conditions
    assert w.posted() == case.events
    annotations = after["metadata"].get("annotations") or {}
    if case.sid:
        assert annotations.get(EXTERNAL_NAME) == case.sid
        assert after["status"]["sid"] == case.sid
    assert (CREATE_PENDING in annotations) == case.pending_after
    if case.twilio_after is not None:
        assert set(twilio.objects) == case.twilio_after


@dataclass
class Deletion:
    name: str
    spec: dict[str, Any] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    other_claims: dict[str, Claim] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    events: list[str] = field(default_factory=list)


DELETIONS = [
    Deletion("Delete deletes in Twilio", calls=["delete:Delete"]),
    Deletion("Orphan leaves it", spec={"deletionPolicy": "Orphan"}, calls=["delete:Orphan"]),
    Deletion("paused: left as it is", annotations={PAUSED: "true"}, events=["DeletedWhilePaused"]),
    Deletion(
        "a refused adopter does not apply its policy to someone else's object",
        other_claims={sid(1): Claim("other-uid", True, "2020-01-01T00:00:00Z")},
        events=["NotOwner"],
    ),
]


@pytest.mark.parametrize("case", DELETIONS, ids=lambda c: c.name)
async def test_deletion(case: Deletion) -> None:
    twilio = FakeTwilio()
    twilio.objects[sid(1)] = {"friendly_name": NAME, "color": "grey", "created_at": utcnow()}
    settings = Settings(account_sid=PARENT, auth_token="x")  # type: ignore[arg-type]
    async with world(settings, twilio) as w:
        w.claims.indexes = [{ClaimKey(s): [claim] for s, claim in case.other_claims.items()}]
        annotations = resolved({EXTERNAL_NAME: sid(1), CREATE_SUCCEEDED: ago(60), **case.annotations})
        body = await w.put("t", case.spec, annotations, {"sid": sid(1)})
        await w.reconciler.finalize(body, kopf.Patch(), logger=LOG)
        assert twilio.calls == case.calls
        assert w.posted() == case.events


@pytest.mark.parametrize(
    ("spec", "needed"),
    [({}, True), ({"deletionPolicy": "Delete"}, True), ({"deletionPolicy": "Orphan"}, False)],
)
async def test_a_create_adds_the_finalizer_only_where_deletion_acts(
    spec: dict[str, Any], needed: bool
) -> None:
    twilio = FakeTwilio()
    settings = Settings(account_sid=PARENT, auth_token="x")  # type: ignore[arg-type]
    async with world(settings, twilio) as w:
        body = await w.put("t", spec, {}, {})
        await w.reconciler.reconcile(body, kopf.Patch(), logger=LOG)
        after = await w.get("t")
    assert (FINALIZER in (after["metadata"].get("finalizers") or [])) == needed


async def test_a_pass_whose_object_is_deleted_meanwhile_ends_quietly() -> None:
    settings = Settings(account_sid=PARENT, auth_token="x")  # type: ignore[arg-type]
    async with world(settings, FakeTwilio()) as w:
        kind = w.reconciler.kind
        assert isinstance(kind, ThingKind)
        kind.hold_up = asyncio.Event()
        body = await w.put("t", {}, {}, {})
        passing = asyncio.create_task(w.reconciler.reconcile(body, kopf.Patch(), logger=LOG))
        await asyncio.wait_for(kind.waiting.wait(), 5)
        await w.kube.delete(w.path("t"))  # no finalizer: gone at once, while its pass goes on
        kind.hold_up.set()
        await asyncio.wait_for(passing, 10)  # its status has nowhere to go: no error, nothing raised
        assert await w.kube.get(w.path("t")) is None


async def test_forgetting_an_object_drops_its_lock() -> None:
    settings = Settings(account_sid=PARENT, auth_token="x")  # type: ignore[arg-type]
    async with world(settings, FakeTwilio()) as w:
        body = await w.put("t", {}, {}, {})
        await w.reconciler.reconcile(body, kopf.Patch(), logger=LOG)
        assert len(w.reconciler.locks) == 1
        w.reconciler.forget(body)
        assert len(w.reconciler.locks) == 0


async def test_a_drift_pass_with_a_body_from_before_the_create_reads_the_object_again() -> None:
    # The drift timer took the object's body when it was applied; its pass waited for the lock while the
    # first pass created and recorded the Twilio object, and the watch caught up meanwhile. Acting on the
    # old body (no SID in it) would create a second Twilio object.
    settings = Settings(account_sid=PARENT, auth_token="x")  # type: ignore[arg-type]
    twilio = FakeTwilio()
    async with world(settings, twilio) as w:
        applied = await w.put("t", {}, {}, {})
        await w.reconciler.reconcile(applied, kopf.Patch(), logger=LOG)
        w.reconciler.seen(kopf.Body(await w.get("t")))  # the watch delivered the pass's last write
        await w.reconciler.drift_pass(applied)
    assert twilio.calls.count("create") == 1, twilio.calls
