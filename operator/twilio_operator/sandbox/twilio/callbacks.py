"""Status callbacks as Twilio posts them, with what goes wrong on the way, and the sandbox's Ingress.

Each status after the first is posted, signed with the owning account's token over the URL Twilio calls,
to the message's StatusCallback (or its service's). Like Twilio, a failed attempt (no connection, no 2xx)
is retried once, then given up. Seeded faults, per callback: ``drop_rate`` loses it (neither attempt
arrives), ``duplicate_rate`` posts it twice, ``reorder_rate`` holds it back so it arrives after the next
one. The sandbox has no Ingress controller, so it plays one: ``routes`` maps a public host to a local
address; the callback goes there with ``X-Forwarded-Proto``/``X-Forwarded-Host`` set, signed over the public
URL. A URL whose host is neither routed nor on loopback is never contacted (counted as ``no_route``).
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import random
import urllib.parse
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from .messages import CALLBACK_STATUSES, SentMessage
from .webhooks import CALLBACK_TIMEOUT, signature, with_body_hash

log = logging.getLogger(__name__)
EVENT_ATTEMPTS = 4


@dataclass
class CallbackSettings:
    drop_rate: float = 0.0
    duplicate_rate: float = 0.0
    reorder_rate: float = 0.0
    retry_delay: float = 1.0  # seconds before the one retry (scaled with the messages' time_scale)


@dataclass
class Callbacks:
    seed: int
    settings: CallbackSettings = field(default_factory=CallbackSettings)
    routes: dict[str, str] = field(default_factory=dict)  # public host -> http://127.0.0.1:PORT
    time_scale: float = 1.0

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed ^ 0x5EED)
        self._tasks: set[asyncio.Task[None]] = set()
        self._session: aiohttp.ClientSession | None = None
        self.in_flight = 0

    # -- where a URL really goes ---------------------------------------------------------------------

    def target(self, url: str) -> tuple[str, dict[str, str]] | None:
        """The address to connect to for ``url`` and the headers an Ingress controller would add."""
        parts = urllib.parse.urlsplit(url)
        host = (parts.hostname or "").lower()
        routed = self.routes.get(host)
        if routed is not None:
            path = urllib.parse.urlunsplit(("", "", parts.path or "/", parts.query, ""))
            headers = {"X-Forwarded-Proto": parts.scheme, "X-Forwarded-Host": parts.netloc}
            return routed.rstrip("/") + path, headers
        if _loopback(host):
            return urllib.parse.urlunsplit(parts._replace(fragment="")), {}
        return None

    # -- scheduling ---------------------------------------------------------------------------------

    def schedule(self, message: SentMessage, url: str | None, token: str) -> None:
        """Plan every callback of ``message`` (none when it has no StatusCallback)."""
        if not url:
            return
        steps = [step for step in message.steps[1:] if step.status in CALLBACK_STATUSES]
        for index, step in enumerate(steps):
            delay = step.at
            record: dict[str, Any] = {"status": step.status, "attempts": [], "fault": None}
            message.callbacks.append(record)
            roll = self._rng.random()
            s = self.settings
            if roll < s.drop_rate:
                record["fault"] = "dropped"
                continue
            copies = 1
            if roll < s.drop_rate + s.duplicate_rate:
                record["fault"] = "duplicated"
                copies = 2
            elif roll < s.drop_rate + s.duplicate_rate + s.reorder_rate and index + 1 < len(steps):
                record["fault"] = "reordered"
                delay = steps[index + 1].at + self._rng.uniform(0.2, 1.0) * self.time_scale
            params = _params(message, step.status, step.error_code)
            for copy in range(copies):
                self._spawn(self._deliver(url, token, params, record, delay + copy * 0.05 * self.time_scale))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def send(self, url: str, token: str, params: Mapping[str, str], record: dict[str, Any]) -> None:
        """Post one signed callback now (retried once like the others); its attempts go into ``record``."""
        record.setdefault("attempts", [])
        self._spawn(self._deliver(url, token, params, record, 0.0))

    def send_events(self, url: str, token: str, events: Any, record: dict[str, Any], delay: float) -> None:
        """Deliver Event Streams events (a JSON array, or one object) to a webhook sink after ``delay``.
        A JSON body is signed over the URL with its SHA-256 in the ``bodySHA256`` query parameter. Event
        Streams keeps an undelivered event for hours: here it is tried ``EVENT_ATTEMPTS`` times."""
        body = json.dumps(events, separators=(",", ":")).encode()
        signed_url = with_body_hash(url, body)
        record.setdefault("attempts", [])

        async def attempt() -> int | str:
            return await self._post(signed_url, signature(token, signed_url, {}), record["id"], body=body)

        self._spawn(self._retried(attempt, record, delay, EVENT_ATTEMPTS))

    async def _deliver(
        self, url: str, token: str, params: Mapping[str, str], record: dict[str, Any], delay: float
    ) -> None:
        await self._retried(lambda: self.post(url, token, params), record, delay, 2)

    async def _retried(
        self,
        attempt: Callable[[], Awaitable[int | str]],
        record: dict[str, Any],
        delay: float,
        attempts: int,
    ) -> None:
        await asyncio.sleep(delay)
        self.in_flight += 1
        try:
            for number in range(attempts):
                result = await attempt()
                record["attempts"].append(result)
                if isinstance(result, int) and 200 <= result < 300:
                    return
                if number + 1 < attempts:
                    await asyncio.sleep(self.settings.retry_delay * (number + 1) * self.time_scale)
        finally:
            self.in_flight -= 1

    async def post(self, url: str, token: str, params: Mapping[str, str]) -> int | str:
        """POST one signed callback; the receiver's HTTP status, or why there was none."""
        idempotency = (
            params.get("IdempotencyToken") or f"{params.get('MessageSid')}-{params.get('MessageStatus')}"
        )
        return await self._post(url, signature(token, url, params), idempotency, form=dict(params))

    async def _post(
        self,
        url: str,
        signed: str,
        idempotency: str,
        *,
        form: dict[str, str] | None = None,
        body: bytes | None = None,
    ) -> int | str:
        target = self.target(url)
        if target is None:
            return "no_route"
        address, forwarded = target
        headers = {
            "X-Twilio-Signature": signed,
            "I-Twilio-Idempotency-Token": idempotency,
            "User-Agent": "TwilioProxy/1.1",
            **forwarded,
        }
        if body is not None:
            headers["Content-Type"] = "application/json"
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=CALLBACK_TIMEOUT))
        try:
            async with self._session.post(
                address, data=form if body is None else body, headers=headers
            ) as response:
                await response.read()
                return response.status
        except (aiohttp.ClientError, TimeoutError) as error:
            return type(error).__name__

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()

    @property
    def pending(self) -> int:
        return len(self._tasks)


def _params(message: SentMessage, status: str, error_code: int | None) -> dict[str, str]:
    params = {
        "AccountSid": message.account_sid,
        "MessageSid": message.sid,
        "SmsSid": message.sid,
        "MessageStatus": status,
        "SmsStatus": status,
        "To": message.to,
        "From": message.sender or "",
        "ApiVersion": "2010-04-01",
    }
    if message.service_sid:
        params["MessagingServiceSid"] = message.service_sid
    if error_code is not None:
        params["ErrorCode"] = str(error_code)
    if status in ("delivered", "undelivered"):
        # Twilio adds the carrier's delivery-receipt time (YYMMDDhhmm) to most final callbacks.
        params["RawDlrDoneDate"] = "2601311200"
    return params


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
