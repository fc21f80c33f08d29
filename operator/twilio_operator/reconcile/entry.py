"""A kind's entry in the registry: everything the operator needs to know to run it, in one place.

handlers.py wires kopf from these entries alone, and the chart's RBAC rules, CRD list and Argo CD health
checks are generated from them (`twilio-operator generate`), so a new kind is one entry.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from ..api.kinds import Kind
from ..kube.client import KubeClient
from ..settings import Settings
from ..twilio.gateway import TwilioGateway
from .indexes import Directory, Followed, Index, Reference
from .model import D, ManagedKind, S, T

V = TypeVar("V")


@dataclass
class Services:
    """What kinds share at run time: built once when the operator starts."""

    settings: Settings
    gateway: TwilioGateway
    kube: KubeClient
    directories: dict[str, Directory[Any]] = field(default_factory=dict)
    # Every kind's kopf index (reconcile/indexes.py): who claims which SID, who refers to what.
    kind_indexes: list[Index] = field(default_factory=list)

    def directory(self, followed: Followed[Any]) -> Directory[Any]:
        """The directory of a followed resource (one per resource, shared by every kind that follows it)."""
        key = f"{followed.plural}.{followed.group}"
        if key not in self.directories:
            self.directories[key] = Directory(followed)
        return self.directories[key]


@dataclass(frozen=True)
class KindEntry(Generic[S, T, D]):
    """One kind: its API, its reconcile plug, its deletion policies and the objects it follows."""

    kind: Kind
    plug: Callable[[Services], ManagedKind[S, T, D]]
    default_deletion_policy: str
    # Deletion policies that act in Twilio: only these make a deletion wait (a finalizer) for the operator.
    acting_deletion_policies: frozenset[str]
    # Objects of other resources its spec names (a subaccount, an Ingress): a change to one wakes this object.
    references: tuple[Reference, ...] = ()
    # Secrets it writes, owner-referenced and labelled; a change made to one by someone else wakes its owner.
    owns_secrets: bool = False
    # Secrets it reads by name (a Kinesis external id), which it neither writes nor watches.
    reads_secrets: bool = False
    # When other kinds refer to this kind's objects by name: what they need to know of each.
    followed: Followed[Any] | None = None
    # Called with every version of every object the watch delivers (gone: it was deleted), for what is
    # derived from objects as they are (per-object metrics).
    watched: Callable[[Mapping[str, Any], bool], None] | None = None

    def deletion_policy(self, spec: Mapping[str, Any]) -> str:
        """From the raw spec (kopf's filters see the raw body); the models default the same way."""
        return str(spec.get("deletionPolicy") or self.default_deletion_policy)

    def finalizer_needed(self, spec: Mapping[str, Any]) -> bool:
        return self.deletion_policy(spec) in self.acting_deletion_policies
