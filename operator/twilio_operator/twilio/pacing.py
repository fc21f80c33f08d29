"""Pacing of Twilio calls: a concurrency limit per account and a global request-rate cap.

Twilio limits concurrent requests per account (429 / 20429 beyond). Applying a whole environment at once must
converge at the pace Twilio allows instead of tripping its limit and retrying.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator


class TokenBucket:
    """A global requests-per-second cap, with a burst of one second's worth."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self._tokens = rate
        self._stamp = time.monotonic()
        self._lock = asyncio.Lock()

    async def take(self) -> None:
        async with self._lock:
            while True:
                now = time.monotonic()
                self._tokens = min(self.rate, self._tokens + (now - self._stamp) * self.rate)
                self._stamp = now
                if self._tokens >= 1:
                    self._tokens -= 1
                    return
                await asyncio.sleep((1 - self._tokens) / self.rate)


class Pacer:
    """Admits a call when its account has a free slot and the global rate allows it."""

    def __init__(self, per_account: int, rate: float) -> None:
        self.per_account = per_account
        self._slots: dict[str, asyncio.Semaphore] = {}
        self._bucket = TokenBucket(rate)

    def _slot(self, account_sid: str) -> asyncio.Semaphore:
        slot = self._slots.get(account_sid)
        if slot is None:
            slot = self._slots[account_sid] = asyncio.Semaphore(self.per_account)
        return slot

    @contextlib.asynccontextmanager
    async def admit(self, account_sid: str) -> AsyncIterator[None]:
        async with self._slot(account_sid):
            await self._bucket.take()
            yield
