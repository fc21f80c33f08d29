"""Bounded history of watch events, per resource, for watches that resume from a resourceVersion (W3, W4)."""

from __future__ import annotations

from bisect import bisect_right
from collections import deque
from dataclasses import dataclass
from typing import Any

from .resources import GroupResource

JsonObj = dict[str, Any]


@dataclass(frozen=True, slots=True)
class WatchEvent:
    rv: int
    type: str  # ADDED, MODIFIED, DELETED
    obj: JsonObj  # stored form; never mutated after the event is recorded
    old: JsonObj | None  # previous state, so selector watches can turn MODIFIED into ADDED/DELETED (W5)


class _ResourceLog:
    __slots__ = ("events", "horizon", "rvs", "start")

    def __init__(self, horizon: int) -> None:
        self.rvs: list[int] = []
        self.events: list[WatchEvent] = []
        self.start = 0
        # Events with rv <= horizon are gone; a watch from an older rv may have missed some.
        self.horizon = horizon

    def drop_oldest(self) -> None:
        if self.start >= len(self.rvs):
            return
        self.horizon = self.rvs[self.start]
        self.start += 1
        # Lists are trimmed in bulk so dropping stays amortised O(1).
        if self.start > 1024 and self.start * 2 > len(self.rvs):
            del self.rvs[: self.start]
            del self.events[: self.start]
            self.start = 0


class EventLog:
    """Keeps the most recent `window` events across all resources; lookups bisect one resource's history."""

    def __init__(self, window: int) -> None:
        self._window = max(1, window)
        self._logs: dict[GroupResource, _ResourceLog] = {}
        self._order: deque[GroupResource] = deque()
        self._compacted = 0

    def append(self, gr: GroupResource, event: WatchEvent) -> None:
        log = self._logs.get(gr)
        if log is None:
            log = self._logs[gr] = _ResourceLog(self._compacted)
        log.rvs.append(event.rv)
        log.events.append(event)
        self._order.append(gr)
        if len(self._order) > self._window:
            oldest = self._order.popleft()
            self._logs[oldest].drop_oldest()

    def since(self, gr: GroupResource, rv: int) -> list[WatchEvent] | None:
        """Events newer than `rv`, or None when some of them were already discarded."""
        log = self._logs.get(gr)
        if log is None:
            return [] if rv >= self._compacted else None
        if rv < log.horizon:
            return None
        index = bisect_right(log.rvs, rv, lo=log.start)
        return log.events[index:]

    def horizon(self, gr: GroupResource) -> int:
        log = self._logs.get(gr)
        return log.horizon if log is not None else self._compacted

    def compact(self, rv: int) -> None:
        """Forget everything up to and including `rv`."""
        self._compacted = rv
        self._order.clear()
        for log in self._logs.values():
            log.rvs.clear()
            log.events.clear()
            log.start = 0
            log.horizon = rv
