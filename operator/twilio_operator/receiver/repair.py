"""Repair of lost callbacks: messages still non-terminal after ``repair_age`` are fetched from Twilio, and
after an outage the messages sent meanwhile are listed.

Twilio retries a failed callback once and then drops it, so a receiver outage (or a lost packet) leaves
messages stuck at `sent` forever. Each pass fetches those messages (``GET /2010-04-01/Accounts/{AC}/Messages/
{SM}.json``, with the subaccount's own credentials, at most ``repair_concurrency`` per account and
``repair_rate`` per second overall) and commits what Twilio says as a `repair` event. A message checked
and still non-terminal is checked again only after another ``repair_age``.

A message all of whose callbacks were lost (the receiver was down, or its database, for the whole life of
the message) is unknown to the store, so no fetch can find it. After an outage, the catch-up lists each
account's messages newest first (``GET .../Messages.json``) back to the outage's start, and commits those the
store lacks or has behind. Outages are the time since the last stored event when the receiver starts, and
any stretch in which commits failed.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp

from .committer import Committer
from .directory import Directory
from .metrics import ReceiverMetrics
from .parse import MESSAGE_SID, Malformed, error_code
from .statuses import UNKNOWN_RANK, rank
from .store.base import Store, StoreUnavailable
from .store.model import Event, Message

log = logging.getLogger(__name__)
TWILIO_API = "https://api.twilio.com"


# Listing goes back this much further than the outage itself: clocks differ, and the last stored event
# can predate the moment the receiver actually went down.
CATCH_UP_MARGIN = 60.0
CATCH_UP_PAGE = 200


class Outages:
    """When the receiver could not store callbacks: the earliest moment not yet caught up."""

    def __init__(self) -> None:
        self._since: float | None = None

    def note(self, at: float) -> None:
        self._since = at if self._since is None else min(self._since, at)

    def take(self) -> float | None:
        since, self._since = self._since, None
        return since


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
        outages: Outages | None = None,
    ) -> None:
        self.outages = outages or Outages()
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
                since = self.outages.take()
                try:
                    if since is not None:
                        await self.catch_up(since)
                    await self.repair_once()
                except StoreUnavailable as error:
                    if since is not None:
                        self.outages.note(since)  # the database is down again: catch up once it is back
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

    async def catch_up(self, since: float) -> int:
        """List every account's messages created since ``since`` and commit what the store lacks; return how
        many messages that moved."""
        cutoff = since - CATCH_UP_MARGIN
        log.info("catching up on messages since %s", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(cutoff)))
        moved = 0
        for account_sid in self.directory.accounts():
            token = self.directory.token(account_sid)
            if token is None:
                continue
            listed = await self._list_since(account_sid, token, cutoff)
            if listed is None:
                self.outages.note(since)  # Twilio did not answer in full: try again next pass
                continue
            events, known = await commit_forward(self.store, self.committer, account_sid, listed, "repair")
            subaccount = self.directory.subaccount(account_sid)
            for event in events:
                result = "discovered" if event.message_sid not in known else "updated"
                self.metrics.repairs.labels(subaccount, result).inc()
            moved += len(events)
        log.info("catch-up done: %d messages stored or moved forward", moved)
        return moved

    async def _list_since(self, account_sid: str, token: str, cutoff: float) -> list[dict[str, Any]] | None:
        """The account's messages created after ``cutoff`` (listed newest first), or None on an error."""
        assert self._session is not None
        found: list[dict[str, Any]] = []
        path: str | None = f"/2010-04-01/Accounts/{account_sid}/Messages.json?PageSize={CATCH_UP_PAGE}"
        while path is not None:
            await self._limit.acquire()
            try:
                async with self._session.get(
                    self.base + path, auth=aiohttp.BasicAuth(account_sid, token)
                ) as response:
                    if response.status != 200:
                        log.warning("catch-up list of %s: Twilio answered %d", account_sid, response.status)
                        return None
                    page = await response.json(content_type=None)
            except (aiohttp.ClientError, TimeoutError, ValueError) as error:
                log.warning("catch-up list of %s failed: %s", account_sid, type(error).__name__)
                return None
            messages = page.get("messages") if isinstance(page, dict) else None
            if not isinstance(messages, list):
                return None
            path = page.get("next_page_uri") or None
            for body in messages:
                created = _created(body)
                if created is not None and created < cutoff:
                    return found
                if isinstance(body, dict) and isinstance(body.get("sid"), str):
                    found.append(body)
        return found

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
            event = repair_event(message.sid, message.account_sid, body)
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


async def commit_forward(
    store: Store, committer: Committer, account_sid: str, listed: Sequence[object], source: str
) -> tuple[list[Event], dict[str, int]]:
    """Commit what Twilio's records of messages (a list's entries, an archive's lines) say about those the
    store lacks or has behind, as ``source`` events; return those events, and how far the messages had
    progressed in the store before."""
    sids = [body["sid"] for body in listed if isinstance(body, dict) and isinstance(body.get("sid"), str)]
    known = await store.ranks(sids)
    events = []
    for body in listed:
        sid = body.get("sid") if isinstance(body, dict) else None
        try:
            event = repair_event(str(sid), account_sid, body, source)
        except Malformed:
            continue
        if rank(event.status or "") > known.get(event.message_sid or "", UNKNOWN_RANK - 1):
            events.append(event)
    for start in range(0, len(events), CATCH_UP_PAGE):
        await committer.submit(events[start : start + CATCH_UP_PAGE])
    return events, known


def repair_event(sid: str, account_sid: str, body: object, source: str = "repair") -> Event:
    """A `repair` (or other ``source``) event from Twilio's message resource: a fetch, an entry of a list,
    a line of a day's archive."""
    if not MESSAGE_SID.match(sid):
        raise Malformed("the message resource has no SID")
    if not isinstance(body, dict) or not isinstance(body.get("status"), str):
        raise Malformed("no status in the message resource")
    status = body["status"].lower()
    code = error_code(body.get("error_code"))
    service = body.get("messaging_service_sid")
    sender, to = body.get("from"), body.get("to")
    return Event(
        dedupe_key=f"{source}:{sid}:{status}:{code or ''}",
        source=source,
        account_sid=account_sid,
        message_sid=sid,
        status=status,
        error_code=code,
        received_at=time.time(),
        payload=json.dumps(
            {k: body.get(k) for k in ("status", "error_code", "date_created", "date_sent", "date_updated")},
            separators=(",", ":"),
        ),
        service_sid=service if isinstance(service, str) and service.startswith("MG") else None,
        from_number=sender if isinstance(sender, str) and sender else None,
        to_number=to if isinstance(to, str) and to else None,
    )


def _created(body: object) -> float | None:
    if not isinstance(body, dict) or not isinstance(body.get("date_created"), str):
        return None
    try:
        return email.utils.parsedate_to_datetime(body["date_created"]).timestamp()
    except (TypeError, ValueError):
        return None
