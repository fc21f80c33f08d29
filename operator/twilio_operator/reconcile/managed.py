"""The generic managed-resource reconcile: conditions, pause, adoption, leak-proof create, drift, deletion.

Every trigger (create, update, resume, the drift timer, a change of something the object follows) runs the
same level-based pass: compare what the spec wants with what Twilio has, do the least to converge, and report
it in Ready/Synced. Kinds only say how to observe, create, update and delete their Twilio object.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import random
import zlib
from collections.abc import Mapping
from typing import Any, Generic, cast

import kopf
from pydantic import ValidationError

from .. import metrics
from ..api.common import ManagedStatus
from ..clock import backoff, now_rfc3339, parse_time, utcnow
from ..kube import events
from ..kube.client import KubeClient, KubeError, NotFoundError, resource_path
from ..settings import Settings
from ..twilio.errors import (
    AuthError,
    CredentialsRejected,
    NotFound,
    RateLimited,
    Terminal,
    TwilioError,
    UnexpectedResponse,
)
from ..twilio.observed import Observed
from . import conditions as c
from . import marks, seal
from .entry import KindEntry, Services
from .handled import FIELD as HANDLED_FIELD
from .handled import HandledRecord
from .indexes import Claim, Claims
from .locks import Locks
from .model import (
    CREATE_PENDING,
    CREATE_SUCCEEDED,
    EXTERNAL_NAME,
    FINALIZER,
    PAUSED,
    RECONCILE_REQUESTED_AT,
    D,
    External,
    Outcome,
    Resource,
    S,
    T,
    digest,
)

log = logging.getLogger(__name__)

# Twilio stamps creation times with second precision and its clock is not ours: allow this much skew when
# matching an interrupted create with what Twilio holds.
CLOCK_SKEW = datetime.timedelta(minutes=2)
# The status fields every kind has; the rest of a kind's status model is the kind's own.
COMMON_STATUS = frozenset(ManagedStatus.model_fields)


def _steady(resource: Resource[Any, Any]) -> bool:
    """Nothing is asked of this pass but a drift check: the spec was acted on, the last pass succeeded,
    and no resync was requested (a requested one reads every object afresh)."""
    status = resource.status
    synced = next((cond for cond in status.conditions if cond.type == c.SYNCED), None)
    return (
        status.observed_generation == resource.generation
        and synced is not None
        and synced.status == "True"
        and resource.annotations.get(RECONCILE_REQUESTED_AT) == status.last_handled_reconcile_at
    )


class Reconciler(Generic[S, T, D]):
    """Runs the passes of one kind; one instance per kind per operator process."""

    def __init__(
        self,
        entry: KindEntry[S, T, D],
        services: Services,
        claims: Claims,
        handled: HandledRecord,
    ) -> None:
        self.entry = entry
        self.kind = entry.plug(services)
        self.settings: Settings = services.settings
        self.kube: KubeClient = services.kube
        self.claims = claims
        self.handled = handled
        self.locks = Locks()
        # The metrics' kind label, e.g. ApiKey.
        self.kind_name = entry.kind.kind
        # SIDs this process recorded in external-name, so the event they cause is recognised as ours.
        self.recorded: dict[str, str] = {}
        # Transient failures in a row, per object: the backoff before its next pass.
        self.failures: dict[str, int] = {}
        # Per object, the unreadable annotation values already reported (each is told once).
        self.told: dict[str, dict[str, str]] = {}
        # Objects (by path) whose watch has delivered the version this process's last write to them
        # produced (KubeClient.written): every body seen since is at least as new.
        self.caught_up: set[str] = set()
        # The version of each object the watch delivered last. A body handed over earlier (a drift pass
        # that waited for the lock while a pass wrote) is not made current by catching up later.
        self.newest: dict[str, str] = {}

    # --- reading an object ---------------------------------------------------------------------------

    def status_of(self, body: Mapping[str, Any]) -> T:
        """The object's status as its kind's model reads it."""
        raw = body.get("status") or {}
        model = self.entry.kind.status
        try:
            return cast(T, model.model_validate(dict(raw)))
        except ValidationError:
            # Status is written only by the operator, so this takes a schema change; what finds the Twilio
            # object again is kept, the rest is treated as never written.
            log.warning("unreadable %s status: reading only its SID", self.kind_name)
            return cast(T, model.model_construct(sid=raw.get("sid"), conditions=[]))

    def parse(self, body: kopf.Body, patch: kopf.Patch, logger: Any, status: T) -> Resource[S, T]:
        """The object with its spec parsed; an Outcome (InvalidSpec) when the spec does not parse, which the
        CRD's schema makes rare (the API server checks it first)."""
        try:
            spec = cast(S, self.entry.kind.spec.model_validate(dict(body.get("spec") or {})))
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            message = f"spec.{where}: {first['msg']}"
            raise Outcome(
                message,
                ready=c.Cond.false(c.UNAVAILABLE, message),
                synced=c.Cond.false(c.INVALID_SPEC, message),
            ) from None
        resource = Resource(body, patch, logger, spec, status)
        named = resource.annotations.get(EXTERNAL_NAME)
        if named:
            token = self.settings.credentials()[1]
            resource.made_here = seal.sealed(
                token, resource.uid, named, resource.annotations.get(CREATE_SUCCEEDED)
            )
        return resource

    def _path(self, body: kopf.Body) -> str:
        kind = self.entry.kind
        return resource_path(
            kind.api_version, kind.plural, str(body.metadata.namespace), str(body.metadata.name)
        )

    async def annotate(
        self,
        resource: Resource[Any, Any],
        annotations: dict[str, str | None],
        finalizers: list[str] | None = None,
    ) -> None:
        """Write annotations now, not at the end of the pass: they are the leak-proof create's journal."""
        metadata: dict[str, Any] = {"annotations": annotations}
        if finalizers is not None:
            metadata["finalizers"] = finalizers
        await self._patch(resource.body, "", {"metadata": metadata})
        for key, value in annotations.items():
            if value is None:
                resource.annotations.pop(key, None)
            else:
                resource.annotations[key] = value

    async def _patch(self, body: kopf.Body, subresource: str, patch: dict[str, Any]) -> None:
        """A merge patch, retried on conflicts and API-server errors (a merge patch is safe to repeat)."""
        path = self._path(body)
        attempt = 0
        while True:
            try:
                await self.kube.merge_patch(path, patch, subresource=subresource)
                self.caught_up.discard(path)
                return
            except KubeError as error:
                if attempt >= 3 or (error.status < 500 and error.status != 409):
                    raise
            attempt += 1
            await asyncio.sleep(backoff(attempt, 0.2, 2.0))

    def forget(self, body: kopf.Body) -> None:
        """The object is gone."""
        uid, path = str(body.metadata.uid), self._path(body)
        self.kube.written.pop(path, None)
        self.caught_up.discard(path)
        self.newest.pop(path, None)
        self.recorded.pop(uid, None)
        self.failures.pop(uid, None)
        self.told.pop(uid, None)
        self.handled.forget(uid)
        self.locks.forget(uid)

    def seen(self, body: kopf.Body) -> None:
        """The watch delivered this version of the object (watch events come in the order of writes)."""
        path = self._path(body)
        self.newest[path] = str(body.metadata.get("resourceVersion"))
        if self.kube.wrote(path, body):
            self.caught_up.add(path)

    async def _current(self, body: kopf.Body) -> kopf.Body | None:
        """The object as it is now, at least as new as this process's last write to it; None if gone.

        Under load kopf (and the watch feeding the drift timer) hand over bodies seconds old, older than this
        process's own last writes (a recorded SID): acting on one would create twice. A body whose version
        is the one our last write produced, or the newest the watch delivered once it had delivered that
        version, is current; any other is re-read (a drift pass's body, taken before it waited for the lock
        while a create pass wrote, would otherwise pass for current once the watch caught up).
        """
        uid, path = str(body.metadata.uid), self._path(body)
        last = self.kube.written.get(path)
        version = body.metadata.get("resourceVersion")
        newest = path in self.caught_up and version == self.newest.get(path)
        if last is None or version == last or newest:
            return body
        fresh = await self.kube.get(path)
        if fresh is None or fresh["metadata"].get("uid") != uid:
            return None
        return kopf.Body(cast(kopf.RawBody, fresh))

    # --- the pass ------------------------------------------------------------------------------------

    async def reconcile(
        self,
        body: kopf.Body,
        patch: kopf.Patch,
        logger: Any,
        handled: kopf.BodyEssence | None = None,
    ) -> float | None:
        """A pass for a kopf handler; `handled` is what kopf records as handled when the handler succeeds.
        Returns the delay after which the object needs another pass (a wait, a retry), if it does: the drift
        timer runs it, so kopf sees the handler succeed and logs no error for what is only waiting."""
        async with self.locks.hold(str(body.metadata.uid)):
            current = await self._current(body)
            if current is None:
                return None
            try:
                requeue = await self._reconcile(current, patch)
            except BaseException:
                await self._flush_status(current, patch)
                raise
            await self._flush_status(current, patch, handled)
            return requeue

    async def drift_pass(self, body: kopf.Body) -> float | None:
        """A pass outside kopf's handlers (the drift timer); returns a retry delay, or None when settled."""
        async with self.locks.hold(str(body.metadata.uid)):
            # Under the lock: a handler may have just recorded a create the watch hasn't shown yet.
            current = await self._current(body)
            if current is None or current.metadata.get("deletionTimestamp"):
                return None
            patch = kopf.Patch()
            try:
                return await self._reconcile(current, patch)
            finally:
                await self._flush_status(current, patch)

    async def _flush_status(
        self, body: kopf.Body, patch: kopf.Patch, handled: kopf.BodyEssence | None = None
    ) -> None:
        """Write the pass's status while still holding the object's lock.

        Left to kopf, the status would land after the lock is released, and a drift pass in between would
        act on the previous pass's status (and, say, rotate a key twice). A successful handler's status
        carries kopf's record of what it handled, which kopf would otherwise write in a request of its own.
        """
        status = patch.pop("status", None)
        record = None if handled is None else self.handled.encode(handled)
        if record is not None:
            status = {**(status or {}), HANDLED_FIELD: record}
        if not status:
            return
        try:
            await self._patch(body, "/status", {"status": status})
        except NotFoundError:
            # The object was deleted during the pass: there is nobody left to report to.
            return
        if record is not None:
            self.handled.carried(str(body.metadata.uid), record)

    async def _reconcile(self, body: kopf.Body, patch: kopf.Patch) -> float | None:
        with metrics.reconcile_pass(self.kind_name) as result:
            return await self._pass(body, patch, result)

    async def _pass(self, body: kopf.Body, patch: kopf.Patch, result: metrics.PassResult) -> float | None:
        status = self.status_of(body)
        logger = events.object_log(body)
        uid = str(body.metadata.uid)
        updates: dict[str, c.Cond] = {}
        fields: dict[str, Any] = {}
        requeue: float | None = None
        transient = False
        self._warn_unreadable(body)
        if marks.paused(body.metadata.annotations or {}):
            updates[c.SYNCED] = c.Cond.false(c.RECONCILE_PAUSED, f"the {PAUSED} annotation is set")
            # Not acted on: observedGeneration stays the generation the operator last reconciled.
            self._write_status(body, patch, status, updates, fields, acted=False)
            result.set(metrics.PAUSED, c.RECONCILE_PAUSED)
            return None
        try:
            resource = self.parse(body, patch, logger, status)
            async with self.kind.hold(resource):
                observed, own = await self._converge_all(resource, fields)
            fields["sid"] = observed.sid
            fields.update(self._own(own))
            updates[c.READY] = c.Cond.true(c.AVAILABLE)
            updates[c.SYNCED] = c.Cond.true(c.RECONCILE_SUCCESS)
        except Outcome as outcome:
            if outcome.ready:
                updates[c.READY] = outcome.ready
            if outcome.synced:
                updates[c.SYNCED] = outcome.synced
            if outcome.status is not None:
                fields.update(self._own(outcome.status))
            requeue = outcome.retry
        except CredentialsRejected as error:
            # Every object says so (it is why each is not synced); one log line a minute says it for all.
            transient = True
            updates[c.SYNCED] = c.Cond.false(c.CREDENTIALS_REJECTED, error.message)
            if not status.sid and "sid" not in fields:
                updates[c.READY] = c.Cond.false(c.CREDENTIALS_REJECTED, error.message)
            if _reason(status, c.SYNCED) != c.CREDENTIALS_REJECTED:
                events.warning(body, c.CREDENTIALS_REJECTED, error.message, quiet=True)
            self.failures[uid] = self.failures.get(uid, 0) + 1
            # Slowly: a person must fix them, and their change wakes every object that waits on them.
            requeue = min(300.0, 5.0 * 2 ** (self.failures[uid] - 1)) * random.uniform(0.8, 1.2)
        except Terminal as error:
            updates[c.SYNCED] = c.Cond.false(c.TWILIO_REJECTED, _describe(error))
            if not status.sid and "sid" not in fields:
                updates[c.READY] = c.Cond.false(c.UNAVAILABLE, "the Twilio object could not be created")
        except (TwilioError, KubeError) as error:
            transient = True
            message = _describe(error) if isinstance(error, TwilioError) else f"Kubernetes API: {error}"
            unexpected = isinstance(error, UnexpectedResponse)
            updates[c.SYNCED] = c.Cond.false(
                c.UNEXPECTED_RESPONSE if unexpected else c.RECONCILE_ERROR, message
            )
            if not status.sid and "sid" not in fields:
                updates[c.READY] = c.Cond.false(c.CREATING, "waiting for Twilio")
            self.failures[uid] = self.failures.get(uid, 0) + 1
            requeue = backoff(
                self.failures[uid] - 1, self.settings.backoff_base * 4, self.settings.backoff_max
            )
            if isinstance(error, RateLimited) and error.retry_after:
                requeue = max(requeue, error.retry_after)
            if isinstance(error, AuthError):
                requeue = max(requeue, 10.0)
        if not transient:
            self.failures.pop(uid, None)
        self._write_status(body, patch, status, updates, fields)
        outcome_of_pass = _result(updates, requeue, transient)
        result.set(*outcome_of_pass)
        _tell(logger, status, updates, outcome_of_pass[0])
        return None if requeue is None else max(requeue, 0.5)

    async def _converge_all(self, resource: Resource[S, T], fields: dict[str, Any]) -> tuple[Observed, T]:
        """What the spec wants, the Twilio object made or found and converged, then the kind's own steps."""
        desired = await self.kind.desired(resource, self)
        external = self.kind.external(desired)
        wanted = {name: digest(value) for name, value in external.values(desired).items()}
        before = resource.status.applied or {}
        resource.changed = {name for name, value in wanted.items() if before.get(name) != value}
        observed, created = await self._observe_or_create(resource, desired, external)
        fields["sid"] = observed.sid
        problem = self.kind.check(resource, observed)
        if problem is not None:
            raise problem
        observed = await self._converge(resource, desired, external, observed, created)
        # A merge patch: fields no longer managed are removed by null.
        fields["applied"] = {**dict.fromkeys(before.keys() - wanted.keys()), **wanted}
        return await self.kind.publish(resource, desired, observed, created, self)

    def _own(self, status: ManagedStatus) -> dict[str, Any]:
        """The kind's own status fields (not the common ones the pass sets), for a merge patch: a field that
        is None is sent as null, which removes it."""
        own = set(type(status).model_fields) - COMMON_STATUS
        return status.model_dump(mode="json", by_alias=True, include=own)

    def due_in(self, body: kopf.Body, synced: datetime.datetime | None = None) -> float:
        """Seconds until the drift timer should run a pass. Pure: no API calls."""
        notes = body.metadata.annotations or {}
        interval = marks.poll_interval(notes) or self.settings.drift_interval
        if marks.paused(notes) or body.metadata.get("deletionTimestamp"):
            return interval
        status = self.status_of(body)
        last = synced or parse_time(status.last_sync_time)
        if last is None:
            # Never synced: kopf's create handler owns it; look again after one interval.
            return interval
        # A stable per-object spread, so objects created together don't drift-check together forever.
        spread = (zlib.crc32(str(body.metadata.uid).encode()) / 2**32 * 2 - 1) * self.settings.drift_jitter
        moments = [last + datetime.timedelta(seconds=interval * (1 + spread))]
        deadline = self.kind.deadline(status)
        if deadline is not None:
            moments.append(deadline)
        return max((min(moments) - utcnow()).total_seconds(), 0.0)

    def _warn_unreadable(self, body: kopf.Body) -> None:
        """A Warning Event for each of our annotations whose value cannot be read, once per value."""
        uid = str(body.metadata.uid)
        told = self.told.setdefault(uid, {})
        notes = body.metadata.annotations or {}
        for key, message in marks.problems(notes).items():
            if told.get(key) != notes[key]:
                told[key] = notes[key]
                events.warning(body, "UnreadableAnnotation", message)
        for key in [k for k in told if told[k] != notes.get(k)]:
            del told[key]

    def _write_status(
        self,
        body: kopf.Body,
        patch: kopf.Patch,
        status: T,
        updates: dict[str, c.Cond],
        fields: dict[str, Any],
        acted: bool = True,
    ) -> None:
        generation = int(body.metadata.get("generation") or 0)
        out = patch.setdefault("status", {})
        out.update(fields)
        out["conditions"] = c.merge(status.conditions, updates, generation)
        if acted:
            out["observedGeneration"] = generation
        out["lastSyncTime"] = now_rfc3339()
        requested = (body.metadata.annotations or {}).get(RECONCILE_REQUESTED_AT)
        if requested:
            out["lastHandledReconcileAt"] = requested

    async def _observe_or_create(
        self, resource: Resource[S, T], desired: D, external: External[D]
    ) -> tuple[Observed, bool]:
        notes = resource.annotations
        sid = notes.get(EXTERNAL_NAME) or resource.status.sid
        pending = parse_time(notes.get(CREATE_PENDING))
        if sid and pending is not None:
            # An interrupted replacement (a key rotation, a new sink): the current object stands, extras go,
            # adoptable or not (adopting one would record it while this pass goes on with the current).
            keep = {s for s in (sid, resource.status.sid) if s} | self.kind.retained(resource.status)
            await self._recover_interrupted_create(
                resource, desired, external, pending, keep=keep, adopt=False
            )
            await self.annotate(resource, {CREATE_PENDING: None})
        if sid:
            self._check_claim(resource, sid)
            if notes.get(EXTERNAL_NAME) == sid != resource.status.sid and not resource.made_here:
                # Not made by this object, nor settled on: someone asks to adopt an existing object.
                refusal = self.kind.adoption_refused(resource, sid)
                if refusal is not None:
                    raise Outcome(
                        refusal,
                        ready=c.Cond.false(c.UNAVAILABLE, refusal),
                        synced=c.Cond.false(c.ADOPTION_NOT_ALLOWED, refusal),
                    )
            try:
                return await external.observe(sid, steady=_steady(resource)), False
            except NotFound:
                created_at = parse_time(seal.when(notes.get(CREATE_SUCCEEDED)))
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
        return await self._create(resource, desired, external), True

    def _claim(self, resource: Resource[Any, Any], sid: str) -> Claim:
        # Only status proves the operator settled on a SID for this object: users can write annotations,
        # tenants are not granted the status subresource.
        return Claim(
            resource.uid,
            created=resource.status.sid == sid,
            since=str(resource.body.metadata.get("creationTimestamp") or ""),
        )

    def owns(self, resource: Resource[Any, Any], sid: str) -> bool:
        return self.claims.owner(sid, self._claim(resource, sid)) == resource.uid

    def _check_claim(self, resource: Resource[Any, Any], sid: str) -> None:
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
        resource: Resource[S, T],
        desired: D,
        external: External[D],
        pending: datetime.datetime,
        keep: set[str],
        adopt: bool = True,
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
        if adopt and external.adoptable and found:
            adopted, found = found[0], found[1:]
            await self.record(resource, adopted.sid, created=True)
            events.normal(resource.body, "Adopted", f"found {adopted.sid} from an interrupted create")
        for orphan in found:
            await external.discard(orphan)
            events.normal(
                resource.body, "OrphanDeleted", f"deleted {orphan.sid} left by an interrupted create"
            )
        return adopted

    async def _create(self, resource: Resource[S, T], desired: D, external: External[D]) -> Observed:
        current = list(resource.body.metadata.get("finalizers") or [])
        needed = self.entry.finalizer_needed(resource.body.get("spec") or {}) and FINALIZER not in current
        # Added with the journal entry, not before: until a Twilio object may exist, deleting the object has
        # nothing to wait for. (The whole list, as kopf writes it: a merge patch.)
        finalizers = [*current, FINALIZER] if needed else None
        await self.annotate(resource, {CREATE_PENDING: now_rfc3339(), EXTERNAL_NAME: None}, finalizers)
        try:
            observed = await external.create(desired)
        except Terminal:
            # Twilio refused: nothing was created, so there is nothing to look for next time.
            await self.annotate(resource, {CREATE_PENDING: None})
            raise
        await self.record(resource, observed.sid, created=True)
        events.normal(resource.body, "Created", f"created {observed.sid} in Twilio")
        return observed

    async def record(self, resource: Resource[Any, Any], sid: str, *, created: bool) -> None:
        self.recorded[resource.uid] = sid
        marks: dict[str, str | None] = {EXTERNAL_NAME: sid, CREATE_PENDING: None}
        if created:
            token = self.settings.credentials()[1]
            marks[CREATE_SUCCEEDED] = seal.seal(token, resource.uid, sid, now_rfc3339())
        await self.annotate(resource, marks)

    async def _converge(
        self,
        resource: Resource[S, T],
        desired: D,
        external: External[D],
        observed: Observed,
        created: bool,
    ) -> Observed:
        fields = external.differences(desired, observed)
        if not fields:
            return observed
        observed = await external.update(desired, observed, fields)
        if created:
            return observed
        updated = [name for name in fields if name in resource.changed]
        # What the operator wants of the rest is what it last applied there: someone changed Twilio.
        drifted = [name for name in fields if name not in resource.changed]
        if updated:
            events.normal(resource.body, "Updated", f"updated {', '.join(updated)}: {self._cause(resource)}")
        if drifted:
            events.drift_corrected(
                resource.body, f"corrected {', '.join(drifted)} changed outside the operator"
            )
        return observed

    def _cause(self, resource: Resource[S, T]) -> str:
        """Why what the operator wants changed: the spec, or an object it refers to."""
        if resource.status.observed_generation != resource.generation:
            return "the spec changed"
        named = [
            f"{reference.target.plural} {name}"
            for reference in self.entry.references
            for name in sorted(reference.names(resource.spec))
        ]
        return (
            f"what it refers to changed ({', '.join(named)})"
            if named
            else "the operator's view of it changed"
        )

    # --- deletion ------------------------------------------------------------------------------------

    async def finalize(self, body: kopf.Body, patch: kopf.Patch, logger: Any, retry: int = 0) -> None:
        async with self.locks.hold(str(body.metadata.uid)):
            with metrics.reconcile_pass(self.kind_name) as result:
                await self._finalize(body, patch, logger, retry, result)

    async def _finalize(
        self, body: kopf.Body, patch: kopf.Patch, logger: Any, retry: int, result: metrics.PassResult
    ) -> None:
        status = self.status_of(body)
        try:
            resource = self.parse(body, patch, logger, status)
        except Outcome:
            # A spec that does not parse is deleted by its kind's defaults.
            resource = Resource(body, patch, logger, cast(S, self.entry.kind.spec.model_construct()), status)
        sid = resource.annotations.get(EXTERNAL_NAME) or status.sid
        policy = self.entry.deletion_policy(body.get("spec") or {})
        if marks.paused(resource.annotations):
            events.warning(body, "DeletedWhilePaused", f"left {sid} in Twilio as it is")
            result.set(metrics.PAUSED, "DeletedWhilePaused")
            return
        if sid and not self.owns(resource, sid):
            # A refused adopter: its deletion policy is not its to apply to someone else's object.
            events.warning(body, "NotOwner", f"{sid} is managed by another object: left as it is")
            result.set(metrics.SUCCESS, "NotOwner")
            return
        pending = parse_time(resource.annotations.get(CREATE_PENDING))
        try:
            if pending is not None:
                await self.kind.delete_orphans(resource, pending - CLOCK_SKEW)
            if sid:
                await self.kind.delete(resource, sid, policy)
        except NotFound:
            pass
        except TwilioError as error:
            self._write_status(
                body,
                patch,
                status,
                {
                    c.READY: c.Cond.false(c.DELETING, f"{policy} of {sid} pending"),
                    c.SYNCED: c.Cond.false(c.RECONCILE_ERROR, _describe(error)),
                },
                {},
            )
            if isinstance(error, Terminal):
                result.set(metrics.REJECTED, c.TWILIO_REJECTED)
                raise kopf.PermanentError(_describe(error)) from None
            result.set(metrics.ERROR, c.RECONCILE_ERROR)
            raise kopf.TemporaryError(_describe(error), delay=backoff(retry, 1.0, 60.0)) from None
        finally:
            self.recorded.pop(resource.uid, None)
        result.set(metrics.SUCCESS, "Deleted")


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


def _reason(status: ManagedStatus, ctype: str) -> str | None:
    return next((cond.reason for cond in status.conditions if cond.type == ctype), None)


# Reasons whose log line the cause itself writes, once for every object (the gateway, once a minute).
UNTOLD = frozenset({c.CREDENTIALS_REJECTED})


def _tell(logger: Any, status: ManagedStatus, updates: dict[str, c.Cond], result: str) -> None:
    """One log line when a pass changed what the object reports: waiting is news, errors are errors."""
    before = {cond.type: (cond.status, cond.reason) for cond in status.conditions}
    changed = {kind: cond for kind, cond in updates.items() if before.get(kind) != (cond.status, cond.reason)}
    if not changed:
        return
    cond = changed.get(c.SYNCED) or changed[c.READY]
    if cond.reason in UNTOLD:
        return
    text = f"{cond.reason}: {cond.message}" if cond.message else cond.reason
    if result == metrics.ERROR:
        logger.warning("%s (retrying)", text)
    elif result == metrics.REJECTED:
        logger.error("%s", text)
    else:
        logger.info("%s", text)


def _describe(error: TwilioError) -> str:
    code = f" (Twilio error {error.code})" if error.code else ""
    return f"{error.message}{code}"
