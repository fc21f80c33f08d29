"""The generic managed-resource reconcile: conditions, pause, adoption, leak-proof create, drift, deletion.

Every trigger (create, update, resume, the drift timer) runs the same level-based pass: compare what the spec
wants with what Twilio has, do the least to converge, and report it in Ready/Synced. Kinds only say how to
observe, create, update and delete their Twilio object.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
import zlib
from collections.abc import AsyncIterator
from typing import Any, TypeVar, cast

import kopf

from .. import metrics
from ..kube import events
from ..kube.client import KubeClient, KubeError, NotFoundError, resource_path
from ..settings import Settings
from ..twilio.errors import AuthError, NotFound, RateLimited, Terminal, TwilioError, UnexpectedResponse
from ..twilio.gateway import backoff
from . import conditions as c
from .handled import FIELD as HANDLED_FIELD
from .handled import HandledRecord
from .model import (
    CREATE_PENDING,
    CREATE_SUCCEEDED,
    EXTERNAL_NAME,
    FINALIZER,
    PAUSED,
    POLL_INTERVAL,
    RECONCILE_REQUESTED_AT,
    External,
    ManagedKind,
    Observed,
    Outcome,
    Resource,
)
from .references import Claim, ClaimRegistry

D = TypeVar("D")
log = logging.getLogger(__name__)

# Twilio stamps creation times with second precision and its clock is not ours: allow this much skew when
# matching an interrupted create with what Twilio holds.
CLOCK_SKEW = datetime.timedelta(minutes=2)


class Locks:
    """One pass at a time per object: kopf runs timers concurrently with change handlers."""

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}

    @contextlib.asynccontextmanager
    async def hold(self, uid: str) -> AsyncIterator[None]:
        lock = self._locks.setdefault(uid, asyncio.Lock())
        async with lock:
            yield

    def forget(self, uid: str) -> None:
        self._locks.pop(uid, None)


def poll_interval(value: str | None) -> float | None:
    """Seconds from a poll-interval annotation: plain seconds or 30s / 5m / 1h."""
    if not value:
        return None
    units = {"s": 1, "m": 60, "h": 3600}
    try:
        if value[-1] in units:
            return float(value[:-1]) * units[value[-1]]
        return float(value)
    except ValueError:
        return None


def known_sids(resource: Resource) -> set[str]:
    status = resource.status
    sids = {resource.annotations.get(EXTERNAL_NAME), status.get("sid")}
    sids.add((status.get("rotation") or {}).get("previousSid"))
    return {s for s in sids if s}


def parse_time(value: str | None) -> datetime.datetime | None:
    if not value:
        return None
    try:
        return datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _steady(resource: Resource) -> bool:
    """Nothing is asked of this pass but a drift check: the spec was acted on, the last pass succeeded,
    and no resync was requested (a requested one reads every object afresh)."""
    status = resource.status
    return (
        status.get("observedGeneration") == resource.generation
        and c.is_true(status, c.SYNCED)
        and resource.annotations.get(RECONCILE_REQUESTED_AT) == status.get("lastHandledReconcileAt")
    )


class Reconciler:
    """Runs passes for any kind; one instance per operator process."""

    def __init__(
        self,
        settings: Settings,
        kube: KubeClient,
        api_version: str,
        plural: str,
        claims: ClaimRegistry,
        *,
        kind: str,
        handled: HandledRecord,
    ) -> None:
        self.settings = settings
        self.claims = claims
        self.kube = kube
        self.api_version = api_version
        self.plural = plural
        # The metrics' kind label, e.g. ApiKey.
        self.kind_name = kind
        self.locks = Locks()
        self.handled = handled
        # SIDs this process recorded in external-name, so the event they cause is recognised as ours.
        self.recorded: dict[str, str] = {}
        # The resourceVersion each object had after this process's last write to it.
        self.written: dict[str, str] = {}
        # Objects whose watch has delivered that version: every body seen since is at least as new.
        self.caught_up: set[str] = set()

    def _path(self, resource: Resource) -> str:
        return resource_path(self.api_version, self.plural, resource.namespace, resource.name)

    async def annotate(self, resource: Resource, annotations: dict[str, str | None]) -> None:
        """Write annotations now, not at the end of the pass: they are the leak-proof create's journal."""
        await self._patch(resource, "", {"metadata": {"annotations": annotations}})

    async def _patch(self, resource: Resource, subresource: str, body: dict[str, Any]) -> None:
        """A merge patch, retried on conflicts and API-server errors (a merge patch is safe to repeat)."""
        attempt = 0
        while True:
            try:
                written = await self.kube.merge_patch(self._path(resource) + subresource, body)
                version = (written or {}).get("metadata", {}).get("resourceVersion")
                if version:
                    self.written[resource.uid] = str(version)
                    self.caught_up.discard(resource.uid)
                return
            except KubeError as error:
                if attempt >= 3 or (error.status < 500 and error.status != 409):
                    raise
            attempt += 1
            await asyncio.sleep(backoff(attempt, 0.2, 2.0))

    def forget(self, uid: str) -> None:
        """The object is gone."""
        self.written.pop(uid, None)
        self.caught_up.discard(uid)
        self.recorded.pop(uid, None)
        self.handled.forget(uid)

    def seen(self, uid: str, version: str | None) -> None:
        """The watch delivered this version of the object (watch events come in the order of writes)."""
        if version is not None and self.written.get(uid) == version:
            self.caught_up.add(uid)

    async def _current(self, resource: Resource) -> Resource | None:
        """The object as it is now, at least as new as this process's last write to it; None if gone.

        Under load kopf (and the watch feeding the drift timer) hand over bodies seconds old, older than this
        process's own last writes (a recorded SID): acting on one would create twice. A body whose version
        is the one our last write produced, or that came after the watch delivered that version, is current;
        any other is re-read.
        """
        version = resource.body.metadata.get("resourceVersion")
        last = self.written.get(resource.uid)
        if last is None or version == last or resource.uid in self.caught_up:
            return resource
        fresh = await self.kube.get(self._path(resource))
        if fresh is None or fresh["metadata"].get("uid") != resource.uid:
            return None
        return Resource(kopf.Body(cast(kopf.RawBody, fresh)), resource.patch, resource.logger)

    # --- the pass ------------------------------------------------------------------------------------

    async def reconcile(
        self,
        kind: ManagedKind[D],
        resource: Resource,
        retry: int = 0,
        handled: kopf.BodyEssence | None = None,
    ) -> None:
        """A pass for a kopf handler; `handled` is what kopf records as handled when the handler succeeds."""
        async with self.locks.hold(resource.uid):
            current = await self._current(resource)
            if current is None:
                return
            resource = current
            try:
                await self._reconcile(kind, resource, retry)
            except BaseException:
                await self._flush_status(resource)
                raise
            await self._flush_status(resource, handled)

    async def _flush_status(self, resource: Resource, handled: kopf.BodyEssence | None = None) -> None:
        """Write the pass's status while still holding the object's lock.

        Left to kopf, the status would land after the lock is released, and a drift pass in between would
        act on the previous pass's status (and, say, rotate a key twice). A successful handler's status
        carries kopf's record of what it handled, which kopf would otherwise write in a request of its own.
        """
        status = resource.patch.pop("status", None)
        record = None if handled is None else self.handled.encode(handled)
        if record is not None:
            status = {**(status or {}), HANDLED_FIELD: record}
        if not status:
            return
        try:
            await self._patch(resource, "/status", {"status": status})
        except NotFoundError:
            # The object was deleted during the pass: there is nobody left to report to.
            return
        if record is not None:
            self.handled.carried(resource.uid, record)

    async def drift_pass(self, kind: ManagedKind[D], body: kopf.Body) -> float | None:
        """A pass outside kopf's handlers (the drift timer); returns a retry delay, or None when settled."""
        uid = str(body.metadata.uid)
        async with self.locks.hold(uid):
            # Under the lock: a handler may have just recorded a create the watch hasn't shown yet.
            resource = await self._current(Resource(body, kopf.Patch(), log))
            if resource is None or resource.body.metadata.get("deletionTimestamp"):
                return None
            try:
                await self._reconcile(kind, resource, 0)
            except kopf.TemporaryError as error:
                return error.delay
            finally:
                await self._flush_status(resource)
            return None

    async def _reconcile(self, kind: ManagedKind[D], resource: Resource, retry: int) -> None:
        with metrics.reconcile_pass(self.kind_name) as result:
            await self._pass(kind, resource, retry, result)

    async def _pass(
        self, kind: ManagedKind[D], resource: Resource, retry: int, result: metrics.PassResult
    ) -> None:
        updates: dict[str, c.Cond] = {}
        status: dict[str, Any] = {}
        requeue: float | None = None
        transient = False
        if resource.annotations.get(PAUSED) == "true":
            updates[c.SYNCED] = c.Cond.false(c.RECONCILE_PAUSED, f"the {PAUSED} annotation is set")
            self._write_status(resource, updates, status)
            result.set(metrics.PAUSED, c.RECONCILE_PAUSED)
            return
        try:
            desired = await kind.desired(resource, self)
            external = kind.external(desired)
            observed, created = await self._observe_or_create(kind, resource, desired, external)
            status["sid"] = observed.sid
            problem = external.check(observed)
            if problem is not None:
                raise problem
            observed = await self._converge(resource, desired, external, observed, created)
            try:
                observed = await kind.publish(resource, desired, observed, created, self)
            except Outcome:
                # The object exists and converged; what publish reports (a sender refused, say) is partial.
                status.update(kind.status(observed))
                raise
            status["sid"] = observed.sid
            status.update(kind.status(observed))
            updates[c.READY] = c.Cond.true(c.AVAILABLE)
            updates[c.SYNCED] = c.Cond.true(c.RECONCILE_SUCCESS)
        except Outcome as outcome:
            if outcome.ready:
                updates[c.READY] = outcome.ready
            if outcome.synced:
                updates[c.SYNCED] = outcome.synced
            requeue = outcome.retry
        except Terminal as error:
            updates[c.SYNCED] = c.Cond.false("TwilioRejected", _describe(error))
            if not resource.status.get("sid") and "sid" not in status:
                updates[c.READY] = c.Cond.false(c.UNAVAILABLE, "the Twilio object could not be created")
        except (TwilioError, KubeError) as error:
            transient = True
            message = _describe(error) if isinstance(error, TwilioError) else f"Kubernetes API: {error}"
            unexpected = isinstance(error, UnexpectedResponse)
            updates[c.SYNCED] = c.Cond.false(
                c.UNEXPECTED_RESPONSE if unexpected else c.RECONCILE_ERROR, message
            )
            if not resource.status.get("sid") and "sid" not in status:
                updates[c.READY] = c.Cond.false(c.CREATING, "waiting for Twilio")
            requeue = backoff(retry, self.settings.backoff_base * 4, self.settings.backoff_max)
            if isinstance(error, RateLimited) and error.retry_after:
                requeue = max(requeue, error.retry_after)
            if isinstance(error, AuthError):
                requeue = max(requeue, 10.0)
        self._write_status(resource, updates, status)
        result.set(*_result(updates, requeue, transient))
        if requeue is not None:
            reason = updates.get(c.SYNCED) or updates.get(c.READY)
            raise kopf.TemporaryError(reason.message if reason else "retrying", delay=max(requeue, 0.5))

    async def announce(self, resource: Resource, outcome: Outcome) -> None:
        """Publish conditions right away (a pass about to wait for something), via the status subresource."""
        updates = {k: v for k, v in ((c.READY, outcome.ready), (c.SYNCED, outcome.synced)) if v is not None}
        conditions = c.merge(resource.status.get("conditions"), updates, resource.generation)
        await self._patch(resource, "/status", {"status": {"conditions": conditions}})

    def due_in(
        self, kind: ManagedKind[Any], body: kopf.Body, synced: datetime.datetime | None = None
    ) -> float:
        """Seconds until the drift timer should run a pass. Pure: no API calls."""
        annotations = body.metadata.annotations or {}
        interval = poll_interval(annotations.get(POLL_INTERVAL)) or self.settings.drift_interval
        if annotations.get(PAUSED) == "true" or body.metadata.get("deletionTimestamp"):
            return interval
        status = dict(body.get("status") or {})
        last = synced or parse_time(status.get("lastSyncTime"))
        if last is None:
            # Never synced: kopf's create handler owns it; look again after one interval.
            return interval
        # A stable per-object spread, so objects created together don't drift-check together forever.
        spread = (zlib.crc32(str(body.metadata.uid).encode()) / 2**32 * 2 - 1) * self.settings.drift_jitter
        moments = [last + datetime.timedelta(seconds=interval * (1 + spread))]
        deadline = kind.deadline(status)
        if deadline is not None:
            moments.append(deadline)
        return max((min(moments) - utcnow()).total_seconds(), 0.0)

    def _write_status(self, resource: Resource, updates: dict[str, c.Cond], fields: dict[str, Any]) -> None:
        status = resource.patch.setdefault("status", {})
        status.update(fields)
        status["conditions"] = c.merge(resource.status.get("conditions"), updates, resource.generation)
        status["observedGeneration"] = resource.generation
        status["lastSyncTime"] = c.now_rfc3339()
        requested = resource.annotations.get(RECONCILE_REQUESTED_AT)
        if requested:
            status["lastHandledReconcileAt"] = requested

    async def _observe_or_create(
        self, kind: ManagedKind[D], resource: Resource, desired: D, external: External[D]
    ) -> tuple[Observed, bool]:
        annotations = resource.annotations
        sid = annotations.get(EXTERNAL_NAME) or resource.status.get("sid")
        pending = parse_time(annotations.get(CREATE_PENDING))
        if sid and pending is not None:
            # An interrupted replacement (a key rotation): the current object stands, extras go.
            await self._recover_interrupted_create(
                resource, desired, external, pending, keep=known_sids(resource)
            )
            await self.annotate(resource, {CREATE_PENDING: None})
        if sid:
            self._check_claim(resource, sid)
            try:
                return await external.observe(sid, steady=_steady(resource)), False
            except NotFound:
                created_at = parse_time(annotations.get(CREATE_SUCCEEDED))
                if created_at is None:
                    raise Outcome(
                        f"{sid} does not exist in Twilio",
                        ready=c.Cond.false(c.UNAVAILABLE, f"{sid} does not exist in Twilio"),
                        synced=c.Cond.false(
                            c.EXTERNAL_NOT_FOUND,
                            f"the adopted object {sid} does not exist in Twilio; remove the {EXTERNAL_NAME} "
                            "annotation to let the operator create a new one",
                        ),
                    ) from None
                if utcnow() - created_at < datetime.timedelta(seconds=self.settings.create_grace_period):
                    # Twilio is eventually consistent right after a create.
                    raise Outcome(
                        "created moments ago, not visible yet",
                        ready=c.Cond.false(c.CREATING, f"{sid} was just created"),
                        retry=2.0,
                    ) from None
                events.warning(
                    resource.body,
                    "ExternalDeleted",
                    f"{sid} was deleted outside the operator; creating a new one",
                )
        if pending is not None and not sid:
            adopted = await self._recover_interrupted_create(resource, desired, external, pending, keep=set())
            if adopted is not None:
                return adopted, False
        return await self._create(kind, resource, desired, external), True

    def _claim(self, resource: Resource, sid: str) -> Claim:
        # Only status proves the operator settled on a SID for this object: users can write annotations,
        # tenants are not granted the status subresource.
        return Claim(
            resource.uid,
            created=resource.status.get("sid") == sid,
            since=str(resource.body.metadata.get("creationTimestamp") or ""),
        )

    def owns(self, resource: Resource, sid: str) -> bool:
        return self.claims.owner(sid, self._claim(resource, sid)) == resource.uid

    def _check_claim(self, resource: Resource, sid: str) -> None:
        """Refuse to manage a SID another object manages: adopting someone else's object by annotation."""
        if not self.owns(resource, sid):
            message = f"{sid} is already managed by another object; one Twilio object has one owner"
            raise Outcome(
                message,
                ready=c.Cond.false(c.UNAVAILABLE, message),
                synced=c.Cond.false(c.ALREADY_MANAGED, message),
            )

    async def _recover_interrupted_create(
        self,
        resource: Resource,
        desired: D,
        external: External[D],
        pending: datetime.datetime,
        keep: set[str],
    ) -> Observed | None:
        """A previous pass meant to create and may have: find what it made before making anything."""
        found = [
            o
            for o in await external.find(desired, pending - CLOCK_SKEW)
            # What another object manages is never this object's lost create, whatever its name.
            if o.sid not in keep and self.owns(resource, o.sid)
        ]
        found.sort(key=lambda o: o.created_at or utcnow())
        adopted: Observed | None = None
        if external.adoptable and found:
            adopted, found = found[0], found[1:]
            await self.record(resource, adopted.sid, created=True)
            events.normal(resource.body, "Adopted", f"found {adopted.sid} from an interrupted create")
        for orphan in found:
            await self._discard_orphan(resource, external, orphan)
        return adopted

    async def _discard_orphan(self, resource: Resource, external: External[D], orphan: Observed) -> None:
        await external.discard(orphan)
        events.normal(
            resource.body,
            "OrphanDeleted",
            f"deleted {orphan.sid} left by an interrupted create",
        )

    async def _create(
        self, kind: ManagedKind[D], resource: Resource, desired: D, external: External[D]
    ) -> Observed:
        metadata: dict[str, Any] = {"annotations": {CREATE_PENDING: c.now_rfc3339(), EXTERNAL_NAME: None}}
        finalizers = list(resource.body.metadata.get("finalizers") or [])
        if kind.finalizer_needed(resource.spec) and FINALIZER not in finalizers:
            # Added with the journal entry, not before: until a Twilio object may exist, deleting the
            # object has nothing to wait for. (The whole list, as kopf writes it: a merge patch.)
            metadata["finalizers"] = [*finalizers, FINALIZER]
        await self._patch(resource, "", {"metadata": metadata})
        try:
            observed = await external.create(desired)
        except Terminal:
            # Twilio refused: nothing was created, so there is nothing to look for next time.
            await self.annotate(resource, {CREATE_PENDING: None})
            raise
        await self.record(resource, observed.sid, created=True)
        events.normal(resource.body, "Created", f"created {observed.sid} in Twilio")
        return observed

    async def record(self, resource: Resource, sid: str, *, created: bool) -> None:
        self.recorded[resource.uid] = sid
        marks: dict[str, str | None] = {EXTERNAL_NAME: sid, CREATE_PENDING: None}
        if created:
            marks[CREATE_SUCCEEDED] = c.now_rfc3339()
        await self.annotate(resource, marks)

    async def _converge(
        self, resource: Resource, desired: D, external: External[D], observed: Observed, created: bool
    ) -> Observed:
        fields = external.differences(desired, observed)
        if not fields:
            return observed
        observed = await external.update(desired, observed, fields)
        spec_changed = resource.status.get("observedGeneration") != resource.generation
        if not created and not spec_changed:
            events.drift_corrected(
                resource.body, f"corrected {', '.join(fields)} changed outside the operator"
            )
        elif not created:
            events.normal(resource.body, "Updated", f"updated {', '.join(fields)}")
        return observed

    # --- deletion ------------------------------------------------------------------------------------

    async def finalize(self, kind: ManagedKind[D], resource: Resource, retry: int = 0) -> None:
        async with self.locks.hold(resource.uid):
            with metrics.reconcile_pass(self.kind_name) as result:
                await self._finalize(kind, resource, retry, result)

    async def _finalize(
        self, kind: ManagedKind[D], resource: Resource, retry: int, result: metrics.PassResult
    ) -> None:
        sid = resource.annotations.get(EXTERNAL_NAME) or resource.status.get("sid")
        policy = kind.deletion_policy(resource.spec)
        if resource.annotations.get(PAUSED) == "true":
            events.warning(resource.body, "DeletedWhilePaused", f"left {sid} in Twilio as it is")
            result.set(metrics.PAUSED, "DeletedWhilePaused")
            return
        if sid and not self.owns(resource, sid):
            # A refused adopter: its deletion policy is not its to apply to someone else's object.
            events.warning(resource.body, "NotOwner", f"{sid} is managed by another object: left as it is")
            result.set(metrics.SUCCESS, "NotOwner")
            return
        pending = parse_time(resource.annotations.get(CREATE_PENDING))
        try:
            if pending is not None:
                await kind.delete_orphans(resource, pending - CLOCK_SKEW)
            if sid:
                await kind.delete(resource, sid, policy)
        except NotFound:
            pass
        except TwilioError as error:
            self._write_status(
                resource,
                {
                    c.READY: c.Cond.false(c.DELETING, f"{policy} of {sid} pending"),
                    c.SYNCED: c.Cond.false(c.RECONCILE_ERROR, _describe(error)),
                },
                {},
            )
            if isinstance(error, Terminal):
                result.set(metrics.REJECTED, "TwilioRejected")
                raise kopf.PermanentError(_describe(error)) from None
            result.set(metrics.ERROR, c.RECONCILE_ERROR)
            raise kopf.TemporaryError(_describe(error), delay=backoff(retry, 1.0, 60.0)) from None
        finally:
            self.recorded.pop(resource.uid, None)
        result.set(metrics.SUCCESS, "Deleted")
        self.locks.forget(resource.uid)


def _result(updates: dict[str, c.Cond], requeue: float | None, transient: bool) -> tuple[str, str]:
    """A pass's result and reason for the metrics; a wait is told by Ready (Synced only says "not yet")."""
    synced, ready = updates.get(c.SYNCED), updates.get(c.READY)
    if transient:
        result = metrics.ERROR
    elif requeue is not None:
        result = metrics.WAITING
        synced = ready or synced
    elif synced is not None and synced.status == "True":
        result = metrics.SUCCESS
    else:
        result = metrics.REJECTED
    reason = synced or ready
    return result, reason.reason if reason else ""


def _describe(error: TwilioError) -> str:
    code = f" (Twilio error {error.code})" if error.code else ""
    return f"{error.message}{code}"
