"""Classification of what Twilio (or the network on the way) answered.

The SDK raises `TwilioRestException` for fetch/create/update/delete, but a plain `TwilioException` carrying
the raw response for list pages; both are handled here, so callers only see the classes below.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException

# Twilio error codes that mean "the request is wrong or not allowed", never fixed by retrying.
CLOSED_ACCOUNT_CODES = frozenset({21479, 20005, 10001, 20403})
SENDER_IN_USE_CODES = frozenset({21712})


class TwilioError(Exception):
    """Base of every classified error. The message never contains credentials."""

    def __init__(self, message: str, *, status: int | None = None, code: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code

    @property
    def message(self) -> str:
        return str(self.args[0])


class NotFound(TwilioError):
    """404 / 20404: the object does not exist (or not yet, shortly after a create)."""


class RateLimited(TwilioError):
    """429 / 20429: never processed by Twilio, always safe to retry."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after


class Transient(TwilioError):
    """5xx, timeouts and connection failures: retry later; a create may or may not have happened."""


class UnexpectedResponse(Transient):
    """An answer without what every answer of its kind carries (a SID, a required field, a known status)."""


class AuthError(TwilioError):
    """401/403: the credentials were refused. Retried slowly, since a rotated token may fix it."""


class CredentialsRejected(AuthError):
    """Twilio refused the operator's own (parent) credentials: nothing can be done until they are fixed."""


class Terminal(TwilioError):
    """A 4xx Twilio will answer the same way every time: report it, don't retry hot."""


def retry_after(headers: Any) -> float | None:
    if not headers:
        return None
    value = headers.get("Retry-After") or headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _from_status(status: int, code: int | None, message: str, headers: Any = None) -> TwilioError:
    if status == 404 or code == 20404:
        return NotFound(message, status=status, code=code)
    if status == 429 or code == 20429:
        return RateLimited(message, status=status, code=code, retry_after=retry_after(headers))
    if status >= 500:
        return Transient(message, status=status, code=code)
    if status in (401, 403) and code not in CLOSED_ACCOUNT_CODES:
        return AuthError(message, status=status, code=code)
    return Terminal(message, status=status, code=code)


def _parse_body(text: str) -> tuple[int | None, str]:
    try:
        body = json.loads(text)
    except ValueError:
        # Proxies and outages answer with HTML; keep the message short and useful.
        return None, f"unexpected non-JSON response ({text[:80].strip()!r})"
    if not isinstance(body, dict):
        return None, "unexpected response shape"
    code = body.get("code")
    return (code if isinstance(code, int) else None), str(body.get("message") or body.get("title") or "")


def classify(error: BaseException) -> TwilioError:
    """Map any exception raised by a Twilio call onto the classes above."""
    if isinstance(error, TwilioError):
        return error
    if isinstance(error, TwilioRestException):
        headers = getattr(error, "details", None)
        return _from_status(int(error.status), error.code, str(error.msg), headers)
    if isinstance(error, TwilioServiceException):
        # RFC 9457 problem details, which newer Twilio APIs answer with.
        return _from_status(int(error.status), error.code, str(error.detail or error.title or ""))
    if isinstance(error, TwilioException):
        response = error.args[1] if len(error.args) > 1 else None
        status = getattr(response, "status_code", None)
        if isinstance(status, int):
            code, message = _parse_body(str(getattr(response, "text", "")))
            return _from_status(
                status, code, message or str(error.args[0]), getattr(response, "headers", None)
            )
        return Transient(f"twilio client error: {error.args[0] if error.args else error!r}")
    if isinstance(error, asyncio.TimeoutError | TimeoutError):
        return Transient("request to Twilio timed out")
    if isinstance(error, aiohttp.ClientError | OSError):
        return Transient(f"cannot reach Twilio: {type(error).__name__}")
    if isinstance(error, ValueError | KeyError | TypeError):
        # The SDK raises these on bodies it cannot parse (truncated JSON, missing fields).
        return Transient(f"unexpected response from Twilio: {type(error).__name__}")
    raise error
