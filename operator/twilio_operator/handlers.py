"""kopf wiring only: which events of which resources call into reconcile/."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import kopf

from . import GROUP, VERSION, metrics
from .api.kinds import API_KEY, MESSAGING_SERVICE, SUBACCOUNT, Kind
from .kube.client import KubeClient
from .kube.ingress import IngressDirectory
from .reconcile import conditions as c
from .reconcile.apikey import ApiKeyKind
from .reconcile.handled import HandledRecord
from .reconcile.managed import Reconciler
from .reconcile.messagingservice import MessagingServiceKind, ingress_names
from .reconcile.model import CREATE_PENDING, EXTERNAL_NAME, ManagedKind, Resource
from .reconcile.references import ClaimRegistry, SubaccountDirectory
from .reconcile.scheduler import DriftScheduler
from .reconcile.subaccount import SubaccountKind
from .settings import Settings
from .twilio.gateway import TwilioGateway


@dataclass
class Runtime:
    """What handlers share; built at operator start, inside the running loop."""

    gateway: TwilioGateway
    kube: KubeClient
    plugs: dict[str, tuple[ManagedKind[Any], Reconciler]]
    schedulers: dict[str, DriftScheduler]


class State:
    """The login kopf performed and the runtime built from it."""

    def __init__(self) -> None:
        self.connection: kopf.ConnectionInfo | None = None
        self.runtime: Runtime | None = None
        self.directory = SubaccountDirectory()
        self.ingresses = IngressDirectory()
        self.claims = ClaimRegistry()
        self.tasks: set[asyncio.Task[None]] = set()
        self.started: set[DriftScheduler] = set()

    def plug(self, kind: Kind) -> tuple[ManagedKind[Any], Reconciler]:
        if self.runtime is None:
            raise kopf.TemporaryError("the operator is still starting", delay=1)
        return self.runtime.plugs[kind.plural]


# Handlers that run for every watch event and only update in-memory indexes.
TRACKER = "track"
WATCHERS = frozenset({TRACKER, "subaccount-index", "ingress-index"})


def register(registry: kopf.OperatorRegistry, settings: Settings, handled: HandledRecord) -> None:
    state = State()

    @kopf.on.login(registry=registry)
    async def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
        info = kopf.login_with_service_account(**kwargs) or kopf.login_with_kubeconfig(**kwargs)
        if info is None:
            raise kopf.PermanentError("no Kubernetes credentials: set KUBECONFIG or run in a cluster")
        state.connection = info
        if state.runtime is None:
            # kopf logs in before anything else runs; our own API client uses the same credentials.
            build_runtime(info)
        return info

    def build_runtime(info: kopf.ConnectionInfo) -> None:
        gateway = TwilioGateway(settings)
        kube = KubeClient(info)

        def reconciler(kind: Kind) -> Reconciler:
            return Reconciler(
                settings, kube, kind.api_version, kind.plural, state.claims, kind=kind.kind, handled=handled
            )

        plugs: dict[str, tuple[ManagedKind[Any], Reconciler]] = {
            SUBACCOUNT.plural: (SubaccountKind(gateway, kube), reconciler(SUBACCOUNT)),
            API_KEY.plural: (ApiKeyKind(gateway, kube, settings, state.directory), reconciler(API_KEY)),
            MESSAGING_SERVICE.plural: (
                MessagingServiceKind(gateway, settings, state.directory, state.ingresses),
                reconciler(MESSAGING_SERVICE),
            ),
        }
        schedulers = {
            plural: DriftScheduler(
                functools.partial(reconciler.drift_pass, managed),
                functools.partial(reconciler.due_in, managed),
            )
            for plural, (managed, reconciler) in plugs.items()
        }
        state.runtime = Runtime(gateway=gateway, kube=kube, plugs=plugs, schedulers=schedulers)

    @kopf.on.cleanup(registry=registry)
    async def cleanup(**_: Any) -> None:
        runtime, state.runtime = state.runtime, None
        for task in state.tasks:
            task.cancel()
        await asyncio.gather(*state.tasks, return_exceptions=True)
        if runtime is not None:
            for scheduler in runtime.schedulers.values():
                await scheduler.stop()
            await runtime.gateway.close()
            await runtime.kube.close()

    @kopf.on.event(GROUP, VERSION, SUBACCOUNT.plural, id="subaccount-index", registry=registry)
    async def subaccount_seen(event: kopf.RawEvent, **_: Any) -> None:
        # Children resolve their subaccountRef from this, and wait on it, without API calls.
        obj = event["object"]
        meta = obj.get("metadata") or {}
        deleted = event["type"] == "DELETED"
        namespace, name = str(meta.get("namespace")), str(meta.get("name"))
        flipped = state.directory.observe(namespace, name, None if deleted else dict(obj))
        if flipped and state.runtime is not None:
            # Suspended or resumed: its keys and services learn it now, not at their next drift pass.
            def child(body: kopf.Body) -> bool:
                ref = (body.get("spec") or {}).get("subaccountRef") or {}
                return body.metadata.namespace == namespace and ref.get("name") == name

            for plural in (API_KEY.plural, MESSAGING_SERVICE.plural):
                state.runtime.schedulers[plural].kick_where(child)

    @kopf.on.event("networking.k8s.io", "v1", "ingresses", id="ingress-index", registry=registry)
    async def ingress_seen(event: kopf.RawEvent, **_: Any) -> None:
        # Webhook URLs follow their Ingress: every service that references it gets a pass now.
        obj = event["object"]
        meta = obj.get("metadata") or {}
        gone = event["type"] == "DELETED"
        referrers = state.ingresses.observe(
            str(meta.get("namespace")), str(meta.get("name")), None if gone else dict(obj)
        )
        if state.runtime is not None:
            for uid in referrers:
                state.runtime.schedulers[MESSAGING_SERVICE.plural].kick(uid)

    for kind, needs_finalizer in (
        (SUBACCOUNT, SubaccountKind.finalizer_needed),
        (API_KEY, ApiKeyKind.finalizer_needed),
        (MESSAGING_SERVICE, MessagingServiceKind.finalizer_needed),
    ):
        _register_kind(registry, settings, kind, state, needs_finalizer)


def _register_kind(
    registry: kopf.OperatorRegistry,
    settings: Settings,
    kind: Kind,
    state: State,
    finalizer_needed: Callable[[dict[str, Any]], bool],
) -> None:
    async def reconcile(
        body: kopf.Body,
        patch: kopf.Patch,
        logger: Any,
        retry: int,
        old: kopf.BodyEssence | None,
        new: kopf.BodyEssence | None,
        **_: Any,
    ) -> None:
        managed, reconciler = state.plug(kind)
        # What kopf will record as handled when this handler succeeds (nothing when it already has).
        handled = new if new is not None and new != old else None
        await reconciler.reconcile(managed, Resource(body, patch, logger), retry, handled)

    async def seen(event: kopf.RawEvent, **_: Any) -> None:
        if state.runtime is None:
            return
        scheduler = state.runtime.schedulers[kind.plural]
        if scheduler not in state.started:
            # Started from inside a watch handler, whose context carries kopf's event queue, so drift
            # passes can post Events like handlers do.
            state.started.add(scheduler)
            state.tasks.add(asyncio.create_task(scheduler.run()))
        obj = event["object"]
        meta = obj.get("metadata") or {}
        uid = str(meta.get("uid"))
        status = obj.get("status") or {}
        gone = event["type"] == "DELETED"
        scheduler.track(uid, None if gone else kopf.Body(obj))
        reconciler = state.plug(kind)[1]
        if gone:
            reconciler.forget(uid)
        else:
            reconciler.seen(uid, meta.get("resourceVersion"))
        metrics.OBJECT_COUNTS.observe(kind.kind, uid, (c.get(status, c.READY) or {}).get("status"), gone=gone)
        annotations = meta.get("annotations") or {}
        named = annotations.get(EXTERNAL_NAME)
        # kopf's diff leaves external-name out (it is mostly our own bookkeeping); a SID set by someone
        # else on an object that already has one is acted on now, by a pass of its own.
        foreign = named != status.get("sid") and reconciler.recorded.get(uid) != named
        if named and status.get("sid") and foreign and not gone:
            scheduler.kick(uid)
        sid = None if gone else (named or status.get("sid"))
        settled = sid is not None and status.get("sid") == sid
        state.claims.observe(uid, sid, settled, str(meta.get("creationTimestamp") or ""))
        if kind is MESSAGING_SERVICE:
            names = None if gone else ingress_names(dict(obj.get("spec") or {}))
            state.ingresses.refer(uid, str(meta.get("namespace")), names)

    def needs_finalizer(
        spec: kopf.Spec, annotations: kopf.Annotations, status: kopf.Status, **_: Any
    ) -> bool:
        # Only once a Twilio object may exist: a create's journal entry adds the finalizer in the same write,
        # so kopf is not asked for a write of its own before the first pass.
        exists = EXTERNAL_NAME in annotations or CREATE_PENDING in annotations or bool(status.get("sid"))
        return exists and finalizer_needed(dict(spec))

    async def finalize(body: kopf.Body, patch: kopf.Patch, logger: Any, retry: int, **_: Any) -> None:
        managed, reconciler = state.plug(kind)
        await reconciler.finalize(managed, Resource(body, patch, logger), retry)

    common: dict[str, Any] = {"registry": registry, "backoff": settings.backoff_base}
    kopf.on.resume(GROUP, VERSION, kind.plural, id="reconcile", **common)(reconcile)
    kopf.on.create(GROUP, VERSION, kind.plural, id="reconcile", **common)(reconcile)
    kopf.on.update(GROUP, VERSION, kind.plural, id="reconcile", **common)(reconcile)
    kopf.on.delete(GROUP, VERSION, kind.plural, id="finalize", when=needs_finalizer, **common)(finalize)
    kopf.on.event(GROUP, VERSION, kind.plural, id=TRACKER, registry=registry)(seen)
