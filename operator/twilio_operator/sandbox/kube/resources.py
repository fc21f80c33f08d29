"""Resource types the emulator serves, and the registry discovery and routing read from (D2-D5, R1)."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import Cause
from .meta import NameRule

JsonObj = dict[str, Any]

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
STATUS_VERBS = ("get", "patch", "update")


@dataclass(frozen=True)
class GroupResource:
    """Identity of stored objects; several served versions may share one."""

    group: str
    resource: str

    def __str__(self) -> str:
        return f"{self.resource}.{self.group}" if self.group else self.resource


class Strategy:
    """Per-kind hooks around the generic write path; the defaults do nothing."""

    def decode(self, obj: JsonObj) -> None:
        """Refuse (ApiError 400) what kube-apiserver could not even decode into its Go type."""
        return None

    def prepare_create(self, obj: JsonObj) -> None:
        return None

    def prepare_update(self, new: JsonObj, old: JsonObj) -> None:
        return None

    def validate(self, obj: JsonObj, old: JsonObj | None) -> list[Cause]:
        return []

    def to_storage(self, obj: JsonObj, rt: ResourceType) -> JsonObj:
        """Convert a request-version object into the stored form (mutating is allowed)."""
        if obj.get("apiVersion") != rt.storage_api_version:
            obj["apiVersion"] = rt.storage_api_version
        return obj

    def from_storage(self, obj: JsonObj, rt: ResourceType) -> JsonObj:
        """Present a stored object in `rt`'s version without mutating it."""
        if obj.get("apiVersion") == rt.api_version:
            return obj
        converted = dict(obj)
        converted["apiVersion"] = rt.api_version
        return converted


DEFAULT_STRATEGY = Strategy()


@dataclass
class ResourceType:
    group: str
    version: str
    plural: str
    singular: str
    kind: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    has_status: bool = False
    has_generation: bool = False
    custom: bool = False
    schema: JsonObj | None = None
    strategy: Strategy = DEFAULT_STRATEGY
    storage_version: str = ""
    name_rule: NameRule = NameRule.SUBDOMAIN
    field_labels: frozenset[str] = frozenset()
    merge_keys: Mapping[str, str] = field(default_factory=dict)
    crd_name: str | None = None
    description: str = ""
    converts: bool = False
    storage_gr: GroupResource | None = None
    printer_columns: tuple[JsonObj, ...] = ()

    def __post_init__(self) -> None:
        if not self.storage_version:
            self.storage_version = self.version

    @property
    def gr(self) -> GroupResource:
        return self.storage_gr or GroupResource(self.group, self.plural)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def storage_api_version(self) -> str:
        return f"{self.group}/{self.storage_version}" if self.group else self.storage_version

    @property
    def group_version(self) -> tuple[str, str]:
        return (self.group, self.version)

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    @property
    def qualified_kind(self) -> str:
        return f"{self.kind}.{self.group}" if self.group else self.kind

    def supported_field_labels(self) -> frozenset[str]:
        return frozenset({"metadata.name", "metadata.namespace"}) | self.field_labels


def version_priority(version: str) -> tuple[int, int, int, str]:
    """Kubernetes version ordering: GA > beta > alpha, then higher numbers first; others last."""
    match = re.fullmatch(r"v(\d+)(?:(alpha|beta)(\d+))?", version)
    if not match:
        return (3, 0, 0, version)
    major = int(match.group(1))
    stage = {None: 0, "beta": 1, "alpha": 2}[match.group(2)]
    minor = int(match.group(3) or 0)
    return (stage, -major, -minor, version)


class Registry:
    """Served resource types, indexed for routing (by plural) and for kind lookups (by apiVersion+kind)."""

    def __init__(self) -> None:
        self._by_gvr: dict[tuple[str, str, str], ResourceType] = {}
        self._by_gvk: dict[tuple[str, str, str], ResourceType] = {}
        self._storage: dict[GroupResource, ResourceType] = {}
        self._builtin_groups: list[str] = []
        self.generation = 0

    def add(self, rt: ResourceType) -> None:
        self._by_gvr[(rt.group, rt.version, rt.plural)] = rt
        self._by_gvk[(rt.group, rt.version, rt.kind)] = rt
        owns_storage = rt.storage_gr is None and (
            rt.version == rt.storage_version or rt.gr not in self._storage
        )
        if owns_storage:
            self._storage[rt.gr] = rt
        if rt.crd_name is None and rt.group not in self._builtin_groups:
            self._builtin_groups.append(rt.group)
        self.generation += 1

    def remove_crd(self, crd_name: str) -> list[ResourceType]:
        removed = [rt for rt in self._by_gvr.values() if rt.crd_name == crd_name]
        for rt in removed:
            del self._by_gvr[(rt.group, rt.version, rt.plural)]
            self._by_gvk.pop((rt.group, rt.version, rt.kind), None)
            if self._storage.get(rt.gr) is rt:
                del self._storage[rt.gr]
        for rt in removed:
            if rt.gr not in self._storage:
                replacement = next((o for o in self._by_gvr.values() if o.gr == rt.gr), None)
                if replacement is not None:
                    self._storage[rt.gr] = replacement
        if removed:
            self.generation += 1
        return removed

    def lookup(self, group: str, version: str, plural: str) -> ResourceType | None:
        return self._by_gvr.get((group, version, plural))

    def by_kind(self, api_version: str, kind: str) -> ResourceType | None:
        group, _, version = api_version.rpartition("/")
        return self._by_gvk.get((group, version, kind))

    def storage_type(self, gr: GroupResource) -> ResourceType | None:
        return self._storage.get(gr)

    def __iter__(self) -> Iterator[ResourceType]:
        return iter(list(self._by_gvr.values()))

    def has_group_version(self, group: str, version: str) -> bool:
        return any(rt.group == group and rt.version == version for rt in self._by_gvr.values())

    def group_versions(self) -> list[tuple[str, list[str]]]:
        """Groups in discovery order (built-ins first, then custom groups by name), versions by priority."""
        versions: dict[str, set[str]] = {}
        for rt in self._by_gvr.values():
            versions.setdefault(rt.group, set()).add(rt.version)
        ordered = [g for g in self._builtin_groups if g in versions]
        ordered += sorted(g for g in versions if g not in self._builtin_groups)
        return [(g, sorted(versions[g], key=version_priority)) for g in ordered]

    def in_group_version(self, group: str, version: str) -> list[ResourceType]:
        return sorted(
            (rt for rt in self._by_gvr.values() if rt.group == group and rt.version == version),
            key=lambda rt: rt.plural,
        )
