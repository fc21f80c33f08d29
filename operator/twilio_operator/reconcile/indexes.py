"""What the operator knows of objects without asking the API server: kept in kopf indexes.

kopf fills every index from the initial listing before any other handler runs, so after a restart a pass
never acts on a half-known world (a subaccount "not seen yet", a claim on a SID whose older claimant was not
listed yet). Each watched resource has one index; its keys say what an entry is:

  ClaimKey(sid)                      → Claim     an object of ours names this Twilio SID
  NameKey(namespace, name)           → a view    what a followed object (a subaccount, an Ingress) looks like
  RefKey(plural, namespace, name)    → Referrer  an object of ours refers to that followed object by name
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

V = TypeVar("V", bound=Hashable)
# A kopf index: key → the values every object that produced the key gave for it.
Index = Mapping[Any, Iterable[Any]]


@dataclass(frozen=True)
class ClaimKey:
    sid: str


@dataclass(frozen=True)
class NameKey:
    namespace: str
    name: str


@dataclass(frozen=True)
class RefKey:
    plural: str
    namespace: str
    name: str


@dataclass(frozen=True)
class Referrer:
    uid: str
    # The account the referring object's status says its Twilio object lives in: written only by the
    # operator, so proof of which subaccount a name stood for.
    account: str | None


@dataclass(frozen=True)
class Claim:
    uid: str
    created: bool  # the operator settled on this SID for the object (status says so), not just an annotation
    since: str  # the object's creationTimestamp: the older adopter wins


@dataclass(frozen=True)
class Followed(Generic[V]):
    """A resource whose objects our kinds refer to by name in their namespace, and what is kept of each."""

    group: str
    version: str
    plural: str
    view: Callable[[Mapping[str, Any]], V]
    # Other names referrers may know an object by, from its view (a phone number's E.164 and SID).
    aliases: Callable[[V], Iterable[str]] | None = None


@dataclass(frozen=True)
class Reference:
    """A kind's references to objects of a followed resource: the names its spec gives (a change to one of
    those objects wakes the referring object)."""

    target: Followed[Any]
    names: Callable[[Any], Iterable[str]]


class Claims:
    """Which objects (in any namespace) name which Twilio SID, so one Twilio object has one owner."""

    def __init__(self) -> None:
        self.indexes: list[Index] = []

    def owner(self, sid: str, claimant: Claim) -> str:
        """The uid entitled to manage `sid`, counting `claimant` too: who created it, else the oldest."""
        claims: dict[str, Claim] = {claimant.uid: claimant}
        for index in self.indexes:
            claims.update(
                (claim.uid, claim) for claim in index.get(ClaimKey(sid), ()) if claim.uid != claimant.uid
            )
        best = min(claims.values(), key=lambda c: (not c.created, c.since, c.uid))
        return best.uid


class Directory(Generic[V]):
    """The views of one followed resource's objects by namespace and name, with in-memory waiters."""

    def __init__(self, followed: Followed[V]) -> None:
        self.followed = followed
        self.index: Index = {}
        self._changed: dict[NameKey, asyncio.Event] = {}

    def get(self, namespace: str, name: str) -> V | None:
        for view in self.index.get(NameKey(namespace, name), ()):
            return view  # type: ignore[no-any-return]  # kopf indexes are untyped; this one holds Vs
        return None

    def views(self, namespace: str | None = None) -> list[V]:
        """Every object's view, or those of one namespace."""
        return [
            view
            for key, views in self.index.items()
            if isinstance(key, NameKey) and (namespace is None or key.namespace == namespace)
            for view in views
        ]

    def changed(self, namespace: str, name: str) -> None:
        """The object changed (or appeared, or went): whoever waits on it looks again."""
        event = self._changed.pop(NameKey(namespace, name), None)
        if event is not None:
            event.set()

    async def wait_for(
        self, namespace: str, name: str, wanted: Callable[[V | None], bool], seconds: float
    ) -> V | None:
        """The view once `wanted` accepts it, waiting up to `seconds`; the last view seen otherwise."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while True:
            view = self.get(namespace, name)
            remaining = deadline - loop.time()
            if wanted(view) or remaining <= 0:
                return view
            event = self._changed.setdefault(NameKey(namespace, name), asyncio.Event())
            try:
                await asyncio.wait_for(event.wait(), remaining)
            except TimeoutError:
                return self.get(namespace, name)


def referrers(indexes: Iterable[Index], plural: str, namespace: str, name: str) -> list[Referrer]:
    """Our objects that refer to this followed object."""
    key = RefKey(plural, namespace, name)
    return [referrer for index in indexes for referrer in index.get(key, ())]
