"""Watchers and their fan-out (W1, W5, W9): an event reaches only the watchers of its resource."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from .eventlog import WatchEvent
from .resources import GroupResource, ResourceType
from .selectors import FieldGetter, FieldSelector, LabelSelector

JsonObj = dict[str, Any]

# What a watcher's queue carries: (event type, object in the watcher's version), or None to end the stream.
Outgoing = tuple[str, JsonObj] | None


class Watcher:
    def __init__(
        self,
        rt: ResourceType,
        namespace: str | None,
        labels: LabelSelector,
        fields: FieldSelector,
        field_getter: FieldGetter,
        path_qs: str,
    ) -> None:
        self.rt = rt
        self.namespace = namespace
        self.labels = labels
        self.fields = fields
        self.field_getter = field_getter
        self.path_qs = path_qs
        self.queue: asyncio.Queue[Outgoing] = asyncio.Queue()
        self.closed = False

    def present(self, obj: JsonObj) -> JsonObj:
        return self.rt.strategy.from_storage(obj, self.rt)

    def matches(self, obj: JsonObj) -> bool:
        if self.namespace is not None and obj["metadata"].get("namespace") != self.namespace:
            return False
        if not self.labels.empty and not self.labels.matches(obj):
            return False
        if not self.fields.empty:
            target = self.present(obj) if self.rt.converts else obj
            return self.fields.matches(target, self.field_getter)
        return True

    def translate(self, event: WatchEvent) -> tuple[str, JsonObj] | None:
        """The event as this watcher sees it, honouring selector transitions (W5)."""
        now = self.matches(event.obj)
        if event.type != "MODIFIED":
            return (event.type, self.present(event.obj)) if now else None
        before = event.old is not None and self.matches(event.old)
        if now:
            return ("MODIFIED" if before else "ADDED", self.present(event.obj))
        if before and event.old is not None:
            # Leaving the selector looks like a deletion: the previous content, at the new resourceVersion.
            last = dict(event.old)
            last["metadata"] = {**event.old["metadata"], "resourceVersion": str(event.rv)}
            return ("DELETED", self.present(last))
        return None

    def offer(self, event: WatchEvent) -> None:
        if self.closed:
            return
        translated = self.translate(event)
        if translated is not None:
            self.queue.put_nowait(translated)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.queue.put_nowait(None)


class WatchHub:
    def __init__(self) -> None:
        self._by_resource: dict[GroupResource, set[Watcher]] = {}

    def subscribe(self, gr: GroupResource, watcher: Watcher) -> None:
        self._by_resource.setdefault(gr, set()).add(watcher)

    def unsubscribe(self, gr: GroupResource, watcher: Watcher) -> None:
        watchers = self._by_resource.get(gr)
        if watchers is not None:
            watchers.discard(watcher)
            if not watchers:
                del self._by_resource[gr]

    def publish(self, gr: GroupResource, event: WatchEvent) -> None:
        watchers = self._by_resource.get(gr)
        if watchers:
            for watcher in watchers:
                watcher.offer(event)

    def close_where(self, predicate: Callable[[Watcher], bool]) -> int:
        closed = 0
        for watchers in list(self._by_resource.values()):
            for watcher in list(watchers):
                if not watcher.closed and predicate(watcher):
                    watcher.close()
                    closed += 1
        return closed

    def close_resource(self, gr: GroupResource) -> None:
        for watcher in list(self._by_resource.get(gr, ())):
            watcher.close()

    def count(self) -> int:
        return sum(len(watchers) for watchers in self._by_resource.values())
