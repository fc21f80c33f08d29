"""Repair of lost callbacks: messages still non-terminal after ``repair_age`` are fetched from Twilio.

Twilio retries a failed callback once and then drops it, so a receiver outage (or a lost packet) leaves
messages stuck at `sent` forever. Each pass fetches those messages (``GET /2010-04-01/Accounts/{AC}/Messages/
{SM}.json``, with the subaccount's own credentials, at most ``repair_concurrency`` per account and
``repair_rate`` per second overall) and commits what Twilio says as a `repair` event. A message checked
and still non-terminal is checked again only after another ``repair_age``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import defaultdict
from dataclasses import dataclass

import aiohttp

from .committer import Committer
from .directory import Directory
from .metrics import ReceiverMetrics
from .parse import Malformed, error_code
from .statuses import rank
from .store.base import Store, StoreUnavailable
from .store.model import Event, Message

log = logging.getLogger(__name__)
TWILIO_API = "https://api.twilio.com"


class RateLimit:
    """At most ``rate`` acquisitions per second, spaced evenly."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        async with self._lock:
            now = time.monotonic()
            wait = self._next - now
            self._next = max(now, self._next) + self.interval
        if wait > 0:
            await asyncio.sleep(wait)


@dataclass
class RepairSettings:
    age: float
    interval: float
    batch: int
    concurrency: int
    rate: float
    timeout: float
    api_base_url: str | None


class Repairer:
    def __init__(
        self,
        store: Store,
        committer: Committer,
        directory: Directory,
        metrics: ReceiverMetrics,
        settings: RepairSettings,
    ) -> None:
        self.store = store
        self.committer = committer
        self.directory = directory
        self.metrics = metrics
        self.settings = settings
        self.base = (settings.api_base_url or TWILIO_API).rstrip("/")
        self._limit = RateLimit(settings.rate)
        self._session: aiohttp.ClientSession | None = None

    async def run(self) -> None:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.settings.timeout))
        try:
            while True:
                try:
                    await self.repair_once()
                except StoreUnavailable as error:
                    log.warning("repair pass skipped: %s", error)
                await asyncio.sleep(self.settings.interval)
        finally:
            await self._session.close()

    async def repair_once(self) -> int:
        """One pass; returns how many messages it fetched."""
        older_than = time.time() - self.settings.age
        self.metrics.repair_pending.set(await self.store.count_pending(older_than))
        due = await self.store.pending_repairs(older_than, self.settings.batch)
        if not due:
            return 0
        by_account: defaultdict[str, list[Message]] = defaultdict(list)
        for message in due:
            by_account[message.account_sid].append(message)
        await asyncio.gather(*(self._account(sid, messages) for sid, messages in by_account.items()))
        await self.store.mark_checked([m.sid for m in due], time.time())
        self.metrics.repair_pending.set(await self.store.count_pending(time.time() - self.settings.age))
        return len(due)

    async def _account(self, account_sid: str, messages: list[Message]) -> None:
        subaccount = self.directory.subaccount(account_sid)
        token = self.directory.token(account_sid)
        if token is None:
            self.metrics.repairs.labels(subaccount, "no_credentials").inc(len(messages))
            log.warning("cannot repair %d messages of %s: no credentials Secret", len(messages), account_sid)
            return
        gate = asyncio.Semaphore(self.settings.concurrency)

        async def one(message: Message) -> None:
            async with gate:
                result = await self._repair(message, token)
                self.metrics.repairs.labels(subaccount, result).inc()

        await asyncio.gather(*(one(m) for m in messages))

    async def _repair(self, message: Message, token: str) -> str:
        assert self._session is not None
        await self._limit.acquire()
        url = f"{self.base}/2010-04-01/Accounts/{message.account_sid}/Messages/{message.sid}.json"
        try:
            async with self._session.get(url, auth=aiohttp.BasicAuth(message.account_sid, token)) as response:
                text = await response.text()
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as error:
            log.warning("repair fetch of %s failed: %s", message.sid, type(error).__name__)
            return "error"
        if status == 404:
            return "not_found"
        if status != 200:
            log.warning("repair fetch of %s: Twilio answered %d", message.sid, status)
            return "error"
        try:
            body = json.loads(text)
            event = repair_event(message, body)
        except (ValueError, Malformed) as error:
            log.warning("repair fetch of %s: unexpected answer (%s)", message.sid, error)
            return "error"
        if rank(event.status or "") <= message.status_rank:
            return "unchanged"
        try:
            await self.committer.submit([event])
        except StoreUnavailable:
            return "error"
        log.info("repaired %s: %s -> %s", message.sid, message.status, event.status)
        return "updated"


def repair_event(message: Message, body: object) -> Event:
    if not isinstance(body, dict) or not isinstance(body.get("status"), str):
        raise Malformed("no status in the message resource")
    status = body["status"].lower()
    code = error_code(body.get("error_code"))
    service = body.get("messaging_service_sid")
    return Event(
        dedupe_key=f"repair:{message.sid}:{status}:{code or ''}",
        source="repair",
        account_sid=message.account_sid,
        message_sid=message.sid,
        status=status,
        error_code=code,
        received_at=time.time(),
        payload=json.dumps(
            {k: body.get(k) for k in ("status", "error_code", "date_sent", "date_updated")},
            separators=(",", ":"),
        ),
        service_sid=service if isinstance(service, str) and service.startswith("MG") else None,
    )
