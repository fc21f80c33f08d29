"""The drift timer: re-runs passes for objects that are due, without a kopf timer per object.

kopf timers put a finalizer on every object they watch; ours must carry one only when its deletion policy
needs Twilio to be told. So objects are tracked from the watch stream and woken from one heap.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import heapq
import logging
import time
from collections.abc import Awaitable, Callable

import kopf

log = logging.getLogger(__name__)

# Runs one pass for the object; returns the delay before it should be retried, or None when it is settled.
PassFn = Callable[[kopf.Body], Awaitable[float | None]]
# Seconds until the object's next pass; the datetime, when given, is when it was last synced (overriding the
# body's status, which may not yet show the pass that just ended).
DueFn = Callable[[kopf.Body, datetime.datetime | None], float]


class DriftScheduler:
    """Wakes each tracked object when `due(body)` says so (seconds from now), one heap for all of them."""

    def __init__(
        self,
        run_pass: PassFn,
        due_in: DueFn,
        gate: Callable[[], Awaitable[None]] | None = None,
        concurrency: int = 32,
    ) -> None:
        self._run_pass = run_pass
        self._due_in = due_in
        # Waited on before passes start: closed while kopf's peering has this replica stand by.
        self._gate = gate
        self._bodies: dict[str, kopf.Body] = {}
        self._heap: list[tuple[float, str]] = []
        self._wake = asyncio.Event()
        self._slots = asyncio.Semaphore(concurrency)
        self._running: set[str] = set()
        self._next: dict[str, float] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def __contains__(self, uid: str) -> bool:
        return uid in self._bodies

    def track(self, uid: str, body: kopf.Body | None) -> None:
        """Called for every watch event; body None means the object is gone."""
        if body is None:
            self._bodies.pop(uid, None)
            self._next.pop(uid, None)
            return
        self._bodies[uid] = body
        self._schedule(uid, self._due_in(body, None), keep_earlier=True)

    def retry(self, uid: str, delay: float) -> None:
        """Run a pass for this object after `delay` seconds (a handler's pass is waiting or failed)."""
        if uid in self._bodies:
            self._schedule(uid, delay)

    def kick(self, uid: str) -> None:
        """Run a pass for this object now (something it depends on changed)."""
        if uid in self._bodies:
            self._schedule(uid, 0.0, keep_earlier=True)

    def kick_where(self, wanted: Callable[[kopf.Body], bool]) -> None:
        """Run a pass now for every tracked object `wanted` picks."""
        for uid, body in list(self._bodies.items()):
            if wanted(body):
                self.kick(uid)

    def _schedule(self, uid: str, delay: float, keep_earlier: bool = False) -> None:
        at = time.monotonic() + max(delay, 0.0)
        current = self._next.get(uid)
        if keep_earlier and current is not None and current <= at:
            return
        self._next[uid] = at
        heapq.heappush(self._heap, (at, uid))
        self._wake.set()

    async def stop(self) -> None:
        """Cancel every pass in flight, and wait for them, before the clients they use are closed."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def run(self) -> None:
        tasks = self._tasks
        while True:
            if self._gate is not None:
                await self._gate()
            now = time.monotonic()
            while self._heap and self._heap[0][0] <= now:
                at, uid = heapq.heappop(self._heap)
                body = self._bodies.get(uid)
                if body is None or self._next.get(uid) != at or uid in self._running:
                    continue  # gone, superseded by a newer schedule, or already running
                del self._next[uid]
                self._running.add(uid)
                task = asyncio.create_task(self._pass(uid, body))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            self._wake.clear()
            timeout = self._heap[0][0] - time.monotonic() if self._heap else None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)

    async def _pass(self, uid: str, body: kopf.Body) -> None:
        try:
            async with self._slots:
                retry = await self._run_pass(body)
        except Exception:  # one object's failure must not stop the timer of all others
            log.exception("drift pass of %s/%s failed", body.metadata.namespace, body.metadata.name)
            retry = 30.0
        finally:
            self._running.discard(uid)
        if uid in self._bodies:
            latest = self._bodies[uid]
            synced = datetime.datetime.now(datetime.UTC)
            self._schedule(uid, retry if retry is not None else self._due_in(latest, synced))
