"""twilio SDK HTTP clients that send every request to one base URL, keeping the Twilio host in ``Host``.

Used when ``TWILIO_API_BASE_URL`` is set (a Twilio emulator, a recording proxy). The SDK builds URLs for
api.twilio.com, messaging.twilio.com, iam.twilio.com and follows absolute v1 next-page URLs verbatim, so
rewriting at the HTTP client is the one place that catches them all; the original host goes in the ``Host``
header so a single endpoint can tell the products apart. Neither client retries: the SDK's retries re-POST
creates. The async client passes a real timeout, which the SDK's own client drops (twilio-python#925).
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import aiohttp
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.http_client import TwilioHttpClient
from twilio.http.request import Request as TwilioRequest
from twilio.http.response import Response


def rewrite_url(url: str, base_url: str) -> tuple[str, str]:
    """Point ``url`` at ``base_url`` (scheme, host, port, path prefix); also return the original host.

    >>> rewrite_url("https://messaging.twilio.com/v1/Services?PageSize=50", "http://127.0.0.1:8080")
    ('http://127.0.0.1:8080/v1/Services?PageSize=50', 'messaging.twilio.com')
    """
    original = urlsplit(url)
    base = urlsplit(base_url)
    path = base.path.rstrip("/") + original.path
    return urlunsplit((base.scheme, base.netloc, path, original.query, original.fragment)), original.netloc


def _with_host(headers: dict[str, str] | None, host: str) -> dict[str, str]:
    merged = {k: v for k, v in (headers or {}).items() if k.lower() != "host"}
    merged["Host"] = host
    return merged


class BaseUrlAsyncHttpClient(AsyncTwilioHttpClient):  # type: ignore[misc]
    """Async client for the SDK (``Client(..., http_client=...)``); construct it inside a running loop.

    Without a base URL it talks to Twilio itself, still with a real timeout.
    """

    def __init__(self, base_url: str | None, timeout: float = 10.0) -> None:
        super().__init__(timeout=timeout)
        self.base_url = base_url
        self.timeout: float = timeout

    async def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - the SDK's signature; enforced below
        allow_redirects: bool = False,
    ) -> Response:
        target, host = rewrite_url(url, self.base_url) if self.base_url else (url, urlsplit(url).netloc)
        seconds = self.timeout if timeout is None else timeout
        if seconds <= 0:
            raise ValueError(timeout)
        kwargs = {
            "method": method.upper(),
            "url": target,
            "params": params,
            "data": data,
            "headers": _with_host(headers, host),
            "auth": aiohttp.BasicAuth(auth[0], auth[1]) if auth is not None else None,
            "timeout": aiohttp.ClientTimeout(total=seconds),
            "allow_redirects": allow_redirects,
        }
        self.log_request(kwargs)
        self._test_only_last_response = None
        self._test_only_last_request = TwilioRequest(**{**kwargs, "timeout": seconds})
        async with self.session.request(**kwargs) as answer:
            text = await answer.text()
        self.log_response(answer.status, answer)
        self._test_only_last_response = Response(answer.status, text, answer.headers)
        return self._test_only_last_response


class BaseUrlHttpClient(TwilioHttpClient):  # type: ignore[misc]
    """Sync twin of ``BaseUrlAsyncHttpClient``."""

    def __init__(self, base_url: str, timeout: float = 10.0) -> None:
        super().__init__(timeout=timeout)
        self.base_url = base_url

    def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        target, host = rewrite_url(url, self.base_url)
        response: Response = super().request(
            method,
            target,
            params=params,
            data=data,
            headers=_with_host(headers, host),
            auth=auth,
            timeout=timeout,
            allow_redirects=allow_redirects,
        )
        return response
