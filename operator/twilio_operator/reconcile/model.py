"""The contract between the generic managed reconcile and each kind."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

import kopf

from .conditions import Cond

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


@dataclass
class Observed:
    """What Twilio reports about one object."""

    sid: str
    data: dict[str, Any]
    created_at: datetime.datetime | None = None
    # Credentials Twilio returned (a key secret, an auth token): never logged, never stored in status.
    secrets: dict[str, str] = field(default_factory=dict, repr=False)


class Outcome(Exception):
    """A reconcile pass ends with these conditions (and, if retry is set, is tried again after it)."""

    def __init__(
        self,
        message: str,
        *,
        ready: Cond | None = None,
        synced: Cond | None = None,
        retry: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.ready = ready
        self.synced = synced
        self.retry = retry


@dataclass
class Resource:
    """One custom resource as a reconcile pass sees it."""

    body: kopf.Body
    patch: kopf.Patch
    logger: kopf.Logger | Any

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
    def annotations(self) -> dict[str, str]:
        return dict(self.body.metadata.annotations or {})

    @property
    def spec(self) -> dict[str, Any]:
        return dict(self.body.get("spec") or {})

    @property
    def status(self) -> dict[str, Any]:
        return dict(self.body.get("status") or {})

    @property
    def default_friendly_name(self) -> str:
        return f"{self.namespace}/{self.name}"


class Journal(Protocol):
    """Writes to the resource that must land at once, not at the end of the pass."""

    async def annotate(self, resource: Resource, annotations: dict[str, str | None]) -> None: ...

    async def record(self, resource: Resource, sid: str, *, created: bool) -> None: ...

    async def announce(self, resource: Resource, outcome: Outcome) -> None: ...


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

    def differences(self, desired: D_contra, observed: Observed) -> list[str]: ...

    async def update(self, desired: D_contra, observed: Observed, fields: list[str]) -> Observed: ...

    def check(self, observed: Observed) -> Outcome | None: ...

    async def discard(self, orphan: Observed) -> None:
        """Deal with an extra object found after an interrupted create (delete it, or leave it)."""
        ...


class ManagedKind(Protocol, Generic[D]):
    """What a kind plugs into the generic reconcile."""

    async def desired(self, resource: Resource, journal: Journal) -> D: ...

    def external(self, desired: D) -> External[D]: ...

    async def publish(
        self, resource: Resource, desired: D, observed: Observed, created: bool, journal: Journal
    ) -> Observed:
        """Kind-specific steps after the object converged (Secrets, rotation); returns what is now current."""
        ...

    def deadline(self, status: dict[str, Any]) -> datetime.datetime | None:
        """When this object next needs a pass regardless of drift (a rotation, an expiry), if ever."""
        ...

    def status(self, observed: Observed) -> dict[str, Any]: ...

    @staticmethod
    def deletion_policy(spec: dict[str, Any]) -> str: ...

    @staticmethod
    def finalizer_needed(spec: dict[str, Any]) -> bool:
        """Whether deleting the object must wait for Twilio to be told (once a Twilio object may exist)."""
        ...

    async def delete(self, resource: Resource, sid: str, policy: str) -> None: ...

    async def delete_orphans(self, resource: Resource, since: datetime.datetime) -> None:
        """Deleted while a create was in flight: remove what that create may have made."""
        ...

    def account_of(self, desired: D) -> str: ...
