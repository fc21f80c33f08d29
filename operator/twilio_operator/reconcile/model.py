"""The contract between the generic managed reconcile and each kind.

Crossplane's managed reconciler in Python: the generic loop (managed.py) owns conditions, finalizers,
policies, adoption and timing; a kind says what it wants, which external client observes, creates, updates
and deletes its Twilio object, and what it publishes once the object converged.
"""

from __future__ import annotations

import abc
import contextlib
import datetime
import hashlib
import json
import logging
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

import kopf

from ..api.common import ManagedSpec, ManagedStatus
from ..twilio.observed import Observed
from .conditions import Cond

S = TypeVar("S", bound=ManagedSpec)
T = TypeVar("T", bound=ManagedStatus)
D = TypeVar("D")
D_contra = TypeVar("D_contra", contravariant=True)

PREFIX = "twilio.operator.dev/"
EXTERNAL_NAME = PREFIX + "external-name"
CREATE_PENDING = PREFIX + "external-create-pending"
CREATE_SUCCEEDED = PREFIX + "external-create-succeeded"
PAUSED = PREFIX + "paused"
RECONCILE_REQUESTED_AT = PREFIX + "reconcile-requested-at"
POLL_INTERVAL = PREFIX + "poll-interval"
FINALIZER = PREFIX + "finalizer"
# Annotations that are the operator's bookkeeping, left out of what kopf compares: writing them must not
# make kopf run an update. external-name is also set by people (adoption): handlers.py acts on that.
BOOKKEEPING_ANNOTATIONS = (CREATE_PENDING, CREATE_SUCCEEDED, EXTERNAL_NAME)


class Outcome(Exception):
    """A reconcile pass ends with these conditions (and, if retry is set, is tried again after it).

    `status` carries the kind's status fields when the Twilio object exists and converged but something about
    it is reported (a sender refused, a Secret that is someone else's): what is true is still shown.
    """

    def __init__(
        self,
        message: str,
        *,
        ready: Cond | None = None,
        synced: Cond | None = None,
        retry: float | None = None,
        status: ManagedStatus | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.ready = ready
        self.synced = synced
        self.retry = retry
        self.status = status


@dataclass
class Resource(Generic[S, T]):
    """One custom resource as a pass sees it: the body kopf handed over, its spec and status parsed."""

    body: kopf.Body
    patch: kopf.Patch
    logger: logging.Logger | logging.LoggerAdapter[Any]
    spec: S
    status: T
    # The annotations as they are now: the body's, with what this pass has written since (its journal).
    annotations: dict[str, str] = field(init=False)
    # Whether the operator created the object external-name names for this object (its sealed record says
    # so): otherwise a SID there that status does not hold yet is an adoption.
    made_here: bool = field(init=False, default=False)
    # The Twilio fields whose wanted value differs from what the operator last applied (the spec changed, or
    # something it refers to): a difference found in Twilio in one of these is an update, elsewhere drift.
    changed: set[str] = field(init=False, default_factory=set)

    def __post_init__(self) -> None:
        self.annotations = dict(self.body.metadata.annotations or {})

    @property
    def name(self) -> str:
        return str(self.body.metadata.name)

    @property
    def namespace(self) -> str:
        return str(self.body.metadata.namespace)

    @property
    def uid(self) -> str:
        return str(self.body.metadata.uid)

    @property
    def generation(self) -> int:
        return int(self.body.metadata.get("generation") or 0)

    @property
    def friendly_name(self) -> str:
        """The name the Twilio object carries: the spec's, or <namespace>/<name>."""
        return self.spec.friendly_name or f"{self.namespace}/{self.name}"


class Journal(Protocol):
    """Writes to the resource that must land at once, not at the end of the pass."""

    async def annotate(self, resource: Resource[Any, Any], annotations: dict[str, str | None]) -> None: ...

    async def record(self, resource: Resource[Any, Any], sid: str, *, created: bool) -> None: ...


class External(Protocol[D_contra]):
    """Crossplane's external client, for one Twilio object type."""

    # Whether an object found after an interrupted create can be adopted (an API key cannot: its secret is
    # gone with the crashed process, so it is deleted instead).
    adoptable: bool

    async def observe(self, sid: str, steady: bool = False) -> Observed:
        """The object as Twilio has it. `steady`: a drift check with nothing asked of the object, which
        may be answered from a list of its account taken moments ago (after the account's last write)."""
        ...

    async def find(self, desired: D_contra, since: datetime.datetime) -> list[Observed]: ...

    async def create(self, desired: D_contra) -> Observed: ...

    def values(self, desired: D_contra) -> dict[str, Any]:
        """What each field the operator manages should be in Twilio, by the names `differences` uses."""
        ...

    def differences(self, desired: D_contra, observed: Observed) -> list[str]: ...

    async def update(self, desired: D_contra, observed: Observed, fields: list[str]) -> Observed: ...

    async def discard(self, orphan: Observed) -> None:
        """Deal with an extra object found after an interrupted create (delete it, or leave it)."""
        ...


class ManagedKind(abc.ABC, Generic[S, T, D]):
    """What a kind plugs into the generic reconcile."""

    def hold(self, resource: Resource[S, T]) -> contextlib.AbstractAsyncContextManager[None]:
        """Held for the whole pass, around everything the kind does: passes of different objects that share
        something (a Secret's name) take turns."""
        return contextlib.nullcontext()

    @abc.abstractmethod
    async def desired(self, resource: Resource[S, T], journal: Journal) -> D:
        """What the spec (and the objects it references) want; an Outcome when that cannot be known yet."""

    @abc.abstractmethod
    def external(self, desired: D) -> External[D]:
        """The external client that manages the Twilio object `desired` describes."""

    def adoption_refused(self, resource: Resource[S, T], sid: str) -> str | None:
        """Why this object may not adopt `sid`, an existing Twilio object its external-name names, if it may
        not: adopting is a privilege the operator's installer grants (TWILIO_OPERATOR_ADOPTION_NAMESPACES)."""
        return None

    def check(self, resource: Resource[S, T], observed: Observed) -> Outcome | None:
        """A state of the Twilio object that no update can fix (a closed account), reported as it is."""
        return None

    @abc.abstractmethod
    async def publish(
        self, resource: Resource[S, T], desired: D, observed: Observed, created: bool, journal: Journal
    ) -> tuple[Observed, T]:
        """Kind-specific steps after the object converged (Secrets, rotation, senders); returns what is now
        current and the kind's status fields."""

    def retained(self, status: T) -> set[str]:
        """SIDs the object still holds besides its current one (a replaced key in its grace period): an
        interrupted replacement's recovery keeps them."""
        return set()

    def deadline(self, status: T) -> datetime.datetime | None:
        """When this object next needs a pass regardless of drift (a rotation, an expiry), if ever."""
        return None

    @abc.abstractmethod
    async def delete(self, resource: Resource[S, T], sid: str, policy: str) -> None:
        """Apply the deletion policy to the Twilio object."""

    async def delete_orphans(self, resource: Resource[S, T], since: datetime.datetime) -> None:
        """Deleted while a create was in flight: remove what that create may have made."""
        return None


def digest(value: object) -> str:
    """A short digest of a value (sets and tuples as sorted lists), to tell whether it changed."""
    text = json.dumps(value, sort_keys=True, default=lambda item: sorted(item, key=str))
    return hashlib.sha256(text.encode()).hexdigest()[:16]
