"""The one way the operator talks to Twilio: the official SDK's async client, paced, timed out, classified.

The SDK's own retries stay off (they would re-POST creates); this module retries what is safe to retry:
rate-limited calls always (Twilio never processed them), other transient failures only for idempotent calls.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from twilio.http.response import Response
from twilio.rest import Client

from .. import metrics
from ..clock import backoff
from ..settings import Settings
from .errors import (
    AuthError,
    CredentialsRejected,
    RateLimited,
    Transient,
    TwilioError,
    classify,
    retry_after,
)
from .http import BaseUrlAsyncHttpClient
from .pacing import Pacer

T = TypeVar("T")
log = logging.getLogger(__name__)


class PacedHttpClient(BaseUrlAsyncHttpClient):
    """Raises RateLimited with Twilio's Retry-After, which the SDK's exceptions would otherwise drop, and
    CredentialsRejected when what Twilio refused were the operator's own credentials (only here is it known
    which credentials a request carried)."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings.api_base_url, timeout=settings.request_timeout)
        self.settings = settings
        self._told = -math.inf
        # The parent credentials Twilio last refused, until it accepts the parent's again.
        self.rejected: tuple[str, str] | None = None

    async def request(self, *args: Any, **kwargs: Any) -> Response:
        response: Response = await super().request(*args, **kwargs)
        if response.status_code == 429:
            raise RateLimited(
                "rate limited by Twilio (20429)",
                status=429,
                code=20429,
                retry_after=retry_after(response.headers),
            )
        auth: tuple[str, str] | None = kwargs.get("auth")
        parent = auth is not None and auth[0] == self.settings.credentials()[0]
        if parent and response.status_code == 401:
            self.rejected = self.settings.credentials()
            metrics.CREDENTIALS_REJECTED.set(1)
            raise self._rejected()
        if parent and response.status_code < 400:
            self.rejected = None
            metrics.CREDENTIALS_REJECTED.set(0)
        return response

    def _rejected(self) -> CredentialsRejected:
        sid = self.settings.credentials()[0]
        message = (
            f"Twilio refused the operator's own credentials (account {sid}): set TWILIO_ACCOUNT_SID and "
            "TWILIO_AUTH_TOKEN (in a cluster: the credentials Secret) to the parent account's; objects "
            "retry, and at once when the credentials change"
        )
        # Once a minute at most: every object would say it otherwise, and it says the same thing.
        if time.monotonic() - self._told >= 60:
            self._told = time.monotonic()
            log.error("%s", message)
        return CredentialsRejected(message, status=401, code=20003)


@dataclass(frozen=True)
class Listing:
    """One list call's objects by SID, with the account's write epoch it was taken in."""

    epoch: int
    taken: float
    items: dict[str, Any]


def _is_read(operation: str) -> bool:
    return operation.startswith(("Fetch", "List"))


class TwilioGateway:
    """Clients per credential over one shared HTTP session, and the call wrapper every external client uses.

    Must be constructed inside the running event loop (aiohttp's session requires it).
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.http = PacedHttpClient(settings)
        self.pacer = Pacer(settings.account_concurrency, settings.rate_limit)
        # Subaccount auth tokens, fetched with the parent credentials; kept in memory only.
        self._tokens: dict[str, str] = {}
        # One fetch per account at a time: a restart wakes every key and service of a subaccount at once.
        self._fetching: dict[str, asyncio.Future[str]] = {}
        # Recent list calls, so the drift passes of one account's objects share one read; a write in the
        # account (counted before and after it) makes every listing taken before it unusable.
        self._listings: dict[tuple[str, str], Listing] = {}
        self._listing: dict[tuple[str, str], asyncio.Future[Listing]] = {}
        self._epochs: dict[str, int] = {}
        self._clients: dict[tuple[str, str], Client] = {}

    async def close(self) -> None:
        # Shared fetches outlive the passes that started them: stop them before their session goes.
        pending: list[asyncio.Future[Any]] = [*self._fetching.values(), *self._listing.values()]
        for future in pending:
            future.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        await self.http.close()

    @property
    def parent_sid(self) -> str:
        return self.settings.credentials()[0]

    def _client(self, username: str, password: str, account_sid: str | None = None) -> Client:
        key = (username, account_sid or username)
        client = self._clients.get(key)
        if client is None or client.password != password:
            client = Client(username, password, account_sid=account_sid, http_client=self.http)
            self._clients[key] = client
        return client

    def parent(self) -> Client:
        """A client with the parent credentials (2010 API: may act on subaccounts by path)."""
        sid, token = self.settings.credentials()
        return self._client(sid, token)

    def remember_token(self, account_sid: str, auth_token: str) -> None:
        self._tokens[account_sid] = auth_token

    def forget_token(self, account_sid: str) -> None:
        self._tokens.pop(account_sid, None)

    async def account_client(self, account_sid: str) -> Client:
        """A client authenticated AS the account: v1 APIs (messaging, iam) act as whoever authenticated."""
        parent_sid, parent_token = self.settings.credentials()
        if account_sid == parent_sid:
            return self._client(parent_sid, parent_token)
        token = self._tokens.get(account_sid)
        if token is None:
            fetch = self._fetching.get(account_sid)
            if fetch is None:
                fetch = asyncio.ensure_future(self._fetch_token(account_sid))
                self._fetching[account_sid] = fetch
                fetch.add_done_callback(lambda done: self._fetched(account_sid, done))
            # Shielded: one waiter giving up must not cancel the fetch the others wait for.
            token = await asyncio.shield(fetch)
        return self._client(account_sid, token)

    async def _fetch_token(self, account_sid: str) -> str:
        account = await self.call(
            self.parent_sid,
            "FetchAccount",
            lambda: self.parent().api.v2010.accounts(account_sid).fetch_async(),
        )
        token = str(account.auth_token or "")
        if not token:
            raise AuthError(f"Twilio returned no auth token for {account_sid}")
        self._tokens[account_sid] = token
        return token

    def _fetched(self, account_sid: str, done: asyncio.Future[str]) -> None:
        self._fetching.pop(account_sid, None)
        if not done.cancelled():
            done.exception()  # retrieved here too, in case every waiter gave up first

    async def listed(
        self, account_sid: str, operation: str, fetch: Callable[[], Awaitable[Iterable[Any]]]
    ) -> dict[str, Any]:
        """The objects of one list operation in an account by SID, listed after the last write there and
        at most `read_cache_seconds` ago; callers fall back to a fetch for a SID that is not in it."""
        key = (account_sid, operation)
        listing = self._listings.get(key)
        if listing is not None and self._fresh(account_sid, listing):
            return listing.items
        pending = self._listing.get(key)
        if pending is None:
            pending = asyncio.ensure_future(self._list(account_sid, operation, fetch))
            self._listing[key] = pending
            pending.add_done_callback(lambda done: self._listed(key, done))
        listing = await asyncio.shield(pending)
        return listing.items

    def _fresh(self, account_sid: str, listing: Listing) -> bool:
        return (
            listing.epoch == self._epochs.get(account_sid, 0)
            and time.monotonic() - listing.taken < self.settings.read_cache_window()
        )

    async def _list(
        self, account_sid: str, operation: str, fetch: Callable[[], Awaitable[Iterable[Any]]]
    ) -> Listing:
        epoch, taken = self._epochs.get(account_sid, 0), time.monotonic()
        items = await self.call(account_sid, operation, fetch)
        listing = Listing(epoch, taken, {str(getattr(i, "sid", None)): i for i in items})
        self._listings[(account_sid, operation)] = listing
        return listing

    def _listed(self, key: tuple[str, str], done: asyncio.Future[Listing]) -> None:
        self._listing.pop(key, None)
        if not done.cancelled():
            done.exception()

    def _wrote(self, account_sid: str) -> None:
        self._epochs[account_sid] = self._epochs.get(account_sid, 0) + 1

    def wrote(self, account_sid: str) -> None:
        """A write made through another account changed this one (a number exchanged into it)."""
        self._wrote(account_sid)

    async def call(
        self,
        account_sid: str,
        operation: str,
        factory: Callable[[], Awaitable[T]],
        *,
        idempotent: bool = True,
    ) -> T:
        """Run one Twilio call under pacing and a timeout, retrying what is safe to retry."""
        settings = self.settings
        write = not _is_read(operation)
        attempt = 0
        while True:
            try:
                async with self.pacer.admit(account_sid):
                    if write:
                        self._wrote(account_sid)
                    try:
                        result = await asyncio.wait_for(factory(), timeout=settings.request_timeout)
                    finally:
                        if write:
                            self._wrote(account_sid)
            except Exception as raw:  # every failure is classified; unknown ones are re-raised by classify
                try:
                    error = classify(raw)
                except Exception:
                    metrics.twilio_request(operation, metrics.status_class(None))
                    raise
                metrics.twilio_request(
                    operation, metrics.status_class(error.status, timed_out=isinstance(raw, TimeoutError))
                )
            else:
                metrics.twilio_request(operation, "2xx")
                return result
            if isinstance(error, AuthError):
                self.forget_token(account_sid)
            retryable = isinstance(error, RateLimited) or (isinstance(error, Transient) and idempotent)
            if not retryable or attempt >= settings.max_retries:
                log.debug("twilio %s on %s failed: %s", operation, account_sid, error.message)
                raise error
            delay = backoff(attempt, settings.backoff_base, settings.backoff_max)
            if isinstance(error, RateLimited) and error.retry_after:
                delay = max(delay, error.retry_after)
            log.debug("twilio %s on %s: %s; retry in %.2fs", operation, account_sid, error.message, delay)
            metrics.twilio_retry(operation)
            attempt += 1
            await asyncio.sleep(delay)


__all__ = ["TwilioError", "TwilioGateway"]
