"""Object storage: one global resourceVersion counter (C2, U1), indices, and change notification.

Every lookup the request path needs is a dict access: objects by (resource, namespace, name), object
identity by uid, dependents by owner uid, and object counts per resource and per namespace.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from .eventlog import EventLog, WatchEvent
from .resources import GroupResource
from .watch import WatchHub

JsonObj = dict[str, Any]
ObjectKey = tuple[GroupResource, str, str]  # resource, namespace ("" when cluster-scoped), name
Listener = Callable[[GroupResource, JsonObj | None, JsonObj | None], None]


def owner_uids(obj: JsonObj | None) -> set[str]:
    if obj is None:
        return set()
    refs = obj["metadata"].get("ownerReferences") or []
    return {ref["uid"] for ref in refs if isinstance(ref, dict) and isinstance(ref.get("uid"), str)}


class Store:
    def __init__(self, event_window: int) -> None:
        self.rv = 0
        self.log = EventLog(event_window)
        self.hub = WatchHub()
        self.listeners: list[Listener] = []
        self._objects: dict[GroupResource, dict[str, dict[str, JsonObj]]] = {}
        self._counts: dict[GroupResource, int] = {}
        self._namespace_counts: dict[str, int] = {}
        self._by_uid: dict[str, ObjectKey] = {}
        self._dependents: dict[str, set[str]] = {}

    def next_rv(self) -> int:
        self.rv += 1
        return self.rv

    # --- reads -------------------------------------------------------------------------------------

    def get(self, gr: GroupResource, namespace: str, name: str) -> JsonObj | None:
        return self._objects.get(gr, {}).get(namespace, {}).get(name)

    def locate(self, uid: str) -> ObjectKey | None:
        return self._by_uid.get(uid)

    def get_by_uid(self, uid: str) -> tuple[GroupResource, JsonObj] | None:
        key = self._by_uid.get(uid)
        if key is None:
            return None
        obj = self.get(*key)
        return (key[0], obj) if obj is not None else None

    def dependents_of(self, uid: str) -> set[str]:
        return set(self._dependents.get(uid, ()))

    def items(self, gr: GroupResource, namespace: str | None = None) -> Iterator[JsonObj]:
        by_namespace = self._objects.get(gr, {})
        if namespace is not None:
            yield from by_namespace.get(namespace, {}).values()
            return
        for objects in by_namespace.values():
            yield from objects.values()

    def sorted_items(self, gr: GroupResource, namespace: str | None = None) -> list[JsonObj]:
        by_namespace = self._objects.get(gr, {})
        if namespace is not None:
            objects = by_namespace.get(namespace, {})
            return [objects[name] for name in sorted(objects)]
        return [by_namespace[ns][name] for ns in sorted(by_namespace) for name in sorted(by_namespace[ns])]

    def count(self, gr: GroupResource) -> int:
        return self._counts.get(gr, 0)

    def namespace_count(self, namespace: str) -> int:
        return self._namespace_counts.get(namespace, 0)

    def total(self) -> int:
        return sum(self._counts.values())

    # --- writes ------------------------------------------------------------------------------------

    def put(self, gr: GroupResource, obj: JsonObj, old: JsonObj | None) -> JsonObj:
        """Store `obj` (owned by the store from now on) under a new resourceVersion and emit one event."""
        rv = self.next_rv()
        meta = obj["metadata"]
        meta["resourceVersion"] = str(rv)
        namespace = meta.get("namespace") or ""
        name = meta["name"]
        self._objects.setdefault(gr, {}).setdefault(namespace, {})[name] = obj
        if old is None:
            self._counts[gr] = self._counts.get(gr, 0) + 1
            if namespace:
                self._namespace_counts[namespace] = self._namespace_counts.get(namespace, 0) + 1
        self._by_uid[meta["uid"]] = (gr, namespace, name)
        self._reindex_owners(meta["uid"], owner_uids(old), owner_uids(obj))
        self._emit(gr, WatchEvent(rv, "ADDED" if old is None else "MODIFIED", obj, old))
        return obj

    def remove(self, gr: GroupResource, obj: JsonObj) -> JsonObj:
        """Delete `obj`; the DELETED event carries its last state under a new resourceVersion (W9)."""
        rv = self.next_rv()
        meta = obj["metadata"]
        namespace = meta.get("namespace") or ""
        by_namespace = self._objects.get(gr, {})
        objects = by_namespace.get(namespace, {})
        objects.pop(meta["name"], None)
        if not objects:
            by_namespace.pop(namespace, None)
        self._counts[gr] = self._counts.get(gr, 1) - 1
        if namespace:
            self._namespace_counts[namespace] = self._namespace_counts.get(namespace, 1) - 1
        self._by_uid.pop(meta["uid"], None)
        self._reindex_owners(meta["uid"], owner_uids(obj), set())
        final = dict(obj)
        final["metadata"] = {**meta, "resourceVersion": str(rv)}
        self._emit(gr, WatchEvent(rv, "DELETED", final, obj))
        return final

    def _reindex_owners(self, uid: str, before: set[str], after: set[str]) -> None:
        for owner in before - after:
            dependents = self._dependents.get(owner)
            if dependents is not None:
                dependents.discard(uid)
                if not dependents:
                    del self._dependents[owner]
        for owner in after - before:
            self._dependents.setdefault(owner, set()).add(uid)

    def _emit(self, gr: GroupResource, event: WatchEvent) -> None:
        self.log.append(gr, event)
        self.hub.publish(gr, event)
        new = event.obj if event.type != "DELETED" else None
        for listener in self.listeners:
            listener(gr, event.old, new)

    def clear(self) -> None:
        self._objects.clear()
        self._counts.clear()
        self._namespace_counts.clear()
        self._by_uid.clear()
        self._dependents.clear()
