"""One holder at a time per key (an object's uid, a Secret's name), for passes that must take turns."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator


class Locks:
    """A lock per key: one pass at a time per object (the drift timer runs passes concurrently with kopf's
    handlers), or per anything passes of several objects share."""

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}

    @contextlib.asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            yield

    def forget(self, key: str) -> None:
        self._locks.pop(key, None)

    def __len__(self) -> int:
        return len(self._locks)
