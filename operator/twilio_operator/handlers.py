"""kopf wiring only: the kinds in the registry, the objects they follow and the Secrets they own.

For every resource kopf watches there is one index handler (what the operator knows of its objects, filled by
kopf before any other handler runs: reconcile/indexes.py) and one event handler (it wakes whatever depends on
a change). For every kind there are the change handlers that run a reconcile pass and the deletion handler.
Nothing here names a kind: reconcile/registry.py does.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any

import kopf
from pydantic import ValidationError

from . import API_VERSION, metrics
from .kube.client import Credentials, KubeClient
from .kube.peering import PeeringConfig, PeeringGate
from .kube.secrets import MANAGED_BY, OPERATOR, secret_path
from .reconcile import conditions as c
from .reconcile.entry import KindEntry, Services
from .reconcile.handled import HandledRecord
from .reconcile.indexes import Claim, ClaimKey, Claims, Followed, NameKey, Referrer, RefKey, referrers
from .reconcile.managed import Reconciler
from .reconcile.model import CREATE_PENDING, EXTERNAL_NAME
from .reconcile.registry import REGISTRY, followed
from .reconcile.scheduler import DriftScheduler
from .settings import Settings
from .twilio.gateway import TwilioGateway

OWNED_SECRETS = f"{MANAGED_BY}={OPERATOR}"


def index_id(plural: str, group: str) -> str:
    return f"index.{plural}.{group or 'core'}"


@dataclass
class Runtime:
    """What handlers share; built when the operator starts, kept in kopf's memo."""

    services: Services
    reconcilers: dict[str, Reconciler[Any, Any, Any]]
    schedulers: dict[str, DriftScheduler]
    gate: PeeringGate
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    started: bool = False
    # The last view of every followed object, to tell a change that matters from one that does not.
    views: dict[tuple[str, str, str], Hashable] = field(default_factory=dict)

    def kick(self, uids: Iterable[str]) -> None:
        """A pass now for each of these objects, whatever their kind."""
        for uid in uids:
            for scheduler in self.schedulers.values():
                scheduler.kick(uid)

    def start(self) -> None:
        """Start the drift timers. Called from inside a watch handler, whose context carries kopf's event
        queue, so drift passes post Events the way handlers do."""
        if self.started:
            return
        self.started = True
        self.gate.start()
        self.tasks.add(asyncio.create_task(self._follow_credentials()))
        for scheduler in self.schedulers.values():
            task = asyncio.create_task(scheduler.run())
            self.tasks.add(task)

    async def _follow_credentials(self) -> None:
        """While Twilio refuses the operator's credentials, look at them every two seconds: the objects that
        wait on them get a pass as soon as they change (a rotated Secret is a mounted file that changes)."""
        http = self.services.gateway.http
        while True:
            await asyncio.sleep(2.0)
            if http.rejected is None or self.services.settings.credentials() == http.rejected:
                continue
            http.rejected = None

            def waiting(body: kopf.Body) -> bool:
                return (c.get(dict(body.get("status") or {}), c.SYNCED) or {}).get(
                    "reason"
                ) == c.CREDENTIALS_REJECTED

            for scheduler in self.schedulers.values():
                scheduler.kick_where(waiting)

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        for scheduler in self.schedulers.values():
            await scheduler.stop()
        await self.gate.stop()
        await self.services.gateway.close()
        await self.services.kube.close()

    def followed_changed(self, target: Followed[Any], event: kopf.RawEvent) -> None:
        """Wake the objects that refer to a followed object when what is known of it changed."""
        meta = event["object"].get("metadata") or {}
        namespace, name = str(meta.get("namespace")), str(meta.get("name"))
        key = (target.plural, namespace, name)
        missing = object()
        before = self.views.get(key, missing)
        now = None if event["type"] == "DELETED" else target.view(event["object"])
        if now is None:
            self.views.pop(key, None)
        else:
            self.views[key] = now
        # The initial listing (type None) changes nothing anyone waits for: every object gets its own pass.
        if event["type"] is None or before == now:
            return
        self.services.directory(target).changed(namespace, name)
        names = {name}
        if target.aliases is not None:
            for seen in (before, now):
                if seen is not missing and seen is not None:
                    names.update(target.aliases(seen))
        indexes = self.services.kind_indexes
        self.kick(r.uid for each in names for r in referrers(indexes, target.plural, namespace, each))


def login(settings: kopf.OperatorSettings) -> kopf.ConnectionInfo | None:
    """The credentials of a pod's service account, else of the kubeconfig (what kopf's own helpers read)."""
    return kopf.login_with_service_account(settings=settings) or kopf.login_with_kubeconfig(settings=settings)


def register(
    registry: kopf.OperatorRegistry,
    settings: Settings,
    handled: HandledRecord,
    peering: PeeringConfig | None = None,
) -> frozenset[str]:
    """Register every handler; returns the ids of those that run for every watch event (whose success
    lines say nothing)."""
    credentials = Credentials()
    targets = followed()
    kind_ids = [index_id(e.kind.plural, e.kind.group) for e in REGISTRY]

    @kopf.on.login(id="login", registry=registry)
    async def logged_in(settings: kopf.OperatorSettings, **_: Any) -> kopf.ConnectionInfo:
        info = login(settings)
        if info is None:
            raise kopf.PermanentError("no Kubernetes credentials: set KUBECONFIG or run in a cluster")
        # Our own client follows kopf's logins (kopf logs in again when the API server refuses it).
        credentials.update(info, functools.partial(login, settings))
        return info

    @kopf.on.startup(id="startup", registry=registry)
    async def startup(memo: kopf.Memo, **indexes: Any) -> None:
        services = Services(settings, TwilioGateway(settings), KubeClient(credentials))
        for target in targets:
            services.directory(target).index = indexes[index_id(target.plural, target.group)]
        services.kind_indexes = [indexes[i] for i in kind_ids]
        claims = Claims()
        claims.indexes = services.kind_indexes
        reconcilers = {e.kind.plural: Reconciler(e, services, claims, handled) for e in REGISTRY}
        gate = PeeringGate(services.kube, peering)
        schedulers = {
            plural: DriftScheduler(reconciler.drift_pass, reconciler.due_in, gate.wait_open)
            for plural, reconciler in reconcilers.items()
        }
        memo.runtime = Runtime(services, reconcilers, schedulers, gate)

    @kopf.on.cleanup(id="cleanup", registry=registry)
    async def cleanup(memo: kopf.Memo, **_: Any) -> None:
        runtime: Runtime | None = memo.get("runtime")
        if runtime is not None:
            await runtime.stop()

    watchers: set[str] = set()
    for entry in REGISTRY:
        watchers |= _register_kind(registry, settings, entry)
    kinds = {(e.kind.group, e.kind.plural) for e in REGISTRY}
    for target in targets:
        if (target.group, target.plural) not in kinds:
            watchers |= _register_followed(registry, target)
    if any(e.owns_secrets for e in REGISTRY):
        watchers.add(_register_secrets(registry))
    return frozenset(watchers)


def _register_followed(registry: kopf.OperatorRegistry, target: Followed[Any]) -> set[str]:
    """A resource our kinds refer to but do not own (an Ingress): its views, and waking on a change."""
    ident = index_id(target.plural, target.group)
    api = f"{target.group}/{target.version}" if target.group else target.version

    def index(body: kopf.Body, **_: Any) -> dict[Any, Any]:
        return {NameKey(str(body.metadata.namespace), str(body.metadata.name)): target.view(body)}

    async def changed(event: kopf.RawEvent, memo: kopf.Memo, **_: Any) -> None:
        memo.runtime.followed_changed(target, event)

    kopf.index(api, target.plural, id=ident, registry=registry)(index)
    kopf.on.event(api, target.plural, id=f"follow.{target.plural}", registry=registry)(changed)
    return {ident, f"follow.{target.plural}"}


def _register_secrets(registry: kopf.OperatorRegistry) -> str:
    """The Secrets the operator wrote (labelled, so only those are listed): a change someone else makes to
    one, or its deletion, brings its owner a pass now instead of at its next drift check."""

    async def changed(event: kopf.RawEvent, memo: kopf.Memo, **_: Any) -> None:
        if event["type"] is None:
            return  # the initial listing: every owner gets its own pass anyway
        obj = event["object"]
        meta = obj.get("metadata") or {}
        path = secret_path(str(meta.get("namespace")), str(meta.get("name")))
        runtime: Runtime = memo.runtime
        if event["type"] != "DELETED" and runtime.services.kube.wrote(path, obj):
            return  # this process's own write
        owners = kopf.Body(obj).metadata.get("ownerReferences") or []
        runtime.kick(str(ref.get("uid")) for ref in owners if ref.get("apiVersion") == API_VERSION)

    kopf.on.event("v1", "secrets", id="secrets", labels={MANAGED_BY: OPERATOR}, registry=registry)(changed)
    return "secrets"


def _register_kind(
    registry: kopf.OperatorRegistry, settings: Settings, entry: KindEntry[Any, Any, Any]
) -> set[str]:
    kind = entry.kind
    plural = kind.plural
    ident = index_id(plural, kind.group)

    def index(body: kopf.Body, **_: Any) -> dict[Any, Any]:
        meta, status = body.metadata, body.get("status") or {}
        namespace, name = str(meta.namespace), str(meta.name)
        keys: dict[Any, Any] = {}
        sid = (meta.annotations or {}).get(EXTERNAL_NAME) or status.get("sid")
        if sid:
            since = str(meta.get("creationTimestamp") or "")
            keys[ClaimKey(sid)] = Claim(str(meta.uid), status.get("sid") == sid, since)
        if entry.references:
            try:
                spec = kind.spec.model_validate(dict(body.get("spec") or {}))
            except ValidationError:
                spec = None  # reported by its pass; it follows nothing until it parses
            referrer = Referrer(str(meta.uid), status.get("accountSid"))
            for reference in entry.references if spec is not None else ():
                for target in reference.names(spec):
                    keys[RefKey(reference.target.plural, namespace, target)] = referrer
        if entry.followed is not None:
            keys[NameKey(namespace, name)] = entry.followed.view(body)
        return keys

    async def tracked(event: kopf.RawEvent, memo: kopf.Memo, **_: Any) -> None:
        runtime: Runtime = memo.runtime
        runtime.start()
        obj = event["object"]
        body = kopf.Body(obj)
        uid = str(body.metadata.uid)
        gone = event["type"] == "DELETED"
        status = obj.get("status") or {}
        scheduler, reconciler = runtime.schedulers[plural], runtime.reconcilers[plural]
        scheduler.track(uid, None if gone else body)
        if gone:
            reconciler.forget(body)
        else:
            reconciler.seen(body)
        metrics.OBJECT_COUNTS.observe(kind.kind, uid, (c.get(status, c.READY) or {}).get("status"), gone=gone)
        if entry.watched is not None:
            entry.watched(obj, gone)
        named = (body.metadata.annotations or {}).get(EXTERNAL_NAME)
        # kopf's diff leaves external-name out (it is mostly our own bookkeeping); a SID set by someone
        # else on an object that already has one is acted on now, by a pass of its own.
        foreign = named != status.get("sid") and reconciler.recorded.get(uid) != named
        if named and status.get("sid") and foreign and not gone:
            scheduler.kick(uid)
        if entry.followed is not None:
            runtime.followed_changed(entry.followed, event)

    async def reconcile(
        body: kopf.Body,
        patch: kopf.Patch,
        logger: Any,
        old: kopf.BodyEssence | None,
        new: kopf.BodyEssence | None,
        memo: kopf.Memo,
        **_: Any,
    ) -> None:
        runtime: Runtime = memo.runtime
        # What kopf will record as handled when this handler succeeds (nothing when it already has).
        handled = new if new is not None and new != old else None
        again = await runtime.reconcilers[plural].reconcile(body, patch, logger, handled)
        if again is not None:
            # Waiting or retrying is the drift timer's to schedule: the handler itself succeeded.
            runtime.schedulers[plural].retry(str(body.metadata.uid), again)

    def needs_finalizer(
        spec: kopf.Spec, annotations: kopf.Annotations, status: kopf.Status, **_: Any
    ) -> bool:
        # Only once a Twilio object may exist: a create's journal entry adds the finalizer in the same write,
        # so kopf is not asked for a write of its own before the first pass.
        exists = EXTERNAL_NAME in annotations or CREATE_PENDING in annotations or bool(status.get("sid"))
        return exists and entry.finalizer_needed(spec)

    async def finalize(
        body: kopf.Body, patch: kopf.Patch, logger: Any, retry: int, memo: kopf.Memo, **_: Any
    ) -> None:
        await memo.runtime.reconcilers[plural].finalize(body, patch, logger, retry)

    api = (kind.group, kind.version, plural)
    common: dict[str, Any] = {"registry": registry, "backoff": settings.backoff_base}
    kopf.index(*api, id=ident, registry=registry)(index)
    kopf.on.event(*api, id=f"track.{plural}", registry=registry)(tracked)
    kopf.on.resume(*api, id="reconcile", **common)(reconcile)
    kopf.on.create(*api, id="reconcile", **common)(reconcile)
    kopf.on.update(*api, id="reconcile", **common)(reconcile)
    kopf.on.delete(*api, id="finalize", when=needs_finalizer, **common)(finalize)
    # The change handlers too: a line per handled event says nothing a pass's own log line does not.
    return {ident, f"track.{plural}", "reconcile"}
