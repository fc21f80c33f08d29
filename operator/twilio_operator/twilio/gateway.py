"""The one way the operator talks to Twilio: the official SDK's async client, paced, timed out, classified.

The SDK's own retries stay off (they would re-POST creates); this module retries what is safe to retry:
rate-limited calls always (Twilio never processed them), other transient failures only for idempotent calls.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from twilio.http.response import Response
from twilio.rest import Client

from .. import metrics
from ..settings import Settings
from .errors import AuthError, RateLimited, Transient, TwilioError, classify, retry_after
from .http import BaseUrlAsyncHttpClient
from .pacing import Pacer

T = TypeVar("T")
log = logging.getLogger(__name__)


class PacedHttpClient(BaseUrlAsyncHttpClient):
    """Raises RateLimited with Twilio's Retry-After, which the SDK's exceptions would otherwise drop."""

    async def request(self, *args: Any, **kwargs: Any) -> Response:
        response: Response = await super().request(*args, **kwargs)
        if response.status_code == 429:
            raise RateLimited(
                "rate limited by Twilio (20429)",
                status=429,
                code=20429,
                retry_after=retry_after(response.headers),
            )
        return response


class TwilioGateway:
    """Clients per credential over one shared HTTP session, and the call wrapper every external client uses.

    Must be constructed inside the running event loop (aiohttp's session requires it).
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.http = PacedHttpClient(settings.api_base_url, timeout=settings.request_timeout)
        self.pacer = Pacer(settings.account_concurrency, settings.rate_limit)
        # Subaccount auth tokens, fetched with the parent credentials; kept in memory only.
        self._tokens: dict[str, str] = {}
        # One fetch per account at a time: a restart wakes every key and service of a subaccount at once.
        self._fetching: dict[str, asyncio.Future[str]] = {}
        self._clients: dict[tuple[str, str], Client] = {}
        self.calls = 0

    async def close(self) -> None:
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
        attempt = 0
        while True:
            try:
                async with self.pacer.admit(account_sid):
                    self.calls += 1
                    result = await asyncio.wait_for(factory(), timeout=settings.request_timeout)
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


def backoff(attempt: int, base: float, cap: float) -> float:
    """Full-jitter exponential backoff: spreads retries so a burst of 429s doesn't return as a burst."""
    return float(random.uniform(0, min(cap, base * 2**attempt)))


__all__ = ["TwilioError", "TwilioGateway", "backoff"]
