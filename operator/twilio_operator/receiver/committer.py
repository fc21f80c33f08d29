"""Group commit: callbacks wait together for one transaction, so throughput is not one fsync per request.

A request hands its events to the committer and waits for their commit; it answers 2xx only after it. A
committer worker takes everything that queued up while the previous transaction ran (at most ``max_batch``
events) into the next one, so under light load a callback is committed alone at once, and under heavy load
hundreds share a commit, with no timer in between. PostgreSQL takes a few commits at once
(``Store.parallel_commits``), so a batch need not wait for the round trips of the one before.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .store.base import Store, StoreUnavailable
from .store.model import CommitResult, Event
from .tasks import cancel

log = logging.getLogger(__name__)


@dataclass
class _Pending:
    events: Sequence[Event]
    done: asyncio.Future[CommitResult]


class Committer:
    def __init__(
        self,
        store: Store,
        max_batch: int = 512,
        on_commit: Callable[[CommitResult, float, int], None] | None = None,
    ) -> None:
        self.store = store
        self.max_batch = max_batch
        self._on_commit = on_commit
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        # With a store that takes several commits at once, the next batch need not wait for the last.
        self._tasks = [
            asyncio.create_task(self._run(), name=f"committer-{index}")
            for index in range(self.store.parallel_commits)
        ]

    async def stop(self) -> None:
        await cancel(*self._tasks)
        self._tasks = []
        while not self._queue.empty():
            pending = self._queue.get_nowait()
            if not pending.done.done():
                pending.done.set_exception(StoreUnavailable("the receiver is stopping"))

    async def submit(self, events: Sequence[Event]) -> CommitResult:
        """Commit these events (all or none) with whatever else waits; raises StoreUnavailable."""
        done: asyncio.Future[CommitResult] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Pending(events, done))
        # aiohttp does not cancel a handler whose client went away, so the wait needs no shield.
        return await done

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            size = len(batch[0].events)
            while size < self.max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
                size += len(batch[-1].events)
            await self._commit(batch, size)

    async def _commit(self, batch: list[_Pending], size: int) -> None:
        events = [event for pending in batch for event in pending.events]
        started = time.perf_counter()
        try:
            result = await self.store.commit(events)
        except StoreUnavailable as error:
            log.warning("commit of %d events failed, answering 503: %s", len(events), error)
            for pending in batch:
                if not pending.done.done():
                    pending.done.set_exception(error)
            return
        elapsed = time.perf_counter() - started
        if self._on_commit is not None:
            self._on_commit(result, elapsed, size)
        for pending in batch:
            if not pending.done.done():
                pending.done.set_result(
                    CommitResult(
                        stored={e.dedupe_key for e in pending.events if e.dedupe_key in result.stored},
                        advances=[],
                    )
                )
