"""Message status callbacks as Twilio sends them: a signed form POST to the service's ``status_callback``.

Twilio signs with the Auth Token of the account that owns the message, i.e. the subaccount's
(twilio-api.md §5): ``base64(HMAC-SHA1(auth_token, url + name1 + value1 + name2 + value2 …))`` with the
parameters sorted by name, sent as ``X-Twilio-Signature``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping

import aiohttp

CALLBACK_TIMEOUT = 10.0


def signature(auth_token: str, url: str, params: Mapping[str, str]) -> str:
    payload = url + "".join(f"{name}{params[name]}" for name in sorted(params))
    digest = hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


async def post_callback(url: str, auth_token: str, params: Mapping[str, str], idempotency_token: str) -> int:
    """POST the callback; return the receiver's HTTP status."""
    headers = {
        "X-Twilio-Signature": signature(auth_token, url, params),
        "I-Twilio-Idempotency-Token": idempotency_token,
        "User-Agent": "TwilioProxy/1.1",
    }
    timeout = aiohttp.ClientTimeout(total=CALLBACK_TIMEOUT)
    async with (
        aiohttp.ClientSession(timeout=timeout) as session,
        session.post(url, data=dict(params), headers=headers) as response,
    ):
        await response.read()
        return response.status
