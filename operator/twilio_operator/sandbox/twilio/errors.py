"""Twilio's legacy error body and the errors the emulator raises.

Every endpoint the operator uses answers errors as ``{code, message, more_info, status}``; the SDK turns a
non-2xx answer into ``TwilioRestException`` (fetch/create/update/delete) or ``TwilioException`` (list pages),
reading ``code`` and ``message`` from this body.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

MORE_INFO = "https://www.twilio.com/docs/errors/{code}"


def error_body(status: int, code: int, message: str, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "code": code,
        "message": message,
        "more_info": MORE_INFO.format(code=code),
        "status": status,
    }
    body.update(extra)
    return body


class TwilioError(Exception):
    """An error answer. Raised anywhere in request handling and turned into Twilio's JSON body."""

    def __init__(
        self,
        status: int,
        code: int,
        message: str,
        *,
        headers: Mapping[str, str] | None = None,
        detail: str | None = None,
    ) -> None:
        super().__init__(f"{status}/{code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})
        self.detail = detail

    def body(self) -> dict[str, Any]:
        extra = {"detail": self.detail} if self.detail is not None else {}
        return error_body(self.status, self.code, self.message, **extra)


def authenticate(detail: str = "Your AccountSid or AuthToken was incorrect.") -> TwilioError:
    """20003: bad credentials, and also a credential whose type or scope does not allow the call."""
    return TwilioError(
        401, 20003, "Authenticate", headers={"WWW-Authenticate": 'Basic realm="Twilio API"'}, detail=detail
    )


def account_not_active(sid: str) -> TwilioError:
    return TwilioError(401, 20005, f"Account {sid} is not active", detail="Account not active")


def forbidden(message: str) -> TwilioError:
    return TwilioError(403, 20403, message)


def not_found(path: str) -> TwilioError:
    return TwilioError(404, 20404, f"The requested resource {path} was not found")


def method_not_allowed(method: str, path: str) -> TwilioError:
    return TwilioError(405, 20004, f"Method {method} not allowed on {path}")


def invalid_parameter(message: str, code: int = 20001) -> TwilioError:
    return TwilioError(400, code, message)


def missing_parameter(name: str, where: str = "post body") -> TwilioError:
    return TwilioError(400, 20001, f"Missing required parameter {name} in the {where}")


def too_many_requests(retry_after: float | None = None) -> TwilioError:
    headers = {"Retry-After": _seconds(retry_after)} if retry_after is not None else None
    return TwilioError(429, 20429, "Too Many Requests", headers=headers)


# Status codes a fault may inject, with the Twilio code and message real Twilio pairs them with.
INJECTABLE = {
    429: (20429, "Too Many Requests"),
    500: (20500, "Internal Server Error"),
    502: (20502, "Bad Gateway"),
    503: (20503, "Service Unavailable"),
    504: (20504, "Gateway Timeout"),
}


def injected(status: int, retry_after: float | None) -> TwilioError:
    code, message = INJECTABLE[status]
    headers = {"Retry-After": _seconds(retry_after)} if retry_after is not None else None
    return TwilioError(status, code, message, headers=headers)


def _seconds(value: float) -> str:
    # Retry-After carries whole seconds (RFC 9110); round up so a client never retries early.
    whole = int(value)
    return str(whole if whole == value else whole + 1)
