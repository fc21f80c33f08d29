"""Checks on what Twilio answered, before any of it is acted on.

A proxy, an outage or an API change can hand back an object without its SID, without a field, or with a status
we don't know. Acting on such an answer would record a bogus SID or "correct" Twilio to match a misreading, so
the answer is refused as `UnexpectedResponse` and the pass retries later with the object left as it is.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from .errors import UnexpectedResponse

_SID = re.compile(r"^[A-Z]{2}[0-9a-fA-F]{32}$")


def is_sid(value: object, prefix: str) -> bool:
    return isinstance(value, str) and value.startswith(prefix) and bool(_SID.match(value))


def sid(obj: Any, prefix: str, what: str) -> str:
    value = getattr(obj, "sid", None)
    if not is_sid(value, prefix):
        raise UnexpectedResponse(f"Twilio answered with a {what} without a valid {prefix} SID")
    return str(value)


def required(obj: Any, what: str, names: Iterable[str]) -> None:
    missing = [name for name in names if getattr(obj, name, None) is None]
    if missing:
        raise UnexpectedResponse(
            f"Twilio answered with a {what} missing {', '.join(missing)}; left unchanged until it answers "
            "in full"
        )


def one_of(obj: Any, what: str, name: str, allowed: Iterable[str]) -> str:
    value = getattr(obj, name, None)
    known = tuple(allowed)
    if value not in known:
        raise UnexpectedResponse(
            f"Twilio answered with a {what} whose {name} is {str(value)[:40]!r}, not one of "
            f"{', '.join(known)}; left unchanged until it answers with a known value"
        )
    return str(value)
